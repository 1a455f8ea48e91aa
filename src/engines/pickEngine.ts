import type { ChartEngine, ChartEngineSetup } from './chartEngine.js';
import type { ClickHouseOptions } from './clickhouse/cluster.js';
import { EmbeddedChartEngine } from './embedded/chartEngine.js';
import { embeddedKpiEngine } from './embedded/kpiEngine.js';
import type { KpiDayEngine } from './kpiEngine.js';

/** Which engine a job runs on: a ClickHouse cluster when `clickhouse` is given, else this process. */
export interface EngineChoice {
  clickhouse?: ClickHouseOptions;
}

/*
 * The ClickHouse engines are imported when chosen: their client library is about 60 ms of every
 * command's start, which a run on this process's engine does not need.
 */

/** The one place that picks the chart engine. */
export async function openChartEngine(choice: EngineChoice, setup: ChartEngineSetup): Promise<ChartEngine> {
  if (choice.clickhouse) {
    const { ClickHouseChartEngine } = await import('./clickhouse/chartEngine.js');
    return ClickHouseChartEngine.open(choice.clickhouse, setup);
  }
  return new EmbeddedChartEngine(setup);
}

/** The one place that picks the KPI engine. */
export async function openKpiEngine(
  choice: EngineChoice,
  setup: {
    threads: number;
    memoryBytes?: number;
    heldBytes?: number;
    parallelDayRows?: number;
    maxPartRows?: number;
    stateDir: string;
  },
): Promise<KpiDayEngine> {
  if (choice.clickhouse) {
    const { clickhouseKpiEngine } = await import('./clickhouse/kpiEngine.js');
    return clickhouseKpiEngine(choice.clickhouse, setup.stateDir);
  }
  return embeddedKpiEngine(setup);
}
