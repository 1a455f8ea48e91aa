import { existsSync, readFileSync, renameSync } from 'node:fs';
import { writeFileAtomic } from '../ops/atomicFile.js';
import { PlaytallyError } from '../ops/errors.js';
import { ioFault, readFailure } from '../ops/ioErrors.js';

/**
 * A JSON file of derived state (a manifest, a record of what was loaded somewhere), with the one
 * lifecycle every such file has here: read and checked when opened; a file that is not JSON or not
 * of its shape is set aside as `<name>.damaged-<ms>` and the state starts empty (everything in it
 * can be rebuilt from the inputs), saying so in `recovered`; rewritten atomically on each change,
 * so a killed run loses at most the step it was in. Used by the chart manifest (manifest.ts), the
 * KPI manifest (kpiManifest.ts), the ClickHouse KPI record and the DynamoDB sink's record.
 */
export class StateFile<T> {
  value: T;
  /** Set when the file was unreadable and was set aside: what happened, for a warning. */
  readonly recovered: string | undefined;
  private readonly serialize: (value: T) => string;

  constructor(
    readonly path: string,
    shape: {
      /** What the file is, in messages ("state manifest"). */
      what: string;
      empty: () => T;
      /** The parsed JSON as T, or an Error saying what is wrong with it. */
      check: (parsed: unknown) => T | Error;
      /** How the file is written (default: JSON with one-space indent). */
      serialize?: (value: T) => string;
    },
  ) {
    this.serialize = shape.serialize ?? ((value) => JSON.stringify(value, null, 1));
    const read = readStateFile(path, shape);
    this.value = read.value;
    if (read.problem === undefined) {
      this.recovered = undefined;
      return;
    }
    const aside = `${path}.damaged-${Date.now()}`;
    try {
      renameSync(path, aside);
    } catch (renameError) {
      throw new PlaytallyError(
        'corrupt_state',
        `${shape.what} ${path} is unreadable and cannot be moved aside ` +
          `(${(renameError as Error).message}); remove it to rebuild the state`,
      );
    }
    this.recovered = `${shape.what} was unreadable (${read.problem}); moved to ${aside}, rebuilding`;
  }

  save(): void {
    writeFileAtomic(this.path, this.serialize(this.value));
  }
}

/** Read a state file without taking it over (`status`): its value, or the problem that makes it unusable. */
export function readStateFile<T>(
  path: string,
  shape: { empty: () => T; check: (parsed: unknown) => T | Error },
): { value: T; problem?: string } {
  if (!existsSync(path)) return { value: shape.empty() };
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    // Not damage but the machine (no permission, a device error): setting the file aside would
    // throw away state that is fine. The state folder's problem, exit 4.
    const kind = ioFault(error)?.kind;
    if (kind === 'permission' || kind === 'device') {
      const failure = readFailure(error, path, 'corrupt_state') as Error;
      throw new PlaytallyError(
        'corrupt_state',
        `${failure.message}; the state folder must be readable and writable by this user`,
        { path },
        { cause: error },
      );
    }
    text = ''; // a folder in its place, say: damage, set aside like any other
  }
  let checked: T | Error;
  try {
    checked = shape.check(JSON.parse(text));
  } catch (error) {
    checked = error as Error;
  }
  if (checked instanceof Error) return { value: shape.empty(), problem: checked.message };
  return { value: checked };
}

/** A plain JSON object (not null, not an array): the shape check every state file starts with. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

type FieldKind = 'string' | 'number' | 'boolean' | 'object' | 'array';

/**
 * Each entry of `table` (an object of records) as a record with `fields` of their kinds, or an
 * Error naming the first entry and field that is not: a state file whose records would throw a
 * TypeError later is damaged now.
 */
export function checkRecords(
  table: unknown,
  what: string,
  fields: Record<string, FieldKind>,
): Error | undefined {
  if (!isRecord(table)) return new Error(`${what} is not an object`);
  for (const [key, record] of Object.entries(table)) {
    const problem = checkRecord(record, `${what} ${key}`, fields);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/** `record` as a record with `fields` of their kinds ('object' takes an array too), or an Error naming what is not. */
export function checkRecord(
  record: unknown,
  what: string,
  fields: Record<string, FieldKind>,
): Error | undefined {
  if (!isRecord(record)) return new Error(`${what} is not an object`);
  for (const [field, kind] of Object.entries(fields)) {
    const value = record[field];
    const ok =
      kind === 'object'
        ? isRecord(value) || Array.isArray(value)
        : kind === 'array'
          ? Array.isArray(value)
          : typeof value === kind;
    if (!ok)
      return new Error(
        `${what}: ${field} is not a${kind === 'object' || kind === 'array' ? 'n' : ''} ${kind}`,
      );
  }
  return undefined;
}
