import { type ErrorCode, PlaytallyError } from './errors.js';
import { ioFailure } from './ioErrors.js';

/**
 * Exit codes: the one mapping, and the one table of what they mean. Scripts can tell a mistake in
 * the command (2) from a problem with what it reads (3), from a place it cannot use (4: a folder
 * it cannot write, a store it cannot open, a port it cannot listen on, a service that does not
 * answer), and from another run holding the state folder (5). `playtally --help` prints the short
 * form (`exitCodesHelp`), docs/CLI.md the table (`EXIT_CODES`, by cliReference.ts), so neither can
 * drift from the codes below.
 */
export const EXIT = {
  ok: 0,
  failed: 1,
  usage: 2,
  input: 3,
  output: 4,
  locked: 5,
  /** A second SIGINT or SIGTERM: stopped at once (src/unattended/stopSignals.ts). */
  interrupted: 130,
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
  bad_result_file: EXIT.input,
  store_not_found: EXIT.input,
  source_unavailable: EXIT.input,
  output_not_writable: EXIT.output,
  state_not_writable: EXIT.output,
  corrupt_state: EXIT.output,
  write_failed: EXIT.output,
  store_unusable: EXIT.output,
  cannot_listen: EXIT.output,
  clickhouse_unavailable: EXIT.output,
  clickhouse_schema: EXIT.output,
  sink_unavailable: EXIT.output,
  locked: EXIT.locked,
};

export function exitCodeFor(code: ErrorCode): number {
  return BY_CODE[code];
}

/** A failure as the process reports it and the run history keeps it. */
export interface Failure {
  /** The PlaytallyError code, or `internal` for anything else (a bug). */
  code: ErrorCode | 'internal';
  message: string;
  exitCode: number;
  /** The PlaytallyError the failure is (an unnamed I/O fault named), or what was thrown (a bug). */
  error: unknown;
}

/**
 * The one classification of a failure, shared by the CLI's error boundary (its exit code and
 * sentence) and the run history (the code, message and exit code a failed run is recorded with),
 * so that a run's record says what its process exited with: a PlaytallyError by its code; an I/O
 * fault of the machine that reached here unnamed (a worker thread's write, say) named by
 * ioFailure; anything else is an internal error, exit 1.
 */
export function failureOf(caught: unknown): Failure {
  const error = caught instanceof PlaytallyError ? caught : (ioFailure(caught) ?? caught);
  if (error instanceof PlaytallyError)
    return { code: error.code, message: error.message, exitCode: exitCodeFor(error.code), error };
  const message = error instanceof Error ? error.message : String(error);
  return { code: 'internal', message, exitCode: EXIT.failed, error };
}

/**
 * The error codes (a failed run's `error.code`, the `failed` log line's `code`) that exit with
 * `exit`: playtally's own, and `internal` for a bug.
 */
export function errorCodesOf(exit: number): string[] {
  if (exit === EXIT.failed) return ['internal'];
  return (Object.keys(BY_CODE) as ErrorCode[]).filter((code) => BY_CODE[code] === exit);
}

/** One exit code: a few words for --help, and what it covers for the table in docs/CLI.md. */
export interface ExitCodeDoc {
  code: number;
  short: string;
  meaning: string;
}

export const EXIT_CODES: readonly ExitCodeDoc[] = [
  {
    code: EXIT.ok,
    short: 'ok',
    meaning:
      'done; missing days without `--strict`, quarantined logs and files moved to `error/` are warnings, not failures',
  },
  {
    code: EXIT.failed,
    short: 'failed (a bug)',
    meaning:
      'an unexpected error: a bug, printed as `playtally: internal error` with its stack; please report it',
  },
  {
    code: EXIT.usage,
    short: 'usage error',
    meaning:
      'the command line is wrong, found before any work: an unknown command or option, a missing required option, ' +
      'a bad date, size, duration or number, options that conflict, an S3 `--out`; the message ends with ' +
      '`(run with --help for usage)`',
  },
  {
    code: EXIT.input,
    short: 'input problem',
    meaning:
      'what the command reads is missing or bad: the logs or landing folder missing, no logs, no log or no ' +
      'valid row in the window, missing days with `--strict`, a damaged or unreadable log (`top50`; `run` and ' +
      '`watch` quarantine it), no songs (`kpis`), a malformed chart or KPI file (`load`), no results store at ' +
      '`--db` (`serve`), a day the DynamoDB table does not hold (`kpis query`), an S3 location it cannot list',
  },
  {
    code: EXIT.output,
    short: 'a place it cannot use (a folder, the store, a port, a service)',
    meaning:
      'somewhere the command must write or work cannot be used: the output or state folder not writable, a ' +
      "write failed for the machine's reason (no space, quota, read-only: nothing is left half-written), a " +
      'state file it cannot read, a results store it cannot open or from a newer playtally, an address or port ' +
      '`serve` cannot listen on (a port in use), a ClickHouse shard or DynamoDB table that does not answer or ' +
      'refuses',
  },
  {
    code: EXIT.locked,
    short: 'state folder locked by another run',
    meaning:
      'the state folder is in use by another playtally process (`top50`, `run`, `backfill`, `watch`, `kpis`); ' +
      '`--wait` waits for it instead',
  },
  {
    code: EXIT.interrupted,
    short: 'stopped at once by a second signal',
    meaning:
      '`run`, `backfill`, `watch`: a first SIGINT or SIGTERM stops after the current step (exit 0); a second ' +
      'one stops at once, and the next run removes what it left',
  },
];

/**
 * The exit codes in a sentence, wrapped at `width` columns, for --help: `Exit codes: 0 ok, 1 failed
 * (a bug), ...`, and where the table is.
 */
export function exitCodesHelp(width = 92): string {
  const words =
    `Exit codes: ${EXIT_CODES.map((e) => `${e.code} ${e.short}`).join(', ')}. The table: docs/CLI.md#exit-codes.`.split(
      ' ',
    );
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  lines.push(line);
  return lines.join('\n');
}
