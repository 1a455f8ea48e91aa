/** How numbers, durations, dates and countries are written on the dashboard. */
import { thousands } from '../ops/counts.js';

/** `1 chart date`, `7 chart dates`: the CLI's words (src/ops/counts.ts). */
export { plural } from '../ops/counts.js';

const oneDecimal = new Intl.NumberFormat('en-US', { maximumFractionDigits: 1 });

/** `2733` -> `2,733`. */
export function count(n: number): string {
  return thousands(n);
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '0%';
  const p = (100 * part) / whole;
  return `${p < 10 ? p.toFixed(2) : p.toFixed(1)}%`;
}

/** Milliseconds of listening as hours (the KPI unit people read). */
export function hours(ms: number): number {
  return ms / 3_600_000;
}

export function hoursText(ms: number): string {
  return `${oneDecimal.format(hours(ms))} h`;
}

/** A run's wall time: `850 ms`, `12.4 s`, `3 min 5 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))} ms`;
  if (ms < 60_000) return `${oneDecimal.format(ms / 1000)} s`;
  const minutes = Math.floor(ms / 60_000);
  return `${minutes} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/** `YYYY-MM-DD` plus `days` (negative: before). */
export function addDays(date: string, days: number): string {
  const t = Date.parse(`${date}T00:00:00Z`) + days * 86_400_000;
  return new Date(t).toISOString().slice(0, 10);
}

/** A UTC day (and hour, for KPIs by hour) as a Date, for time scales. */
export function dayTime(date: string, hour: number | null = null): Date {
  return new Date(`${date}T${String(hour ?? 0).padStart(2, '0')}:00:00Z`);
}

/** `2024-03-06` -> `Wed 6 Mar 2024` (the day named for people; the ISO form stays the value). */
export function longDate(date: string): string {
  return dayTime(date).toLocaleDateString('en-GB', {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

/** An ISO timestamp in the reader's time zone, to the second. */
export function localTime(iso: string): string {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return iso;
  return t.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

let regionNames: Intl.DisplayNames | undefined;
try {
  regionNames = new Intl.DisplayNames(['en'], { type: 'region' });
} catch {
  regionNames = undefined;
}

/** `FR` -> `France` (the code itself when the browser has no name for it). */
export function countryName(code: string): string {
  try {
    return regionNames?.of(code) ?? code;
  } catch {
    return code;
  }
}
