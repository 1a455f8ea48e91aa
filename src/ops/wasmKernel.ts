/**
 * What every WebAssembly kernel's loader shares (partials/radixSort.ts, parse/idInterner.ts,
 * parse/streamScan.ts, kpis/dayGroups.ts): the module compiled once a thread from the bytes its
 * `NAME.wasm.ts` holds (written by `npm run build:wasm`), an instance of it over a memory the
 * loader makes and lays out, and that memory grown. A kernel imports its memory as `env.memory`.
 */

/** A WebAssembly page. */
export const WASM_PAGE_BYTES = 65536;
/** A 32-bit WebAssembly memory's most pages (4 GiB). */
export const WASM_MAX_PAGES = 65536;

const modules = new Map<string, WebAssembly.Module>();

/** An instance of the kernel whose module is `base64`, over `memory`: its exports. */
export function kernelInstance<T>(base64: string, memory: WebAssembly.Memory): T {
  let module = modules.get(base64);
  if (module === undefined) {
    module = new WebAssembly.Module(Buffer.from(base64, 'base64'));
    modules.set(base64, module);
  }
  return new WebAssembly.Instance(module, { env: { memory } }).exports as unknown as T;
}

/** The pages that hold `bytes`; a RangeError naming `what` past a 4 GiB memory. */
export function pagesFor(bytes: number, what: string): number {
  const pages = Math.ceil(bytes / WASM_PAGE_BYTES);
  if (!(pages <= WASM_MAX_PAGES))
    throw new RangeError(`${what} need ${bytes} bytes, past a 4 GiB WebAssembly memory`);
  return pages;
}

/**
 * `memory` grown to hold `bytes`: true when it grew (which detaches the views of its old buffer:
 * make them anew).
 */
export function growTo(memory: WebAssembly.Memory, bytes: number, what: string): boolean {
  const have = memory.buffer.byteLength;
  if (bytes <= have) return false;
  memory.grow(pagesFor(bytes, what) - have / WASM_PAGE_BYTES);
  return true;
}

/** `n` rounded up to a multiple of `bytes`: where a kernel's region starts in its memory. */
export function alignTo(n: number, bytes: number): number {
  return Math.ceil(n / bytes) * bytes;
}
