import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { crc32 } from 'node:zlib';
import { type ArgsSpec, args } from './benchSupport.js';

/**
 * The charts of the window whose partials are in --state (a state folder, e.g. OUT/.playtally),
 * without workers, on one thread: every country partition read and merged, then every user range
 * read, merged, formatted (and written with --write), each phase timed in CPU time
 * (`process.cpuUsage()`: steadier than wall time on a shared machine). --dist is a build's dist/
 * folder (default: this one's), so that two builds can be run one after the other on the same
 * partials; run it with `node --cpu-prof` for the functions. Where the build has the WebAssembly
 * user chart (window/chartKernel.js), each range is read and charted by it too (`kernelRead`,
 * `kernel`: its merge and formatting together), its text compared with the JavaScript's
 * (`kernelRanges.differing` must be 0). Prints one JSON line.
 */
const SPEC: ArgsSpec = {
  usage: 'npm run bench:user-chart -- --state DIR [options]   (or node dist/bench/userChartPhases.js ...)',
  about:
    "The charts of a state folder's partials on one thread, without workers: CPU time of reading and " +
    'merging the country partitions, and of reading, merging and formatting every user range (in JavaScript, ' +
    'and by the WebAssembly kernel where the build has it, its text compared with theirs), as one JSON line.',
  options: {
    state: {
      value: 'DIR',
      help: 'the state folder whose partials/ hold the window (required)',
      required: true,
    },
    dist: { value: 'DIR', help: "the build to run: a dist/ folder (default this build's)" },
    write: { value: 'FILE', help: 'also write the chart to FILE (to compare it with a run of top50)' },
    'kernel-only': {
      help:
        'time the WebAssembly kernel alone over every user range (no countries, no JavaScript merge; its text ' +
        "buffers reused, as the workers' are), and print the CRC-32 of its text to compare builds",
    },
  },
};
const options = args(SPEC);
const state = options.get('state')!;
const dist = resolve(options.get('dist') ?? resolve(import.meta.dirname, '..'));
const outPath = options.get('write');
const kernelOnly = options.has('kernel-only');

const from = (path: string) => import(pathToFileURL(join(dist, path)).href);
const { readPartialDirectory, readBlock } = await from('src/formats/partialFile.js');
const windowPlan = await from('src/engines/embedded/windowPlan.js');
const { planWindow, readRangeSpans, countrySources, readPieces, ReusedBuffer } = windowPlan;
const { planMemory } = await from('src/engines/embedded/memoryPlan.js');
const { mergeSpans, MergeScratch } = await from('src/window/mergeTopK.js');
const { writeChartLine } = await from('src/formats/chartFiles.js');
const { ByteWriter } = await from('src/partials/varint.js');
// The WebAssembly user chart (window/chartKernel.js), where the build has it: timed beside the
// JavaScript merge and formatting, its text compared with theirs range by range.
const chartKernel = await from('src/window/chartKernel.js').catch(() => undefined);
const kernel = chartKernel === undefined ? undefined : new chartKernel.ChartKernel();
// A kernel of its own for the countries, as the workers keep one.
const countryKernel = chartKernel === undefined ? undefined : new chartKernel.ChartKernel();

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const dir = join(state, 'partials');
const partials = readdirSync(dir)
  .filter((n) => n.endsWith('.ptp'))
  .sort()
  .map((n) => ({ path: join(dir, n), directory: readPartialDirectory(join(dir, n)) }));
