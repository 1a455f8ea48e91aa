import { isRecord, StateFile } from './stateFile.js';

/**
 * `dynamodb-<table>.json` (KPI days) and `dynamodb-<table>-charts.json` (chart dates) in the state
 * folder: for each date written to the table, the signature (ops/fileIo.ts fileSignature) of the
 * files it was written from, so that a sync writes only what changed. An unreadable record is set
 * aside and every date written again (a write replaces the date's items).
 */
export function openSinkRecord(path: string): StateFile<Record<string, string>> {
  return new StateFile<Record<string, string>>(path, {
    what: 'DynamoDB sink record',
    empty: () => ({}),
    check: (parsed) =>
      isRecord(parsed) && Object.values(parsed).every((v) => typeof v === 'string')
        ? (parsed as Record<string, string>)
        : new Error('not a record of dates and signatures'),
    serialize: (value) => `${JSON.stringify(value, null, 2)}\n`,
  });
}
