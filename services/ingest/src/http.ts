/**
 * Polite HTTP GET for every ingest source (undici underneath).
 *
 * - Conditional requests: pass the `validator` (ETag / Last-Modified) kept from the last 200; a 304
 *   comes back as `{ notModified: true }` and the caller emits nothing.
 * - A User-Agent naming cratewatch (crates.io asks every client for one with a contact).
 * - Timeouts on headers and body; retries with exponential backoff and equal jitter on network
 *   errors, timeouts, truncated bodies and 5xx; 429 and 503 honour Retry-After (seconds or an HTTP
 *   date), capped at `maxRetryAfterMs`.
 * - A truncated body (fewer bytes than Content-Length, or the connection closed mid-stream) is a
 *   retryable error, never a short document handed to a parser.
 * - Per-host politeness: requests to one host are spaced at least `minIntervalMs` apart (and run one
 *   at a time), whatever the number of callers.
 * - Credentials come from the environment by variable *name* (`authEnv`); errors name the upstream
 *   URL (without userinfo) but never a header value, and nothing here logs a header.
 */
import { gunzipSync, brotliDecompressSync, inflateSync } from 'node:zlib';
import { Agent, request, errors as undiciErrors, type Dispatcher } from 'undici';
import { envSecret, envString, parseRetryAfter, retryBackoffMs, sleep as sleepOrAbort, type RetryOptions } from '@cratewatch/runtime';

export const DEFAULT_USER_AGENT =
  envString(process.env, 'CRATEWATCH_USER_AGENT') ??
  'cratewatch-ingest/0.1 (supply-chain monitor; +https://github.com/cratewatch/cratewatch)';

/** What the server said about a document's version, sent back on the next request. */
export interface Validator {
  etag?: string;
  lastModified?: string;
}

export interface GetOptions {
  validator?: Validator | undefined;
  headers?: Record<string, string>;
  /** Name of an environment variable holding a token sent as `Authorization: <authScheme> <token>`. */
  authEnv?: string;
  authScheme?: string;
  /** Statuses other than 200/304 to return instead of throwing (e.g. 404 for an unknown crate). */
  accept?: number[];
  signal?: AbortSignal | undefined;
  /** Overrides the client's attempts (in all, the first included) for this request. */
  attempts?: number;
}

export interface GetResult {
  url: string;
  status: number;
  notModified: boolean;
  /** The decoded body (empty on 304). */
  body: Buffer;
  /** The validator to store for the next request (the old one on 304 when the server sent none). */
  validator: Validator;
  headers: Record<string, string>;
  attempts: number;
}

/** Retries: `attempts` in all (default 6), backoff from `baseMs` (500) capped at `maxMs` (60 s). */
export interface HttpClientOptions extends Partial<RetryOptions> {
  userAgent?: string;
  /** Minimum spacing between two requests to the same host. */
  minIntervalMs?: number;
  /** Longest Retry-After honoured; a longer one fails the request (retryable by the next poll). */
  maxRetryAfterMs?: number;
  timeoutMs?: number;
  /** Called before each retry (for logging); receives no header values. */
  onRetry?: (info: { url: string; attempt: number; delayMs: number; reason: string }) => void;
}

/** An upstream failure. `url` is safe to log (userinfo stripped); `status` when the server answered. */
export class HttpError extends Error {
  constructor(
    readonly url: string,
    message: string,
    readonly status?: number,
    readonly retryable = false,
  ) {
    super(`${url}: ${message}`);
    this.name = 'HttpError';
  }
}

