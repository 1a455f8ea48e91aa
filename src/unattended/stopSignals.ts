import { EXIT } from '../ops/exitCodes.js';

/**
 * SIGINT and SIGTERM ask a run to stop after its current step (a day's partial or a chart date),
 * so that it leaves nothing half done; a second signal stops it at once (exit 130; the temporary
 * files it leaves are removed by the next run).
 */
export interface StopSignals {
  requested(): boolean;
  /** Resolves when a stop is requested (for sleeps that should end early). */
  readonly stopped: Promise<void>;
  dispose(): void;
}

export function onStopSignals(onFirst: (signal: string) => void = () => {}): StopSignals {
  let requested = false;
  let resolveStopped: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    resolveStopped = resolve;
  });
  const handler = (signal: NodeJS.Signals): void => {
    if (requested) process.exit(EXIT.interrupted);
    requested = true;
    onFirst(signal);
    resolveStopped();
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: () => requested,
    stopped,
    dispose: () => {
      process.removeListener('SIGINT', handler);
      process.removeListener('SIGTERM', handler);
    },
  };
}
