import { defaultUsers } from '../src/generate/listenGenerator.js';
import { UsageError } from './benchSupport.js';

/**
 * The data sets of scaling.ts, named by what they hold so that a name is also how to ask for one:
 * `charts-DxN` (D days of N listen rows, users the generator's default N/10),
 * `charts-DxN-Uusers`, `kpis-N` (one day of N stream rows) and `kpis-DxN`. N and U take k and M
 * (20k, 5M). Pure: what to generate and how much disk it takes; scaling.ts does the rest.
 */
export type ScalingCase =
  | { kind: 'charts'; name: string; days: number; rows: number; users?: number }
  | { kind: 'kpis'; name: string; days: number; streams: number };

/**
 * Issue 19's cases: charts 5M, 20M and 50M rows a day over 7 days, 30 days of 5M, 10M users and
 * 2,000 heavy ones (10,000 listens a day each); KPIs 1M, 10M, 30M.
 */
export const DEFAULT_CASES = [
  'charts-7x5M',
  'charts-7x20M',
  'charts-7x50M',
  'charts-30x5M',
  'charts-7x20M-10Musers',
  'charts-7x20M-2kusers',
  'kpis-1M',
  'kpis-10M',
  'kpis-30M',
] as const;

/**
 * Bytes on disk a row, measured on generated data and rounded up: a listen log (a 20M-row day is
 * about 0.5 GB), its share of the partials kept in the state folder, the spill of the day being
 * built, a streams file, and its share of the KPI state and outputs.
 */
const LOG_BYTES_PER_ROW = 25;
const PARTIAL_BYTES_PER_ROW = 10;
const SPILL_BYTES_PER_ROW = 20;
const STREAM_BYTES_PER_ROW = 55;
const KPI_STATE_BYTES_PER_ROW = 30;
/** The songs and users catalogues of a KPI landing folder. */
const KPI_CATALOGUE_BYTES = 20e6;
/**
 * The user chart: a `song:plays,` entry (a generated song id of up to 9 digits) and a user's
 * `id|...\n`, rounded up (7 x 20M rows, 2M users: 100M entries, 988 MB).
 */
const CHART_BYTES_PER_ENTRY = 11;
const CHART_BYTES_PER_USER = 10;

const COUNT = String.raw`(\d+(?:\.\d+)?[kM]?)`;
const CHARTS = new RegExp(String.raw`^charts-(\d+)x${COUNT}(?:-${COUNT}users)?$`);
const KPIS = new RegExp(String.raw`^kpis-(?:(\d+)x)?${COUNT}$`);

/** 20000, 20k, 5M, 1.5M as a whole number. */
function count(text: string): number {
  const scale = text.endsWith('M') ? 1e6 : text.endsWith('k') ? 1e3 : 1;
  return Math.round(Number.parseFloat(text) * scale);
}

/** The case a name stands for; a UsageError naming the forms when it is none. */
export function parseCase(name: string): ScalingCase {
  const charts = CHARTS.exec(name);
  if (charts) {
    const users = charts[3] === undefined ? undefined : count(charts[3]);
    const c = { kind: 'charts' as const, name, days: Number(charts[1]), rows: count(charts[2]!) };
    return checked(users === undefined ? c : { ...c, users });
  }
  const kpis = KPIS.exec(name);
  if (kpis) return checked({ kind: 'kpis', name, days: Number(kpis[1] ?? 1), streams: count(kpis[2]!) });
  throw new UsageError(
    `unknown case '${name}': the cases are ${DEFAULT_CASES.join(', ')}, or sizes of your own as ` +
      'charts-DAYSxROWS[-USERSusers] or kpis-[DAYSx]ROWS (e.g. charts-2x20k, kpis-20k)',
  );
}

function checked(c: ScalingCase): ScalingCase {
  const sizes = c.kind === 'charts' ? [c.days, c.rows, c.users ?? 1] : [c.days, c.streams];
  if (!sizes.every((n) => Number.isInteger(n) && n > 0))
    throw new UsageError(`case '${c.name}': sizes must be at least 1`);
  return c;
}

/** The cases of a --cases list (comma-separated names), issue 19's when it is empty. */
export function parseCases(list: string | undefined): ScalingCase[] {
  const names = (list ?? '').split(',').filter((n) => n !== '');
  return (names.length > 0 ? names : [...DEFAULT_CASES]).map(parseCase);
}

/** Disk a case takes: `input` its generated data (kept), `work` its state and outputs while it runs. */
export function diskNeed(c: ScalingCase): { input: number; work: number } {
  if (c.kind === 'charts')
    return {
      input: c.days * c.rows * LOG_BYTES_PER_ROW,
      // The partials, a day's spill, and the user chart twice: the daily run writes the chart
      // date of the cold run again, through a temporary file beside the one it replaces (the
      // 7 x 50M case ran out of space there when the estimate left the charts out).
      work: c.days * c.rows * PARTIAL_BYTES_PER_ROW + c.rows * SPILL_BYTES_PER_ROW + 2 * userChartBytes(c),
    };
  const rows = c.days * c.streams;
  return { input: rows * STREAM_BYTES_PER_ROW + KPI_CATALOGUE_BYTES, work: rows * KPI_STATE_BYTES_PER_ROW };
}

/** A case's user chart: at most 50 entries a user, at most one a row of the window. */
function userChartBytes(c: { days: number; rows: number; users?: number }): number {
  const users = c.users ?? defaultUsers(c.rows);
  return Math.min(50 * users, c.days * c.rows) * CHART_BYTES_PER_ENTRY + users * CHART_BYTES_PER_USER;
}

/**
 * Disk the whole run needs: the data of every case still to generate (`reused` says which are
 * already there), plus the largest case's state (each case's is removed before the next runs).
 */
export function totalNeed(cases: ScalingCase[], reused: (c: ScalingCase) => boolean): number {
  const inputs = cases.filter((c) => !reused(c)).reduce((n, c) => n + diskNeed(c).input, 0);
  return inputs + Math.max(0, ...cases.map((c) => diskNeed(c).work));
}
