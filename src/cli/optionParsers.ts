import bytes from 'bytes';
import { InvalidArgumentError } from 'commander';
import { parseDay } from '../ops/dates.js';
import { PlaytallyError } from '../ops/errors.js';

/** Option value parsers for commander; each rejects bad input with a message naming the value. */

export function dayOption(value: string): number {
  const day = parseDay(value);
  if (day === undefined)
    throw new InvalidArgumentError(`"${value}" is not a date (use YYYYMMDD or YYYY-MM-DD)`);
  return day;
}

export function sizeOption(value: string): number {
  const parsed = /^\d+(\.\d+)?\s*[kmgt]?i?b?$/i.test(value.trim())
    ? bytes.parse(value.replace(/ib$/i, 'b'))
    : null;
  if (parsed === null || !Number.isFinite(parsed) || parsed <= 0) {
    throw new InvalidArgumentError(`"${value}" is not a size (examples: 512MB, 1GB, 2048MB)`);
  }
  return parsed;
}

export function positiveIntOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw new InvalidArgumentError(`"${value}" is not a positive integer`);
  }
  return n;
}

export function portOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535) {
    throw new InvalidArgumentError(`"${value}" is not a port (0 to 65535)`);
  }
  return n;
}

export function nonNegativeIntOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidArgumentError(`"${value}" is not a non-negative integer`);
  }
  return n;
}

export function rateOption(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidArgumentError(`"${value}" is not a rate between 0 and 1`);
  }
  return n;
}

/** A required option's value, or a usage error naming it. */
export function requireOption(value: string | undefined, flag: string): string {
  if (value === undefined || value === '')
    throw new PlaytallyError('usage', `required option '${flag}' not specified`);
  return value;
}

/** A duration: `500ms`, `30s`, `5m`, `1h`, or a bare number of seconds. */
export function durationOption(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`"${value}" is not a duration (examples: 500ms, 30s, 5m)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}
