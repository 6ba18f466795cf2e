/**
 * Downloads `.crate` files from the registry's download endpoint (crates.io's `dl`:
 * `https://static.crates.io/crates/<name>/<name>-<version>.crate`, where cargo itself downloads),
 * politely: undici (docs/adr/0016-crate-sources.md) with a few connections per host, a timeout,
 * and retries with exponential backoff (honouring `Retry-After`) on 429, 5xx and dropped
 * connections. No conditional requests: a published `.crate` never changes, and the cache keeps
 * it by its sha256, so one that is cached is never asked for again.
 */
import { Agent, RetryAgent, request } from 'undici';
import { CrateFetchError } from './errors.js';

export const DEFAULT_CRATES_URL = 'https://static.crates.io/crates';

export interface FetchOptions {
  /** Base URL (default `CRATEWATCH_CRATES_URL`, else crates.io's); tests give a loopback server. */
  baseUrl?: string;
  /** Parallel connections to the host (default 4). */
  connections?: number;
  /** Retries after the first try (default 3). */
  retries?: number;
}

export class CrateDownloader {
  readonly baseUrl: string;
  private readonly agent: RetryAgent;

  constructor(o: FetchOptions = {}) {
    this.baseUrl = (o.baseUrl ?? process.env.CRATEWATCH_CRATES_URL ?? DEFAULT_CRATES_URL).replace(/\/+$/, '');
    const base = new Agent({ connections: o.connections ?? 4, headersTimeout: 30_000, bodyTimeout: 60_000 });
    this.agent = new RetryAgent(base, {
      maxRetries: o.retries ?? 3,
      minTimeout: 500,
      maxTimeout: 10_000,
      timeoutFactor: 2,
      statusCodes: [429, 500, 502, 503, 504],
      methods: ['GET'],
    });
  }

  urlOf(name: string, version: string): string {
    return `${this.baseUrl}/${encodeURIComponent(name)}/${encodeURIComponent(name)}-${encodeURIComponent(version)}.crate`;
  }

  /** The `.crate` bytes; a 404 is `undefined` (a version crates.io does not have), other failures throw. */
  async download(name: string, version: string): Promise<Uint8Array | undefined> {
    const url = this.urlOf(name, version);
    let res;
    try {
      res = await request(url, { dispatcher: this.agent, headers: { 'user-agent': 'cratewatch (crate sizes for audit planning)' } });
    } catch (e) {
      throw new CrateFetchError(`${name} ${version}: download from ${url} failed (${(e as Error).message})`);
    }
    if (res.statusCode === 404) {
      await res.body.dump();
      return undefined;
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new CrateFetchError(`${name} ${version}: ${url} answered HTTP ${res.statusCode}`);
    }
    return new Uint8Array(await res.body.arrayBuffer());
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
