import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type Database from 'libsql';
import { PlaytallyError } from '../ops/errors.js';
import { onDemand } from '../ops/onDemand.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type Db = InstanceType<typeof Database>;

/**
 * libsql, loaded when a store is first opened: its native addon (and detect-libc's process report,
 * which chooses it) cost every command's start about 40 ms and 10 MB of RSS, and only `load`,
 * `serve` and --db open a store.
 */
const libsql = onDemand<typeof Database>('libsql');

export interface OpenOptions {
  /** Open for reading only (the server): no migrations, no writes; the file must exist. */
  readonly?: boolean;
}

/**
 * Open the results store: an SQLite file in WAL mode, so a run can write a date while a server in
 * another process reads (readers see the last committed state; a load is one transaction).
 * A writable open applies missing migrations; a store from a newer playtally is refused.
 */
export function openResultsDb(path: string, options: OpenOptions = {}): Db {
  const file = resolve(path);
  // libsql (0.5) ignores the `readonly` and `fileMustExist` options: it would create a missing
  // file and open it for writing. Both are enforced here. A store that is not there is a missing
  // input (exit 3); one that cannot be opened, a place that cannot be used (exit 4).
  if (options.readonly && !existsSync(file)) {
    throw new PlaytallyError('store_not_found', `no results store at ${file}`, { path: file });
  }
  if (existsSync(file) && statSync(file).isDirectory()) {
    throw new PlaytallyError(
      'store_unusable',
      `cannot open the results store ${file}: it is a folder; give --db a file (in it, say: ${join(file, 'playtally.db')})`,
      { path: file },
    );
  }
  let db: Db;
  try {
    if (!options.readonly) mkdirSync(dirname(file), { recursive: true });
    const Database = libsql();
    db = new Database(file, {
      readonly: options.readonly ?? false,
      fileMustExist: options.readonly ?? false,
    });
    // A writer holds the lock for one load; readers and a second writer wait rather than fail.
    db.exec('PRAGMA busy_timeout = 10000');
    if (options.readonly) db.exec('PRAGMA query_only = ON');
    else {
      db.exec('PRAGMA journal_mode = WAL');
      // WAL + NORMAL: a commit survives a process crash; a power cut may lose the last loads,
      // which the next run loads again from the files.
      db.exec('PRAGMA synchronous = NORMAL');
    }
  } catch (error) {
    throw new PlaytallyError('store_unusable', `cannot open the results store ${file}: ${messageOf(error)}`, {
      path: file,
    });
  }
  try {
    const version = schemaVersion(db);
    if (version > SCHEMA_VERSION) {
      throw new PlaytallyError(
        'store_unusable',
        `the results store ${file} has schema version ${version}, newer than this playtally knows ` +
          `(${SCHEMA_VERSION}); upgrade playtally or use another --db`,
        { path: file, version },
      );
    }
    if (version < SCHEMA_VERSION) {
      if (options.readonly) {
        throw new PlaytallyError(
          'store_unusable',
          `the results store ${file} has schema version ${version}; run \`playtally load --db ${path}\` ` +
            `(or any run with --db) to migrate it to version ${SCHEMA_VERSION}`,
          { path: file, version },
        );
      }
      migrate(db, version);
    }
  } catch (error) {
    db.close();
    if (error instanceof PlaytallyError) throw error;
    throw new PlaytallyError(
      'store_unusable',
      `the results store ${file} is unusable: ${messageOf(error)}${readOnlyFolderHint(file)}`,
      { path: file },
    );
  }
  return db;
}

function migrate(db: Db, from: number): void {
  for (let v = from; v < SCHEMA_VERSION; v++) {
    writeTransaction(db, () => {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
    });
  }
}

/**
 * `write` in one immediate transaction, failing with the error it met. Not libsql's
 * `transaction()`: when SQLite has rolled back by itself (a full disk at COMMIT), that one's
 * ROLLBACK fails too and its "no transaction is active" replaces the cause.
 */
export function writeTransaction(db: Db, write: () => void): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    write();
    db.exec('COMMIT');
  } catch (error) {
    if (db.inTransaction) {
      try {
        db.exec('ROLLBACK');
      } catch {
        // The cause is what the caller must see; SQLite discards the transaction either way.
      }
    }
    throw error;
  }
}

export function schemaVersion(db: Db): number {
  return Number(firstValue(db, 'PRAGMA user_version'));
}

/**
 * The first column of the first row, or undefined. Through `raw()`: libsql's `get()` adds a
 * `_metadata` member to row objects and ignores `pluck()`; raw rows are plain arrays.
 */
export function firstValue(db: Db, sql: string, ...params: unknown[]): unknown {
  const row = db
    .prepare(sql)
    .raw()
    .get(...params) as unknown[] | undefined;
  return row?.[0];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Why a store opens but cannot be read: the store is in WAL mode, and even a reader needs to
 * create `<store>-shm` beside it (and `-wal` when no writer has), so its folder must be writable
 * by the reader's user too. Said with the fix rather than SQLite's "readonly database".
 */
function readOnlyFolderHint(file: string): string {
  try {
    accessSync(dirname(file), constants.W_OK);
    return '';
  } catch {
    return (
      `. Its folder ${dirname(file)} is not writable by this user, and SQLite needs to create ` +
      `${basename(file)}-shm (and -wal) beside the store even to read it: make the folder writable ` +
      'by this user (the store itself can stay owned by the writer)'
    );
  }
}
