import { planChartWindow, type Top50Options, type Top50Summary } from '../engine/top50Job.js';
import { ClickHouseChartSession, type ClickHouseOptions } from './clickhouseSession.js';

/**
 * The top-50 job on a ClickHouse cluster: the window's log days not yet on the cluster (or changed
 * since) are loaded, then the charts are computed there and written (ClickHouseChartSession).
 */
export async function runTop50ClickHouse(
  options: Top50Options & { clickhouse: ClickHouseOptions },
): Promise<Top50Summary> {
  const started = Date.now();
  const { day, logs } = await planChartWindow(options);
  const session = await ClickHouseChartSession.open(options);
  try {
    return await session.writeCharts(day, logs, started, { requireValidRows: true });
  } finally {
    await session.close();
  }
}
