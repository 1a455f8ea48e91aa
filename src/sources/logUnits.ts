import { readSync } from 'node:fs';

/**
 * A log is cut into fixed units of UNIT_BYTES, the unit of parallel work and of content hashing.
 * A line belongs to the unit holding its first byte, so each worker can start anywhere: it skips
 * the tail of the line that began in the previous unit and finishes its own last line past the
 * unit's end. Fixed units make the content hash independent of the thread count.
 */
export const UNIT_BYTES = 32 * 1024 * 1024;

export interface LogUnit {
  index: number;
  start: number;
  end: number;
}

export function logUnits(size: number, unitBytes = UNIT_BYTES): LogUnit[] {
  const units: LogUnit[] = [];
  for (let start = 0, index = 0; start < size || index === 0; start += unitBytes, index++) {
    units.push({ index, start, end: Math.min(size, start + unitBytes) });
  }
  return units;
}

const NEWLINE = 10;

/**
 * Read the lines that start in `unit`, passing them to `onLines` in chunks (possibly ending
 * mid-line; the parser carries the rest). Every byte in [start, end) also goes into `hash`.
 */
export function readUnitLines(
  fd: number,
  unit: LogUnit,
  buffer: Buffer,
  hash: { update(data: Uint8Array): void } | undefined,
  onLines: (chunk: Buffer) => void,
): void {
  let pos = unit.start;
  // Lines begin at the unit's start when the byte before it ends a line.
  let inLines = unit.start === 0;
  if (!inLines) {
    const before = Buffer.alloc(1);
    readSync(fd, before, 0, 1, unit.start - 1);
    inLines = before[0] === NEWLINE;
  }
  let lastFed = NEWLINE;
  while (pos < unit.end) {
    const n = readSync(fd, buffer, 0, Math.min(buffer.length, unit.end - pos), pos);
    if (n === 0) break;
    const chunk = buffer.subarray(0, n);
    hash?.update(chunk);
    let from = 0;
    if (!inLines) {
      const newline = chunk.indexOf(NEWLINE);
      if (newline >= 0) {
        inLines = true;
        from = newline + 1;
      } else from = n;
    }
    if (from < n) {
      onLines(chunk.subarray(from));
      lastFed = chunk[n - 1]!;
    }
    pos += n;
  }
  // Finish the last line, which may run past the unit's end.
  if (!inLines || lastFed === NEWLINE) return;
  for (;;) {
    const n = readSync(fd, buffer, 0, buffer.length, pos);
    if (n === 0) return;
    const chunk = buffer.subarray(0, n);
    const newline = chunk.indexOf(NEWLINE);
    if (newline >= 0) {
      onLines(chunk.subarray(0, newline + 1));
      return;
    }
    onLines(chunk);
    pos += n;
  }
}
