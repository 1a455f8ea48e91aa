import type { QuarantineRecord, StateStore } from '../formats/manifest.js';
import { setAside } from '../jobs/landing.js';
import { inFolder } from '../sources/locations.js';
import type { LogFile } from '../sources/logFiles.js';

/**
 * Move a bad log out of the way, in an order that survives a kill at any point: the manifest
 * records the quarantine first (so the day leaves the charts), then `<name>.reason.json` is
 * written beside where the log goes, then the log is moved. A run that finds a quarantined log
 * still in the logs folder finishes the move (`resume`). A quarantined file of the same name
 * from before is kept, both it and its reason renamed `.replaced-<timestamp>`.
 */
export async function quarantineLog(
  state: StateStore,
  log: LogFile,
  record: QuarantineRecord,
  quarantineDir: string,
  resume: boolean,
): Promise<QuarantineRecord> {
  const key = record.date.replaceAll('-', '');
  state.quarantine(key, record);
  const paths = {
    movedTo: inFolder(quarantineDir, log.name),
    reasonFile: inFolder(quarantineDir, `${log.name}.reason.json`),
  };
  const done: QuarantineRecord = { ...record, ...paths };
  await setAside(log.path, quarantineDir, reasonDocument(done), resume);
  state.quarantine(key, done);
  return done;
}

/** What `<name>.reason.json` holds: enough for a person to decide what to do with the file. */
function reasonDocument(record: QuarantineRecord): Record<string, unknown> {
  return {
    file: record.file,
    date: record.date,
    reason: record.reason,
    message: record.message,
    rejectRate: record.rejectRate,
    rejectedByReason: record.rejects,
    examples: record.examples,
    size: record.size,
    contentHash: record.hash || undefined,
    quarantinedAt: record.at,
    whatNext:
      'fix or replace the file and put it back into the logs folder under its name; ' +
      'the next run takes it in and rewrites the charts that need it',
  };
}
