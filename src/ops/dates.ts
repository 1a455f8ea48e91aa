/**
 * Days are handled as whole UTC day numbers (days since 1970-01-01), which makes "D - 6" plain
 * arithmetic; they are printed as YYYYMMDD in file names and YYYY-MM-DD in reports.
 */
const DAY_MS = 86_400_000;

/** Parse `YYYYMMDD` or `YYYY-MM-DD` into a day number; undefined when it is not a real date. */
export function parseDay(text: string): number | undefined {
  const m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  if (text.includes('-') && !/^\d{4}-\d{2}-\d{2}$/.test(text.trim())) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // setUTCFullYear, not Date.UTC, which maps years 0..99 to 1900..1999.
  const back = new Date(0);
  back.setUTCFullYear(year, month - 1, day);
  const ms = back.getTime();
  if (back.getUTCFullYear() !== year || back.getUTCMonth() !== month - 1 || back.getUTCDate() !== day) {
    return undefined;
  }
  return ms / DAY_MS;
}

/** `YYYYMMDD`, as in file names. */
export function compactDay(day: number): string {
  return isoDay(day).replaceAll('-', '');
}

/** `YYYY-MM-DD`, as in reports. */
export function isoDay(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10);
}
