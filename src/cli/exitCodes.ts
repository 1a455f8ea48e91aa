import type { ErrorCode } from '../ops/errors.js';

/**
 * Exit codes, documented in the README. Scripts can tell a mistake in the command (2) from a
 * problem with the input data (3), from a place the job cannot write to (4), and from another
 * run holding the state folder (5).
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  input: 3,
  output: 4,
  locked: 5,
} as const;

const BY_CODE: Record<ErrorCode, number> = {
  usage: EXIT.usage,
  bad_date: EXIT.usage,
  logs_not_found: EXIT.input,
  no_logs: EXIT.input,
  no_logs_in_window: EXIT.input,
  missing_days: EXIT.input,
  unreadable_log: EXIT.input,
  read_failed: EXIT.input,
  no_valid_rows: EXIT.input,
  no_songs: EXIT.input,
  output_not_writable: EXIT.output,
  state_not_writable: EXIT.output,
  corrupt_state: EXIT.output,
  locked: EXIT.locked,
  bad_result_file: EXIT.input,
  store_unusable: EXIT.output,
  clickhouse_unavailable: EXIT.output,
  clickhouse_schema: EXIT.output,
  sink_unavailable: EXIT.output,
  source_unavailable: EXIT.input,
  write_failed: EXIT.output,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}
