import { removeStaleTempFiles } from '../ops/atomicFile.js';
import { inFolder, isS3, moveFileInto, moveFileWithReason, statFile } from '../sources/locations.js';

/**
 * The landing lifecycle both jobs follow, in one place: the chart run with its logs
 * (unattended/runOnce.ts, unattended/quarantine.ts) and the KPI job with its CSV drops
 * (jobs/kpiLanding.ts). Each step is safe to be killed in: the next run finishes or adopts it.
 *
 * - take in: a landed file's identity (name, size, mtime, content hash) is recorded with what was
 *   built from it (formats/manifest.ts, formats/kpiManifest.ts);
 * - set aside: a file that cannot be used goes to a folder of its own with `<name>.reason.json`,
 *   written first, so a file there always has its reason (`setAside`);
 * - archive: a file whose every output is committed is moved out of the landing folder
 *   (`archive`); its record stays, so its outputs can be rebuilt from the archive;
 * - adopt: a move a killed run made but did not record is found and recorded (`movedBefore`);
 * - clean up: the temporary files of a reason a killed run was writing are removed
 *   (`clearInterruptedMoves`).
 * What each job sets aside, when it archives and where to are its own (a log's reject rate, a
 * CSV's missing columns; `--archive`, `archive/YYYYMMDD/`).
 */

/** Move `path` into `folder` with its reason beside it (`resume`: finish a move a killed run began). */
export function setAside(
  path: string,
  folder: string,
  reason: Record<string, unknown>,
  resume = false,
): Promise<{ movedTo: string; reasonFile: string }> {
  return moveFileWithReason(path, folder, reason, resume);
}

/** Move a file whose outputs are all committed into `folder`; returns where it went. */
export function archive(path: string, folder: string): Promise<string> {
  return moveFileInto(path, folder);
}

/**
 * Where a killed run moved `name` before recording it: its path in `folder` when a file of that
 * name (and, when given, that size) is there.
 */
export async function movedBefore(folder: string, name: string, size?: number): Promise<string | undefined> {
  const path = inFolder(folder, name);
  const stat = await statFile(path);
  if (stat === undefined || (size !== undefined && stat.size !== size)) return undefined;
  return path;
}

/** Remove the temporary files a killed run left in set-aside folders (local ones: S3 writes are whole). */
export function clearInterruptedMoves(folders: string[]): void {
  for (const folder of folders) if (!isS3(folder)) removeStaleTempFiles(folder);
}
