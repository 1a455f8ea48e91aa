import { join } from 'node:path';
import { isRecord, StateFile } from './stateFile.js';

/**
 * `clickhouse-kpis.json` in the KPI state folder: what the ClickHouse cluster holds, as this state
 * folder loaded it (checked against row counts before use). A record of another cluster or
 * database knows nothing about this one: it reads as empty.
 */
export interface ClickHouseKpiRecord {
  /** `url,url/database`: the cluster the rows were loaded into. */
  target: string;
  catalog?: { key: string; songs: number; users: number };
  /** YYYYMMDD -> the files (name:content hash, in name order) the day's rows were loaded from. */
  days: Record<string, { inputs: string[]; rows: number }>;
}

export const CLICKHOUSE_KPI_RECORD = 'clickhouse-kpis.json';

/** Open the record of `stateDir` for `target`; an unreadable one is set aside (everything is loaded again). */
export function openClickHouseKpiRecord(stateDir: string, target: string): StateFile<ClickHouseKpiRecord> {
  return new StateFile(join(stateDir, CLICKHOUSE_KPI_RECORD), {
    what: 'ClickHouse KPI record',
    empty: () => ({ target, days: {} }),
    check: (parsed) => {
      if (!isRecord(parsed) || !isRecord(parsed.days)) return new Error('no days in it');
      if (parsed.target !== target) return { target, days: {} };
      return parsed as unknown as ClickHouseKpiRecord;
    },
    serialize: (value) => `${JSON.stringify(value, null, 2)}\n`,
  });
}
