/**
 * The WebAssembly globals the kernels' loaders use (partials/radixSort.ts, parse/idInterner.ts),
 * which Node.js has and @types/node 20 does not declare (TypeScript declares them in its DOM
 * library only, which a Node.js program should not load).
 */
declare namespace WebAssembly {
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    /** Grows by `pages` of 64 KiB; the old `buffer` is detached. */
    grow(pages: number): number;
  }
  class Global {
    readonly value: number;
  }
  /** A trap: the kernel's `unreachable`, or a memory that could not grow. */
  class RuntimeError extends Error {}
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
}
