import { mkdirSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { CORRUPTIONS, type Corruption, ListenGenerator } from '../../generate/listenGenerator.js';
import { isoDay, parseDay } from '../../ops/dates.js';
import {
  dayOption,
  nonNegativeIntOption,
  positiveIntOption,
  rateOption,
  requireOption,
} from '../optionParsers.js';

interface GenerateCliOptions {
  out?: string;
  start: number;
  days: number;
  rows: number;
  users?: number;
  songs: number;
  corruptRate: number;
  crlfRate: number;
  corruptKinds?: Corruption[];
  seed: number;
  json?: boolean;
  quiet?: boolean;
}

export interface GenerateSummary {
  dir: string;
  files: string[];
  days: number;
  rowsPerDay: number;
  users: number;
  songs: number;
  seed: number;
  elapsedMs: number;
  rowsPerSecond: number;
}

/** Generate `days` daily logs into `dir`; the same options always give the same bytes. */
export function generateLogs(options: {
  dir: string;
  start: number;
  days: number;
  rows: number;
  users?: number;
  songs?: number;
  corruptRate?: number;
  crlfRate?: number;
  corruptKinds?: readonly Corruption[];
  seed?: number;
  onFile?: (path: string) => void;
}): GenerateSummary {
  const started = Date.now();
  mkdirSync(options.dir, { recursive: true });
  const generator = new ListenGenerator(options);
  const files: string[] = [];
  for (let i = 0; i < options.days; i++) {
    const path = generator.writeDay(options.dir, options.start + i);
    files.push(path);
    options.onFile?.(path);
  }
  const elapsedMs = Date.now() - started;
  return {
    dir: options.dir,
    files,
    days: options.days,
    rowsPerDay: options.rows,
    users: generator.users,
    songs: generator.songs,
    seed: options.seed ?? 1,
    elapsedMs,
    rowsPerSecond: Math.round((options.days * options.rows) / Math.max(0.001, elapsedMs / 1000)),
  };
}

export function generateCommand(): Command {
  return new Command('generate')
    .description(
      'write deterministic synthetic listen logs (listen-YYYYMMDD.log) for demos, tests and benchmarks',
    )
    .option('--out <dir>', 'folder for the logs, created if missing (required)')
    .addOption(
      new Option('--start <date>', 'first day, YYYYMMDD or YYYY-MM-DD')
        .argParser(dayOption)
        .default(parseDay('2024-01-01'), '2024-01-01'),
    )
    .option('--days <n>', 'number of daily files', positiveIntOption, 7)
    .option('--rows <n>', 'rows per day, corrupt rows included', nonNegativeIntOption, 1_000_000)
    .option('--users <n>', 'distinct users (default: rows / 10, at least 1,000)', positiveIntOption)
    .option('--songs <n>', 'songs in the catalogue (ids spread over 1..2^27)', positiveIntOption, 80_000_000)
    .option('--corrupt-rate <rate>', 'fraction of corrupt rows, 0..1', rateOption, 0.001)
    .option('--crlf-rate <rate>', 'fraction of valid rows ending in \\r\\n, 0..1', rateOption, 0.01)
    .option(
      '--corrupt-kinds <list>',
      `comma-separated kinds of corrupt rows (default: all): ${CORRUPTIONS.join(', ')}`,
      corruptKindsOption,
    )
    .option('--seed <n>', 'random seed', nonNegativeIntOption, 1)
    .option('--json', 'print a machine-readable summary on stdout')
    .option('-q, --quiet', 'print nothing on stderr')
    .addHelpText(
      'after',
      `
Rows look like 24822533|1230438706|BR: Zipf-like song popularity over a sparse catalogue,
heavy-tailed user activity, a home country per user (all 249 codes, skewed towards big
markets) and per-user favourite songs. Corrupt rows include empty lines, missing or extra
fields, non-numeric, negative or huge ids, lowercase, unknown or wrong-length countries,
stray spaces and tabs, non-ASCII bytes, very long lines and doubled \\r.

Example:
  playtally generate --out sample/logs --days 7 --rows 20000000`,
    )
    .action((options: GenerateCliOptions) => {
      const out = requireOption(options.out, '--out <dir>');
      const summary = generateLogs({
        dir: out,
        start: options.start,
        days: options.days,
        rows: options.rows,
        users: options.users,
        songs: options.songs,
        corruptRate: options.corruptRate,
        crlfRate: options.crlfRate,
        corruptKinds: options.corruptKinds,
        seed: options.seed,
        onFile: (path) => {
          if (!options.quiet) process.stderr.write(`  wrote ${path}\n`);
        },
      });
      if (!options.quiet) {
        process.stderr.write(
          `playtally: generated ${summary.days} day(s) from ${isoDay(options.start)}, ` +
            `${summary.rowsPerDay.toLocaleString('en-US')} rows each, in ${(summary.elapsedMs / 1000).toFixed(1)} s ` +
            `(${(summary.rowsPerSecond / 1e6).toFixed(1)}M rows/s)\n`,
        );
      }
      if (options.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
    });
}

function corruptKindsOption(value: string): Corruption[] {
  const kinds = value.split(',').map((k) => k.trim());
  for (const kind of kinds) {
    if (!(CORRUPTIONS as readonly string[]).includes(kind)) {
      throw new InvalidArgumentError(`"${kind}" is not a corruption kind (${CORRUPTIONS.join(', ')})`);
    }
  }
  return kinds as Corruption[];
}
