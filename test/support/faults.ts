import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'vitest';
import { generateLogs } from '../../src/generate/listenGenerator.js';
import { day, listTree } from './tempDirs.js';

/**
 * The faults of test/faults/, produced for real on the files a run meets (truncation, byte flips,
 * a lock of a dead process), and the checks every fault test makes: one sentence without a stack,
 * nothing lost, nothing half-written, and the clean bytes once the fault is gone.
 */

/** An operator reads one sentence: a stack trace on stderr means a fault escaped the CLI's boundary. */
export function expectNoStack(stderr: string): void {
  expect(stderr).not.toMatch(/\n\s+at /);
}

/**
 * Temporary files left below `dirs` (missing folders skipped): atomic writes (`.<name>.tmp-<pid>`,
 * `*.tmp`), a lock set aside while taken over (`lock.stale-<pid>`), a run's scratch folder
 * (`tmp/run-*`). Any of them after a run is a half file a reader could take for a whole one.
 */
export function halfFiles(dirs: string[]): string[] {
  return dirs
    .filter((dir) => existsSync(dir))
    .flatMap((dir) =>
      listTree(dir)
        .filter((p) => /\.tmp(-\d+)?\/?$|\.stale-\d+$|(^|\/)tmp\/run-/.test(p))
        .map((p) => join(dir, p)),
    );
}

/**
 * The input files of `names` found nowhere below `dirs` (the landing folder, its archive, its
 * quarantine or error folder): a fault may move an input, never lose it. Empty when all are kept.
 */
export function lostInputs(names: string[], dirs: string[]): string[] {
  const kept = new Set(
    dirs.filter((dir) => existsSync(dir)).flatMap((dir) => listTree(dir).map((p) => basename(p))),
  );
  return names.filter((name) => !kept.has(name));
}

/** The files of `dir` (top level) named by `pattern`, each with the sha256 of its bytes. */
function digestsOf(dir: string, pattern: RegExp): Record<string, string> {
  const names = readdirSync(dir)
    .filter((name) => pattern.test(name))
    .sort();
  return Object.fromEntries(
    names.map((name) => [
      name,
      createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex'),
    ]),
  );
}

/**
 * Every chart file of `dir` with the digest of its bytes: equal maps are byte-identical charts for
 * the same dates, and a failing diff names the file (not a megabyte of text). Quality reports are
 * left out: they hold the time they were written.
 */
export function chartBytes(dir: string): Record<string, string> {
  return digestsOf(dir, /^(country|user)_top50_\d{8}\.txt$/);
}

/** Every KPI CSV of `dir` with the digest of its bytes (as chartBytes; the quality reports hold times). */
export function kpiBytes(dir: string): Record<string, string> {
  return digestsOf(dir, /^(genre_kpis|top_genres)_\d{8}\.csv$/);
}

/** A file cut off mid-write (a full disk, a kill, a copy stopped): its first half only. */
export function truncateToHalf(path: string): void {
  truncateSync(path, Math.floor(readFileSync(path).length / 2));
}

/** Bit rot or a bad copy: 8 bytes in the middle of the file inverted, its size unchanged. */
export function flipBytes(path: string): void {
  const bytes = readFileSync(path);
  const middle = bytes.length >> 1;
  for (let i = middle; i < middle + 8; i++) bytes[i]! ^= 0xff;
  writeFileSync(path, bytes);
}

/** Listen logs of `days` days from 2024-01-01 in `dir`, small enough for a few seconds a test; their names. */
export function smallLogs(dir: string, days: number): string[] {
  const options = { rows: 20_000, users: 2_000, songs: 500, seed: 5 };
  return generateLogs({ dir, start: day('2024-01-01'), days, ...options }).files.map((f) => basename(f));
}

/** Gzip every plain `.log` of `dir` in place (the generator writes plain logs); the `.gz` names. */
export function gzipLogs(dir: string): string[] {
  const names: string[] = [];
  for (const name of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
    writeFileSync(join(dir, `${name}.gz`), gzipSync(readFileSync(join(dir, name))));
    rmSync(join(dir, name));
    names.push(`${name}.gz`);
  }
  return names.sort();
}

/** The pid of a process of this host that has exited: the owner of a stale lock. */
export function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}
