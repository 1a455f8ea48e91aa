import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChartRecord, DayRecord, StateStore } from '../formats/manifest.js';
import { compactDay, isoDay, parseDay } from '../ops/dates.js';

/**
 * Which chart dates hold which log days, read from the manifest: whether a date's charts are
 * current (so a run writes only what changed), whether every chart needing a day has it (so its
 * log may be archived and its data pruned), and which days are missing.
 */

/** What a chart is written with: a chart written with other settings is not current. */
export interface ChartSettings {
  window: number;
  top: number;
  outDir: string;
}

/** Were the charts of `date` written, are their files there, and from exactly these inputs? */
export function chartIsCurrent(
  state: StateStore,
  settings: ChartSettings,
  date: number,
  inputs: number[],
  available: Map<number, { key: string; day: DayRecord }>,
): boolean {
  const chart = state.chart(compactDay(date));
  if (!chart || chart.window !== settings.window || chart.top !== settings.top) return false;
  if (chart.outDir !== settings.outDir || !filesExist(chart)) return false;
  for (const d of inputs) {
    const { key, day } = available.get(d)!;
    if (chart.inputs[key] !== day.hash) return false;
  }
  // A day the charts were computed from and that has been quarantined since.
  const quarantined = state.quarantined();
  return Object.keys(chart.inputs).every((key) => quarantined[key] === undefined);
}

/** Is every chart that needs this day written, from this very log? */
export function everyChartHas(state: StateStore, window: number, key: string, day: DayRecord): boolean {
  const dayNumber = parseDay(key)!;
  for (let date = dayNumber; date < dayNumber + window; date++) {
    const chart = state.chart(compactDay(date));
    if (!chart || chart.inputs[key] !== day.hash || !filesExist(chart)) return false;
  }
  return true;
}

/** Days between the first and the newest known day that have no usable log. */
export function missingDays(state: StateStore): string[] {
  const days = Object.keys(state.days())
    .map((k) => parseDay(k)!)
    .sort((a, b) => a - b);
  const have = new Set(days);
  const missing: string[] = [];
  for (let d = days[0] ?? 0; d < (days[days.length - 1] ?? 0); d++) if (!have.has(d)) missing.push(isoDay(d));
  return missing;
}

function filesExist(chart: ChartRecord): boolean {
  return Object.values(chart.files).every((name) => existsSync(join(chart.outDir, name)));
}
