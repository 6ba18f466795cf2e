import type { Logger } from './log.js';

/** Stops cleanly on SIGINT/SIGTERM: consumers commit what they handled and leave the group. */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal: sig });
    stop()
      .then(() => process.exit(0))
      .catch((err) => {
        log.error('unclean stop', { error: err });
        process.exit(1);
      });
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}
