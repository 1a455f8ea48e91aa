import { join, resolve } from 'node:path';
import type { RunRecord } from '../formats/runHistory.js';
import { type KpiEvent, runKpis } from '../jobs/kpiJob.js';
import type { PlaytallyError } from '../ops/errors.js';
import { acquireLock } from '../ops/runLock.js';
import type { RunEvent, RunOptions } from './runOptions.js';

/**
 * The genre KPIs of a run (`run`/`watch --kpis-landing`): after the charts, the KPI job on the KPI
 * landing folder, into the same output folder, with its own state folder (default
 * `<out>/.playtally-kpis`, as `kpis` has) and on the same engine, then into the results store and
 * the sink. So one scheduled command keeps both up to date. The KPI state folder has its own lock:
 * when a `kpis` command holds it, this step is skipped and said so (the job is incremental: the
 * next run catches up), rather than waiting or failing the charts already written.
 */
export async function runKpiStep(
  options: RunOptions,
  outDir: string,
  record: RunRecord,
  emit: (event: RunEvent) => void,
): Promise<void> {
  const kpis = options.kpis;
  if (kpis === undefined) return;
  const stateDir = resolve(kpis.stateDir ?? join(outDir, '.playtally-kpis'));
  let lock: { release(): void };
  try {
    lock = await acquireLock(stateDir, `playtally ${options.command}`, { wait: false });
  } catch (error) {
    if ((error as PlaytallyError).code !== 'locked') throw error;
    record.kpis = { skipped: (error as Error).message };
    emit({ type: 'kpisSkipped', message: (error as Error).message });
    return;
  }
  try {
    const summary = await runKpis({
      landingDir: kpis.landingDir,
      outDir,
      stateDir,
      granularity: kpis.granularity,
      archive: kpis.archive ?? true,
      maxRejectRate: options.maxRejectRate,
      threads: options.threads,
      memoryBytes: options.memoryBytes,
      clickhouse: options.clickhouse,
      syncSink: kpis.syncSink,
      onEvent: (event: KpiEvent) => emit({ type: 'kpis', event }),
    });
    record.kpis = {
      days: summary.days.map((d) => d.date),
      daysCurrent: summary.daysCurrent,
      filesParsed: summary.filesParsed,
      archived: summary.archived.length,
      errorFiles: summary.errorFiles.map((f) => `${f.kind}/${f.file}`),
      warnings: summary.warnings.length,
    };
    emit({ type: 'kpisDone', summary });
    const store = options.store;
    if (store && summary.days.length > 0) {
      const started = Date.now();
      const loaded = store.syncKpis(outDir);
      if (loaded.length > 0)
        emit({ type: 'kpisStored', dates: loaded.map((l) => l.date), ms: Date.now() - started });
    }
  } finally {
    lock.release();
  }
}
