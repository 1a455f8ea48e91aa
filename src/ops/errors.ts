/**
 * Every failure the user can act on is a PlaytallyError with a stable code. The CLI maps codes to
 * exit codes in one place (ops/exitCodes.ts: failureOf, which the run history uses too); anything
 * else is an internal error.
 */
export type ErrorCode =
  | 'usage'
  | 'bad_date'
  | 'logs_not_found'
  | 'no_logs'
  | 'no_logs_in_window'
  | 'missing_days'
  | 'unreadable_log'
  | 'read_failed'
  | 'no_valid_rows'
  | 'no_songs'
  | 'output_not_writable'
  | 'state_not_writable'
  | 'corrupt_state'
  | 'locked'
  | 'bad_result_file'
  | 'store_not_found'
  | 'store_unusable'
  | 'cannot_listen'
  | 'clickhouse_unavailable'
  | 'clickhouse_schema'
  | 'sink_unavailable'
  | 'source_unavailable'
  | 'write_failed';

export class PlaytallyError extends Error {
  override readonly name = 'PlaytallyError';

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** `cause`: the error met (a system error, say), kept for the debug log's stack. */
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