/** The URL as it may appear in logs and errors: no user:password@. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

export { parseRetryAfter };

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  sleepOrAbort(ms, signal, () => (signal?.reason as Error | undefined) ?? new Error('aborted'));

function headerMap(h: Dispatcher.ResponseData['headers']): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

function decode(body: Buffer, encoding: string | undefined, url: string): Buffer {
  const enc = (encoding ?? '').trim().toLowerCase();
  try {
    if (enc === '' || enc === 'identity') return body;
    if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(body);
    if (enc === 'br') return brotliDecompressSync(body);
    if (enc === 'deflate') return inflateSync(body);
  } catch (err) {
    // A compressed stream that does not decompress was cut short or mangled in transit.
    throw new HttpError(url, `body does not decode as ${enc}: ${(err as Error).message}`, undefined, true);
  }
  throw new HttpError(url, `unsupported content-encoding ${JSON.stringify(enc)}`);
}

export class HttpClient {
  private readonly agent: Agent;
  private readonly hosts = new Map<string, { next: number; queue: Promise<void> }>();
  private readonly o: Required<Omit<HttpClientOptions, 'onRetry'>> & Pick<HttpClientOptions, 'onRetry'>;

  constructor(opts: HttpClientOptions = {}) {
    this.o = {
      userAgent: opts.userAgent ?? DEFAULT_USER_AGENT,
      minIntervalMs: opts.minIntervalMs ?? 1000,
      attempts: opts.attempts ?? 6,
      baseMs: opts.baseMs ?? 500,
      maxMs: opts.maxMs ?? 60_000,
      jitter: opts.jitter ?? Math.random,
      maxRetryAfterMs: opts.maxRetryAfterMs ?? 10 * 60_000,
      timeoutMs: opts.timeoutMs ?? 30_000,
      onRetry: opts.onRetry,
    };
    this.agent = new Agent({
      headersTimeout: this.o.timeoutMs,
      bodyTimeout: this.o.timeoutMs,
      connectTimeout: this.o.timeoutMs,
      connections: 4,
    });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Waits for this host's turn: one request at a time per host, `minIntervalMs` apart. */
  private async turn<T>(host: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let slot = this.hosts.get(host);
    if (!slot) {
      slot = { next: 0, queue: Promise.resolve() };
      this.hosts.set(host, slot);
    }
    const s = slot;
    const run = s.queue.then(async () => {
      const wait = s.next - Date.now();
      if (wait > 0) await sleep(wait, signal);
      try {
        return await fn();
      } finally {
        s.next = Date.now() + this.o.minIntervalMs;
      }
    });
    s.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private backoff(attempt: number): number {
    return retryBackoffMs(this.o, attempt);
  }

  async get(url: string, opts: GetOptions = {}): Promise<GetResult> {
    const shown = safeUrl(url);
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      throw new HttpError(shown, 'not a valid URL');
    }
    const headers: Record<string, string> = {
      'user-agent': this.o.userAgent,
      'accept-encoding': 'gzip, br',
      ...(opts.headers ?? {}),
    };
    if (opts.validator?.etag) headers['if-none-match'] = opts.validator.etag;
    if (opts.validator?.lastModified) headers['if-modified-since'] = opts.validator.lastModified;
    if (opts.authEnv) {
      const token = envSecret(process.env, opts.authEnv);
      if (!token) throw new HttpError(shown, `environment variable ${opts.authEnv} (the credential for this upstream) is not set`);
      headers.authorization = `${opts.authScheme ?? 'Bearer'} ${token.reveal()}`;
    }
    const attempts = opts.attempts ?? this.o.attempts;
    let lastError: HttpError | undefined;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      let delay: number | undefined;
      try {
        return { ...(await this.turn(host, () => this.once(url, shown, headers, opts), opts.signal)), attempts: attempt };
      } catch (err) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? err;
        const e = err instanceof HttpError ? err : new HttpError(shown, describe(err), undefined, true);
        if (!e.retryable) throw e;
        lastError = e;
        delay = (e as HttpError & { retryAfterMs?: number }).retryAfterMs ?? this.backoff(attempt);
        if (delay > this.o.maxRetryAfterMs) {
          throw new HttpError(
            shown,
            `asked to wait ${Math.round(delay / 1000)}s (Retry-After), more than the ${Math.round(this.o.maxRetryAfterMs / 1000)}s allowed`,
            e.status,
            true,
          );
        }
      }
      if (attempt < attempts) {
        this.o.onRetry?.({ url: shown, attempt, delayMs: delay, reason: lastError.message });
        await sleep(delay, opts.signal);
      }
    }
    throw new HttpError(shown, `gave up after ${attempts} attempts: ${lastError?.message ?? 'unknown error'}`, lastError?.status, true);
  }

  private async once(url: string, shown: string, headers: Record<string, string>, opts: GetOptions): Promise<Omit<GetResult, 'attempts'>> {
    const res = await request(url, {
      method: 'GET',
      headers,
      dispatcher: this.agent,
      signal: opts.signal,
      maxRedirections: 5,
    } as Parameters<typeof request>[1]);
    const h = headerMap(res.headers);
    const status = res.statusCode;
    if (status === 304) {
      await res.body.dump();
      return { url: shown, status, notModified: true, body: Buffer.alloc(0), validator: validatorOf(h, opts.validator), headers: h };
    }
    if (status === 429 || status >= 500) {
      await res.body.dump().catch(() => undefined);
      const err = new HttpError(shown, `HTTP ${status}`, status, true) as HttpError & { retryAfterMs?: number };
      const ra = parseRetryAfter(h['retry-after']);
      if (ra !== undefined) err.retryAfterMs = ra;
      throw err;
    }
    const accepted = (status >= 200 && status < 300) || (opts.accept ?? []).includes(status);
    if (!accepted) {
      await res.body.dump().catch(() => undefined);
      throw new HttpError(shown, `HTTP ${status}`, status, false);
    }
    const chunks: Buffer[] = [];
    let received = 0;
    try {
      for await (const c of res.body) {
        const b = c as Buffer;
        chunks.push(b);
        received += b.length;
      }
    } catch (err) {
      throw new HttpError(shown, `body truncated after ${received} bytes: ${describe(err)}`, status, true);
    }
    const raw = Buffer.concat(chunks, received);
    const declared = h['content-length'];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) !== received) {
      throw new HttpError(shown, `body truncated: ${received} of ${declared} bytes`, status, true);
    }
    const body = decode(raw, h['content-encoding'], shown);
    return { url: shown, status, notModified: false, body, validator: validatorOf(h), headers: h };
  }
}

function validatorOf(h: Record<string, string>, previous?: Validator): Validator {
  const v: Validator = {};
  const etag = h.etag ?? previous?.etag;
  const lm = h['last-modified'] ?? previous?.lastModified;
  if (etag) v.etag = etag;
  if (lm) v.lastModified = lm;
  return v;
}

function describe(err: unknown): string {
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) return 'timed out';
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect timed out';
  const e = err as { code?: string; message?: string };
  return [e.code, e.message].filter(Boolean).join(' ') || String(err);
}
