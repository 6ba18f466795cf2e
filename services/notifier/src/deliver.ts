/**
 * Delivery of one JSON body to a webhook (Slack incoming webhook) with retries:
 * - network errors, timeouts and 5xx: retried with exponential backoff and equal jitter
 *   (runtime `backoffMs`: a random wait between half the backoff and all of it);
 * - 429: waits exactly `Retry-After` (seconds or an HTTP date), capped by `maxRetryAfterMs`;
 *   without the header, the backoff applies;
 * - any other 4xx: permanent, not retried (a retry cannot fix a revoked hook or a bad payload);
 * - after `attempts` attempts in all: gives up with a DeliveryError.
 *
 * The webhook URL is a secret (its path is the credential): it never appears in an error message or
 * in a log line. Errors from the HTTP client are reduced to their code and scrubbed of the URL.
 */
import { request } from 'undici';
import { backoffMs, parseRetryAfter, retryBackoffMs, sleep as sleepOrAbort, type RetryOptions } from '@cratewatch/runtime';

/** Retries: `attempts` in all (default 6), backoff from `baseMs` (500 ms) capped at `maxMs` (30 s), `jitter`. */
export interface DeliverOptions extends Partial<RetryOptions> {
  /** Cap of one Retry-After wait (default 60 s). */
  maxRetryAfterMs?: number;
  /** Time allowed for the response headers, and for the body (default 10 s each). */
  timeoutMs?: number;
  /** Aborts the waits between attempts (never a request in flight: its answer must be known). */
  signal?: AbortSignal;
  /** Called before each wait, for logs. The reason never contains the URL. */
  onRetry?: (info: { attempt: number; waitMs: number; reason: string }) => void;
  /**
   * Extra headers for each attempt, computed from the exact body sent (a signed webhook signs it
   * with the time of the attempt, so a retry after a long Retry-After carries a fresh timestamp).
   */
  headers?: (body: string) => Record<string, string>;
  /** Told the status of each answer (metrics: 429s per route). */
  onStatus?: (status: number) => void;
}

export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    /** True when retrying cannot help (4xx other than 429). */
    readonly permanent: boolean,
    readonly attempts: number,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The waits between attempts were aborted (the notifier is stopping): not a delivery failure. */
export class DeliveryAbortedError extends Error {
  override name = 'DeliveryAbortedError';
}

export interface DeliveryResult {
  status: number;
  attempts: number;
}

export const DEFAULT_DELIVER_OPTIONS = {
  attempts: 6,
  baseMs: 500,
  maxMs: 30_000,
  maxRetryAfterMs: 60_000,
  timeoutMs: 10_000,
} as const;

// Shared with ingest's HTTP client; re-exported for this package's tests and callers.
export { parseRetryAfter, backoffMs };

const sleep = (ms: number, signal?: AbortSignal) => sleepOrAbort(ms, signal, () => new DeliveryAbortedError('delivery aborted: stopping'));

/** A client error reduced to something safe to show: its code, never its message (it may hold the URL). */
function describeNetworkError(err: unknown, url: string): string {
  const e = err as { code?: unknown; name?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  return scrub(`network error (${code ?? name})`, url);
}

/** Removes the URL, and its path and query (the secret part), from a text. */
export function scrub(text: string, url: string): string {
  let out = text.split(url).join('[webhook]');
  try {
    const u = new URL(url);
    const secret = u.pathname + u.search;
    if (secret.length > 1) out = out.split(secret).join('[webhook-path]');
  } catch {
    /* not a URL: nothing more to remove */
  }
  return out;
}

/** POSTs `body` as JSON to `url`, retrying as described above; throws DeliveryError when it gives up. */
export async function postJson(url: string, body: unknown, options: DeliverOptions = {}): Promise<DeliveryResult> {
  const o = { ...DEFAULT_DELIVER_OPTIONS, ...options };
  const payload = JSON.stringify(body);
  let retries = 0;
  for (let attempt = 1; ; attempt++) {
    let reason: string;
    let waitMs: number | undefined;
    let status: number | undefined;
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { ...options.headers?.(payload), 'content-type': 'application/json' },
        body: payload,
        headersTimeout: o.timeoutMs,
        bodyTimeout: o.timeoutMs,
      });
      status = res.statusCode;
      options.onStatus?.(status);
      // Read (a bounded part of) the body so the connection is reusable; Slack explains errors there.
      const text = (await res.body.text()).slice(0, 200);
      if (status >= 200 && status < 300) return { status, attempts: attempt };
      const detail = text ? `: ${scrub(text.replace(/\s+/g, ' ').trim(), url)}` : '';
      if (status === 429) {
        reason = `HTTP 429 (rate limited)${detail}`;
        const ra = parseRetryAfter(res.headers['retry-after']);
        if (ra !== undefined) waitMs = Math.min(ra, o.maxRetryAfterMs);
      } else if (status >= 500) {
        reason = `HTTP ${status}${detail}`;
      } else {
        throw new DeliveryError(`webhook refused the message: HTTP ${status}${detail} (not retried)`, true, attempt, status);
      }
    } catch (err) {
      if (err instanceof DeliveryError) throw err;
      reason = describeNetworkError(err, url);
    }
    if (attempt >= o.attempts) {
      throw new DeliveryError(`webhook delivery failed after ${attempt} attempts; last: ${reason}`, false, attempt, status);
    }
    retries++;
    const wait = waitMs ?? retryBackoffMs(o, retries);
    options.onRetry?.({ attempt, waitMs: wait, reason });
    await sleep(wait, options.signal);
  }
}
