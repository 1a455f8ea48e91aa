import type { RunRecord } from '../formats/runHistory.js';
import { type Db, writeTransaction } from './resultsDb.js';

/** Store runs (as appended to `<state>/runs.jsonl`); a run already stored is replaced by id. */
export function loadRuns(db: Db, runs: RunRecord[]): number {
  const upsert = db.prepare(
    `INSERT INTO runs (id, command, started_at, finished_at, ok, rows, record) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET command = excluded.command, started_at = excluded.started_at,
       finished_at = excluded.finished_at, ok = excluded.ok, rows = excluded.rows, record = excluded.record`,
  );
  writeTransaction(db, () => {
    for (const run of runs) {
      upsert.run(
        run.id,
        run.command,
        run.startedAt,
        run.finishedAt,
        run.ok ? 1 : 0,
        run.totals.rows,
        JSON.stringify(run),
      );
    }
  });
  return runs.length;
}
