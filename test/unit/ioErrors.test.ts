import { describe, expect, it } from 'vitest';
import { errorFromMessage, errorMessage } from '../../src/engines/embedded/tasks.js';
import { PlaytallyError } from '../../src/ops/errors.js';
import { ioFailure, ioFault, readFailure, writeFailure } from '../../src/ops/ioErrors.js';
import { GzipInputError } from '../../src/sources/lineChunks.js';
import type { LogFile } from '../../src/sources/logFiles.js';
import { logReadFailure } from '../../src/sources/logFiles.js';

/** A system error as Node makes them: code, syscall and (for calls on a path) the path. */
function systemError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const error = new Error(`${code}: failed, ${syscall}${path ? ` '${path}'` : ''}`) as NodeJS.ErrnoException;
  error.code = code;
  error.syscall = syscall;
  if (path !== undefined) error.path = path;
  return error;
}

const LOG: LogFile = {
  day: 19_723,
  name: 'listen-20240102.log',
  path: '/logs/listen-20240102.log',
  size: 10,
  mtimeMs: 0,
  compressed: false,
};

describe('the I/O fault classifier (ops/ioErrors.ts)', () => {
  it('sorts the system codes into kinds and passes anything else by', () => {
    expect(ioFault(systemError('EACCES', 'open', '/x'))).toEqual({
      kind: 'permission',
      code: 'EACCES',
      path: '/x',
      syscall: 'open',
    });
    expect(ioFault(systemError('EDQUOT', 'write'))?.kind).toBe('space');
    expect(ioFault(systemError('EIO', 'read'))?.kind).toBe('device');
    expect(ioFault(systemError('ENOENT', 'open', '/x'))?.kind).toBe('gone');
    expect(ioFault(systemError('ELOOP', 'open', '/x'))?.kind).toBe('not_a_file');
    expect(ioFault(systemError('ECONNRESET', 'read'))).toBeUndefined();
    // SQLite's codes under the results store, extended ones by prefix.
    expect(ioFault(Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }))?.kind).toBe(
      'space',
    );
    expect(ioFault(Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR_WRITE' }))?.kind).toBe(
      'device',
    );
    expect(ioFault(Object.assign(new Error('x'), { code: 'SQLITE_CORRUPT' }))).toBeUndefined();
    const full = writeFailure(
      Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' }),
      '/s.db',
    );
    expect((full as Error).message).toMatch(
      /^cannot write \/s\.db: no space left on its device \(SQLITE_FULL\)/,
    );
    expect(ioFault(new TypeError('x'))).toBeUndefined();
    expect(ioFault(undefined)).toBeUndefined();
  });

  it('a writer names the file it was writing, exit 4, and keeps the system error as the cause', () => {
    const cause = systemError('ENOSPC', 'write');
    const failure = writeFailure(cause, '/out/user_top50_20240102.txt') as PlaytallyError;
    expect(failure).toBeInstanceOf(PlaytallyError);
    expect(failure.code).toBe('write_failed');
    expect(failure.message).toMatch(
      /^cannot write \/out\/user_top50_20240102\.txt: no space left on its device \(ENOSPC\)/,
    );
    expect(failure.cause).toBe(cause);
    // Not an I/O fault, or already said: unchanged.
    const bug = new TypeError('x');
    expect(writeFailure(bug, '/out/x')).toBe(bug);
    expect(writeFailure(failure, '/elsewhere')).toBe(failure);
  });

  it('a reader takes only the faults of the file it reads: another path is not that file', () => {
    const denied = readFailure(systemError('EACCES', 'open', '/in/a.csv'), '/in/a.csv') as PlaytallyError;
    expect(denied.code).toBe('read_failed');
    expect(denied.message).toBe('cannot read /in/a.csv: no permission to read it (EACCES)');
    // A read on the open file names no path: it is the file being read.
    const device = readFailure(systemError('EIO', 'read'), '/in/a.csv') as PlaytallyError;
    expect(device.message).toBe('cannot read /in/a.csv: an I/O error of the device (EIO)');
    // A fault of the state folder met while reading passes through to its own boundary.
    const spill = systemError('ENOSPC', 'write', '/state/spill');
    expect(readFailure(spill, '/in/a.csv')).toBe(spill);
    const other = systemError('EACCES', 'open', '/state/x');
    expect(readFailure(other, '/in/a.csv')).toBe(other);
  });

  it('a log read fault or a damaged gzip is that log’s unreadable_log (exit 3, quarantined by run)', () => {
    const denied = logReadFailure(systemError('EACCES', 'open', LOG.path), LOG) as PlaytallyError;
    expect(denied.code).toBe('unreadable_log');
    expect(denied.details).toMatchObject({ file: LOG.name, path: LOG.path, fault: 'permission' });
    const gzip = logReadFailure(
      new GzipInputError(LOG.path, `${LOG.path} is not a readable gzip file (x)`),
      LOG,
    );
    expect((gzip as PlaytallyError).code).toBe('unreadable_log');
    const zlib = logReadFailure(systemError('Z_DATA_ERROR', 'inflate'), LOG) as PlaytallyError;
    expect(zlib.message).toContain(`${LOG.path} is not a readable gzip file`);
    const state = systemError('ENOSPC', 'write', '/state/partial');
    expect(logReadFailure(state, LOG)).toBe(state);
  });

  it('at the boundary: a fault in a call that changes the disk is a write (4), else a read (3); a bug is none', () => {
    expect(ioFailure(systemError('EACCES', 'mkdir', '/out'))?.code).toBe('write_failed');
    expect(ioFailure(systemError('EIO', 'write'))?.code).toBe('write_failed');
    expect(ioFailure(systemError('EACCES', 'open', '/out/x'))?.code).toBe('write_failed');
    expect(ioFailure(systemError('ENOSPC', 'open', '/out/x'))?.code).toBe('write_failed');
    expect(ioFailure(systemError('ENOENT', 'scandir', '/in'))?.message).toBe(
      'cannot read /in: it does not exist (any more) (ENOENT)',
    );
    expect(ioFailure(systemError('EIO', 'read'))?.message).toBe(
      'cannot read a file: an I/O error of the device (EIO)',
    );
    expect(ioFailure(new RangeError('offset out of range'))).toBeUndefined();
  });
});

describe('the worker thread’s error boundary (engines/embedded/tasks.ts)', () => {
  it('a PlaytallyError crosses to the pool with its class, code and details', () => {
    const sent = errorMessage(new PlaytallyError('write_failed', 'cannot write /s: full', { path: '/s' }));
    const back = errorFromMessage(structuredClone(sent));
    expect(back).toBeInstanceOf(PlaytallyError);
    expect(back).toMatchObject({
      code: 'write_failed',
      message: 'cannot write /s: full',
      details: { path: '/s' },
    });
  });

  it('a system error crosses with its code, path and call, so the classifier still knows it', () => {
    const back = errorFromMessage(
      structuredClone(errorMessage(systemError('ENOSPC', 'write', '/state/spill'))),
    );
    expect(back).not.toBeInstanceOf(PlaytallyError);
    expect(ioFault(back)).toEqual({ kind: 'space', code: 'ENOSPC', path: '/state/spill', syscall: 'write' });
    const thrown = errorFromMessage(structuredClone(errorMessage('a string')));
    expect(thrown.message).toBe('a string');
  });
});
