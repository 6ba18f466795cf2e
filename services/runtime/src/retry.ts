/**
 * The retry arithmetic every HTTP client of cratewatch shares (ingest's upstream fetches, the
 * notifier's webhook posts): how long an upstream asks us to wait, and how long to back off.
 */

/** Parses Retry-After — delta-seconds or an HTTP date — into ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000);
  const date = Date.parse(s);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/**
 * How a client retries — the one option shape of ingest's HTTP client and GitHub batches, the
 * notifier's deliveries and the consumer loop's retry policy.
 */
export interface RetryOptions {
  /** Attempts in all, the first included. */
  attempts: number;
  /** The first backoff, doubled at every retry. */
  baseMs: number;
  /** Cap of one backoff. */
  maxMs: number;
  /** Random in [0, 1) for the equal jitter (tests can fix it); Math.random when absent. */
  jitter?: () => number;
}

/** The backoff before retry `retry` (1-based) under `o`: `backoffMs` with its equal jitter. */
export const retryBackoffMs = (o: RetryOptions, retry: number): number => backoffMs(retry, o.baseMs, o.maxMs, o.jitter);

/**
 * Exponential backoff with equal jitter for the n-th retry (1-based): a random wait in
 * [c/2, c] where c = min(max, base·2^(n-1)), so many clients retrying at once spread out.
 */
export function backoffMs(retry: number, base: number, max: number, random: () => number = Math.random): number {
  const ceiling = Math.min(max, base * 2 ** Math.max(0, retry - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Waits `ms`, or rejects with `onAbort()` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal, onAbort: () => Error = () => new Error('aborted')): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(onAbort());
    const abort = () => {
      clearTimeout(timer);
      reject(onAbort());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', abort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', abort, { once: true });
  });
}
