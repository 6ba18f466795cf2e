/**
 * The ops server without servers behind it: the token rule, /metrics in Prometheus text after the
 * consumer loop's observer was told things, and /readyz's 503 with reasons for a failing check and
 * for a partition stuck retrying (a ConsumerHealth whose retrying started before the threshold).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConsumerHealth } from '../src/consumer-health.js';
import { logger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { opsTokenFromEnv, parseListen, startOpsServer, type OpsServer } from '../src/ops.js';
import { consumerCheck, type ReadyCheck } from '../src/readiness.js';

const TOKEN = 'ops-unit-test-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
const limits = { maxRetrySeconds: 30, maxLag: 100 };
const servers: OpsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(checks: ReadyCheck[], metrics = new Metrics('test'), env: NodeJS.ProcessEnv = { CRATEWATCH_OPS_TOKEN: TOKEN }) {
  const s = await startOpsServer({ host: '127.0.0.1', port: 0 }, { metrics, checks, log: logger('ops-test'), token: opsTokenFromEnv(env) });
  servers.push(s);
  return s.url;
}

/** A health with one partition that has been retrying offset 7 since `sinceMsAgo`. */
function stuck(sinceMsAgo: number): ConsumerHealth {
  const h = new ConsumerHealth('g1', 'test');
  h.joinedAt = Date.now();
  h.fetched('facts', 0, '10', '7');
  h.retrying('facts', 0, {
    kind: 'unavailable',
    offset: '7',
    attempts: 12,
    since: Date.now() - sinceMsAgo,
    error: 'Neo4jError: Could not perform discovery',
  });
  return h;
}

describe('ops server', () => {
  it('answers /healthz openly, and 401 on /readyz and /metrics without the token or with a wrong one', async () => {
    const url = await serve([]);
    const alive = await fetch(`${url}/healthz`);
    expect(alive.status).toBe(200);
    expect(await alive.json()).toEqual({ status: 'alive' });
    for (const path of ['/readyz', '/metrics']) {
      const none = await fetch(`${url}${path}`);
      expect(none.status).toBe(401);
      expect(await none.json()).toEqual({ error: 'unauthorized' });
      const wrong = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${TOKEN}x` } });
      expect(wrong.status).toBe(401);
      expect(await wrong.text()).not.toContain(TOKEN);
      expect((await fetch(`${url}${path}`, { headers: auth })).status).toBe(200);
    }
    expect((await fetch(`${url}/other`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${url}/readyz`, { method: 'POST', headers: auth })).status).toBe(405);
  });

  it('without CRATEWATCH_OPS_TOKEN (or with a short one) answers 401 with a hint naming it, and keeps serving', async () => {
    for (const env of [{}, { CRATEWATCH_OPS_TOKEN: 'tiny-tok' }]) {
      const url = await serve([], new Metrics('test'), env);
      const res = await fetch(`${url}/metrics`, { headers: auth });
      expect(res.status).toBe(401);
      const body = (await res.json()) as { error: string; hint: string };
      expect(body.error).toBe('unauthorized');
      expect(body.hint).toContain('CRATEWATCH_OPS_TOKEN');
      expect(body.hint).not.toContain('tiny-tok');
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
  });

  it('serves Prometheus text with the shared metrics after the observer was told things', async () => {
    const metrics = new Metrics('test');
    metrics.watch(stuck(1000));
    const o = metrics.observer();
    o.consumed!('facts', 3);
    o.handled!('facts', 0.02, 'ok');
    o.retried!('facts', 'unavailable');
    o.deadLettered!('facts', 'bad-input');
    metrics.produced.inc({ topic: 'risk.findings' }, 2);
    const res = await fetch(`${await serve([], metrics)}/metrics`, { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(text).toContain('cratewatch_messages_consumed_total{topic="facts",service="test"} 3');
    expect(text).toContain('cratewatch_messages_produced_total{topic="risk.findings",service="test"} 2');
    expect(text).toContain('cratewatch_messages_dead_lettered_total{topic="facts",failure="bad-input",service="test"} 1');
    expect(text).toContain('cratewatch_retries_total{topic="facts",kind="unavailable",service="test"} 1');
    expect(text).toContain('cratewatch_handler_duration_seconds_count{service="test",topic="facts",outcome="ok"} 1');
    // offset 6 handled (the fetch started at 7), end 10: messages 7, 8, 9 wait.
    expect(text).toContain('cratewatch_consumer_lag{group="g1",topic="facts",partition="0",service="test"} 3');
    expect(text).toMatch(
      /cratewatch_consumer_retrying_seconds\{group="g1",topic="facts",partition="0",kind="unavailable",service="test"\} \d/,
    );
    expect(text).toContain('process_cpu_user_seconds_total');
  });

  it('/readyz: 200 with the checks when all pass; 503 with the reasons when a check fails or a partition is stuck', async () => {
    const ok: ReadyCheck = { name: 'kafka', run: async () => ({ brokers: 1 }) };
    const ready = await fetch(`${await serve([ok, consumerCheck('consumer', stuck(5_000), limits)])}/readyz`, { headers: auth });
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({
      status: 'ready',
      checks: { kafka: { ok: true, brokers: 1 }, consumer: { ok: true, retrying: 1, maxLag: 3 } },
    });

    const down: ReadyCheck = {
      name: 'neo4j',
      run: async () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' })),
    };
    const hangs: ReadyCheck = { name: 'slow', timeoutMs: 50, run: () => new Promise(() => undefined) };
    const res = await fetch(`${await serve([ok, down, hangs, consumerCheck('consumer', stuck(60_000), limits)])}/readyz`, {
      headers: auth,
    });
    expect(res.status).toBe(503);
    const body = (await res.json()) as { status: string; failing: string[]; checks: Record<string, { ok: boolean; error?: string }> };
    expect(body.status).toBe('not ready');
    expect(body.checks.kafka!.ok).toBe(true);
    expect(body.failing).toHaveLength(3);
    expect(body.failing[0]).toBe('neo4j: Error: connect ECONNREFUSED 127.0.0.1:1');
    expect(body.failing[1]).toBe('slow: no answer within 50 ms');
    expect(body.failing[2]).toMatch(
      /^consumer: facts\/0 stuck retrying offset 7 for 60 s \(unavailable, attempt 12\): Neo4jError: Could not perform discovery$/,
    );
  });

  it('/readyz: 503 when a partition lags beyond the limit or the consumer has not joined its group', async () => {
    const lagging = new ConsumerHealth('g2', 'test');
    lagging.joinedAt = Date.now();
    lagging.fetched('facts', 1, '500', '0');
    const never = new ConsumerHealth('g3', 'test');
    const res = await fetch(`${await serve([consumerCheck('a', lagging, limits), consumerCheck('b', never, limits)])}/readyz`, {
      headers: auth,
    });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { failing: string[] }).failing).toEqual(['a: facts/1 lag 500 > 100', 'b: not in its consumer group yet']);
  });

  it('parses listen addresses: host:port, [v6]:port, off, the default when unset', () => {
    expect(parseListen('X', undefined, '127.0.0.1:8422')).toEqual({ host: '127.0.0.1', port: 8422 });
    expect(parseListen('X', '[::1]:0', '127.0.0.1:8422')).toEqual({ host: '::1', port: 0 });
    expect(parseListen('X', 'off', '127.0.0.1:8422')).toBeUndefined();
    expect(() => parseListen('SCORER_HTTP_LISTEN', '8422', '127.0.0.1:8422')).toThrow(/SCORER_HTTP_LISTEN must be host:port or off/);
  });
});
