import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { DeliveryAbortedError, DeliveryError, backoffMs, parseRetryAfter, postJson } from '../src/deliver.js';
import { startWebhook, type Webhook } from './helpers.js';

const hooks: Webhook[] = [];
async function hook(...args: Parameters<typeof startWebhook>): Promise<Webhook> {
  const h = await startWebhook(...args);
  hooks.push(h);
  return h;
}
afterEach(async () => {
  await Promise.all(hooks.splice(0).map((h) => h.close()));
});

const body = { text: 'hello', blocks: [] };
const fast = { baseMs: 20, maxMs: 100 };

/** The caught error, or fails the test when the promise resolves. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

describe('postJson (real HTTP on loopback)', () => {
  it('adds the headers computed from the exact body sent, afresh for every attempt', async () => {
    const h = await hook({ script: [{ status: 503 }] });
    const seen: string[] = [];
    let n = 0;
    await postJson(h.url, body, { ...fast, headers: (raw) => (seen.push(raw), { 'x-attempt': String(++n), 'content-type': 'text/evil' }) });
    expect(seen).toEqual([JSON.stringify(body), JSON.stringify(body)]);
    expect(h.requests.map((r) => r.headers['x-attempt'])).toEqual(['1', '2']);
    expect(h.requests.every((r) => r.body === JSON.stringify(body) && r.headers['content-type'] === 'application/json')).toBe(true);
  });

  it('retries 5xx and delivers once: 500, 500, then 200', async () => {
    const h = await hook({ script: [{ status: 500 }, { status: 500 }] });
    const retries: number[] = [];
    const res = await postJson(h.url, body, { ...fast, onRetry: (r) => retries.push(r.attempt) });
    expect(res).toEqual({ status: 200, attempts: 3 });
    expect(h.requests).toHaveLength(3);
    expect(retries).toEqual([1, 2]);
    for (const r of h.requests) {
      expect(r.method).toBe('POST');
      expect(r.path).toBe(h.secretPath);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.json).toEqual(body);
    }
  });

  it('on 429 waits Retry-After seconds exactly, then delivers', async () => {
    const h = await hook({ script: [{ status: 429, headers: { 'retry-after': '1' }, body: 'rate_limited' }] });
    const waits: number[] = [];
    const t0 = Date.now();
    const res = await postJson(h.url, body, { ...fast, onRetry: (r) => waits.push(r.waitMs) });
    expect(res).toEqual({ status: 200, attempts: 2 });
    expect(waits).toEqual([1000]);
    expect(h.requests).toHaveLength(2);
    expect(h.requests[1]!.at - h.requests[0]!.at).toBeGreaterThanOrEqual(1000);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
  });

  it('caps a long Retry-After at maxRetryAfterMs', async () => {
    const h = await hook({ script: [{ status: 429, headers: { 'retry-after': '3600' } }] });
    const waits: number[] = [];
    await postJson(h.url, body, { ...fast, maxRetryAfterMs: 150, onRetry: (r) => waits.push(r.waitMs) });
    expect(waits).toEqual([150]);
    expect(h.requests).toHaveLength(2);
  });

  it('does not retry a 4xx other than 429', async () => {
    const h = await hook({ fallback: { status: 400, body: 'invalid_blocks' } });
    const err = await failure(postJson(h.url, body, fast));
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).permanent).toBe(true);
    expect((err as DeliveryError).status).toBe(400);
    expect(err.message).toContain('HTTP 400');
    expect(err.message).toContain('invalid_blocks');
    expect(h.requests).toHaveLength(1);
  });

  it('gives up after the configured number of attempts', async () => {
    const h = await hook({ fallback: { status: 503 } });
    const err = await failure(postJson(h.url, body, { ...fast, attempts: 4 }));
    expect(err).toBeInstanceOf(DeliveryError);
    expect((err as DeliveryError).permanent).toBe(false);
    expect((err as DeliveryError).attempts).toBe(4);
    expect(err.message).toMatch(/failed after 4 attempts; last: HTTP 503/);
    expect(h.requests).toHaveLength(4);
  });

  it('never puts the webhook URL in an error, even when the server echoes it', async () => {
    const echo = await hook({ fallback: (req) => ({ status: 500, body: `no such hook http://127.0.0.1${req.path} ${req.path}` }) });
    const e1 = await failure(postJson(echo.url, body, { ...fast, attempts: 2 }));
    const refused = await hook({ fallback: (req) => ({ status: 404, body: `no_service ${req.path}` }) });
    const e2 = await failure(postJson(refused.url, body, fast));

    // Connection refused: a port nobody listens on.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const deadUrl = `http://127.0.0.1:${port}/services/T0/B0/deadsecret`;
    const e3 = await failure(postJson(deadUrl, body, { ...fast, attempts: 2 }));
    expect(e3.message).toMatch(/network error \(ECONNREFUSED\)/);

    for (const [err, url, path] of [
      [e1, echo.url, echo.secretPath],
      [e2, refused.url, refused.secretPath],
      [e3, deadUrl, '/services/T0/B0/deadsecret'],
    ] as const) {
      const all = `${err.message}\n${err.stack ?? ''}\n${JSON.stringify(err)}`;
      expect(all).not.toContain(url);
      expect(all).not.toContain(path);
      expect(all).not.toContain('secret');
    }
  });

  it('retries a timeout as a network error', async () => {
    // undici's timers are coarse (about a second), hence a slow server rather than a tight timeout.
    const h = await hook({ delayMs: 4000 });
    const err = await failure(postJson(h.url, body, { ...fast, attempts: 2, timeoutMs: 200 }));
    expect(err.message).toMatch(/failed after 2 attempts; last: network error/);
    expect(h.requests).toHaveLength(2);
  });

  it('stops waiting between attempts when aborted', async () => {
    const h = await hook({ fallback: { status: 500 } });
    const ac = new AbortController();
    const p = postJson(h.url, body, { baseMs: 10_000, maxMs: 10_000, signal: ac.signal, onRetry: () => ac.abort() });
    const err = await failure(p);
    expect(err).toBeInstanceOf(DeliveryAbortedError);
    expect(h.requests).toHaveLength(1);
  });
});

describe('retry arithmetic', () => {
  it('parses Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('1')).toBe(1000);
    expect(parseRetryAfter(' 30 ')).toBe(30_000);
    expect(parseRetryAfter(undefined)).toBeUndefined();
    expect(parseRetryAfter('soon')).toBeUndefined();
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(parseRetryAfter('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tue, 31 Dec 2024 23:00:00 GMT', now)).toBe(0);
  });

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffMs(1, 500, 30_000, () => 0)).toBe(250);
    expect(backoffMs(1, 500, 30_000, () => 0.999999)).toBe(500);
    expect(backoffMs(3, 500, 30_000, () => 0)).toBe(1000);
    expect(backoffMs(3, 500, 30_000, () => 0.999999)).toBe(2000);
    expect(backoffMs(20, 500, 30_000, () => 0.999999)).toBe(30_000);
  });
});