const window = planWindow(partials, planMemory(1024 ** 3, 2), 2);
const ms = {
  countryRead: 0,
  countryMerge: 0,
  read: 0,
  merge: 0,
  format: 0,
  write: 0,
  kernelRead: 0,
  kernel: 0,
  countryKernelRead: 0,
  countryKernel: 0,
};
const countryPartitions = { merged: 0, leftToJavaScript: 0, differing: 0 };
const kernelRanges = { merged: 0, leftToJavaScript: 0, differing: 0 };
// The country merge first, every window partition's blocks of every day, as the workers do.
const countryInput = new ReusedBuffer();
const countryScratch = new MergeScratch();
let countryKeys = 0;
for (let q = 0; q < (kernelOnly ? 0 : window.countryPartitions); q++) {
  const t0 = cpu();
  const sources = countrySources(partials, q, window.countryPartitions);
  // As the worker reads them (an older build: whole blocks of varints).
  const spans =
    windowPlan.readCountrySpans?.(sources, countryInput) ??
    readPieces(sources, (source: { blocks: unknown[] }) => source.blocks, readBlock, countryInput).map(
      (bytes: Uint8Array) => ({ bytes, start: 0, end: bytes.length, base: 0 }),
    );
  const t1 = cpu();
  // The charts as text, to compare the kernel's with them.
  const charts: string[] = [];
  countryKeys += mergeSpans(
    spans,
    50,
    -Infinity,
    Infinity,
    (key: number, s: Float64Array, p: Float64Array, n: number) => {
      charts.push(`${key}|${Array.from({ length: n }, (_, i) => `${s[i]}:${p[i]}`).join(',')}`);
    },
    countryScratch,
  ).keys;
  ms.countryRead += t1 - t0;
  ms.countryMerge += cpu() - t1;
  if (kernel !== undefined) {
    const k0 = cpu();
    const kernelSpans = windowPlan.readCountrySpans(sources, countryKernel.countryRoom(50));
    const k1 = cpu();
    const kernelCharts = countryKernel.countryCharts(kernelSpans, 50);
    ms.countryKernelRead += k1 - k0;
    ms.countryKernel += cpu() - k1;
    if (kernelCharts === undefined) countryPartitions.leftToJavaScript++;
    else {
      countryPartitions.merged++;
      const text = kernelCharts.map(
        (c: { country: number; songs: Float64Array; plays: Float64Array }) =>
          `${c.country}|${Array.from(c.songs, (song, i) => `${song}:${c.plays[i]}`).join(',')}`,
      );
      if (text.join('\n') !== charts.join('\n')) countryPartitions.differing++;
    }
  }
}
const fd = outPath === undefined ? -1 : openSync(outPath, 'w');
let keys = 0;
let entries = 0;
// An older build counted distinct pairs, not day entries: printed under their own name.
let counted = 'entries';
let bytes = 0;
let textCrc32 = 0;
let reused: ArrayBuffer | undefined;
/**
 * A user range read into the kernel and charted by it, timed (`kernelRead`, `kernel`), into a text
 * buffer made anew, or made from `reuse` when large enough: its rows (undefined when the kernel
 * left the range to JavaScript) and text.
 */
const kernelRange = (
  range: { sources: unknown; inputBytes: number; low: number; high: number },
  reuse?: ArrayBuffer,
): { rows: number | undefined; text: Uint8Array } => {
  const k0 = cpu();
  const kernelSpans = readRangeSpans(range.sources, kernel.userRoom(50));
  const k1 = cpu();
  const kernelOut = windowPlan.rangeTextWriter(range.inputBytes, reuse);
  const rows = kernel.userRows(kernelSpans, 50, range.low, range.high, kernelOut);
  ms.kernelRead += k1 - k0;
  ms.kernel += cpu() - k1;
  return { rows, text: kernelOut.result() };
};
for (const range of window.userRanges) {
  if (kernelOnly) {
    if (kernel === undefined) throw new Error(`${dist} has no WebAssembly user chart`);
    const { rows, text } = kernelRange(range, reused);
    if (rows === undefined) throw new Error('the kernel left a range to JavaScript');
    reused = text.buffer as ArrayBuffer;
    textCrc32 = crc32(text, textCrc32);
    keys += rows;
    bytes += text.length;
    continue;
  }
  const t0 = cpu();
  const spans = readRangeSpans(range.sources);
  const t1 = cpu();
  // The merge alone, then merge and format: formatting is the difference.
  const merged = mergeSpans(spans, 50, range.low, range.high, () => {});
  const t2 = cpu();
  // As the worker does (an older build without rangeTextWriter: as it did).
  const out = windowPlan.rangeTextWriter?.(range.inputBytes) ?? new ByteWriter(1 << 20);
  mergeSpans(spans, 50, range.low, range.high, (key: number, s: Float64Array, p: Float64Array, n: number) =>
    writeChartLine(out, key, s, p, n),
  );
  const t3 = cpu();
  const text: Uint8Array = out.result();
  for (let done = 0; fd >= 0 && done < text.length; ) done += writeSync(fd, text, done);
  const t4 = cpu();
  if (kernel !== undefined) {
    const charted = kernelRange(range);
    if (charted.rows === undefined) kernelRanges.leftToJavaScript++;
    else {
      kernelRanges.merged++;
      if (charted.rows !== merged.keys || Buffer.compare(charted.text, text) !== 0) kernelRanges.differing++;
    }
  }
  ms.read += t1 - t0;
  ms.merge += t2 - t1;
  ms.format += t3 - t2 - (t2 - t1);
  ms.write += t4 - t3;
  keys += merged.keys;
  if (merged.entries === undefined) counted = 'pairs';
  entries += merged.entries ?? merged.pairs;
  bytes += text.length;
}
if (fd >= 0) closeSync(fd);
const rounded = Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, Math.round(v)]));
console.log(
  JSON.stringify({
    dist,
    countryKeys,
    ranges: window.userRanges.length,
    keys,
    ...(kernelOnly ? {} : { [counted]: entries }),
    bytes,
    cpuMs: rounded,
    ...(kernelOnly ? { textCrc32 } : {}),
    ...(kernel === undefined || kernelOnly ? {} : { kernelRanges, countryPartitions }),
  }),
);
