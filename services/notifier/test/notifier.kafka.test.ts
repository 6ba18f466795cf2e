/**
 * The notifier on real Kafka (KAFKA_BROKERS, provided by the root vitest globalSetup) with the
 * Slack webhook played by a real HTTP server on loopback. This file runs in its own topic namespace
 * (CRATEWATCH_TOPIC_PREFIX, set before @cratewatch/shared loads), so a demo or a service on the same
 * cluster never sees these findings. Within it, each test still uses its own workspace id (the
 * finding key's prefix) and its own consumer group, and looks only at its own keys.
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-test-${Date.now().toString(36)}.`;
});

import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOPICS, type FindingEvent } from '@cratewatch/shared';
import type { NotifierOptions } from '../src/index.js';
import { settle, uniq as unique, useKafka, waitFor, type Webhook } from './helpers.js';

const env = useKafka('notifier-test-');
const { produce, hook } = env;
const uniq = () => unique('nt');
/** A notifier that handles only this workspace's findings. */
const notifier = (ws: string, opts: NotifierOptions) => env.notifier([ws], opts);
const dlqReader = async (keyPrefix: string) => ({ records: await env.dlqReader(keyPrefix) });

function finding(ws: string, n: number, state: 'open' | 'resolved' = 'open', observedAt = '2025-03-01T10:00:00.000Z'): FindingEvent {
  const advisory = `RUSTSEC-2025-${String(1000 + n).padStart(4, '0')}`;
  return {
    v: 1,
    id: `${ws}|crate${n}|1.${n}.0|advisory:${advisory}`,
    kind: 'advisory',
    state,
    severity: 'high',
    score: 7.5,
    workspace: { id: ws, org: 'acme', team: 'core' },
    crate: `crate${n}`,
    version: `1.${n}.0`,
    why: [{ signal: 'advisory.vulnerability', contribution: 7.5, detail: `${advisory}: test` }],
    advisory: {
      id: advisory,
      title: `test advisory ${n}`,
      url: `https://rustsec.org/advisories/${advisory}.html`,
      patched: [`>=1.${n}.1`],
      aliases: [],
    },
    observedAt,
  };
}

/** Finding ids the webhook received, in order (from the Block Kit fallback text, via the header). */
function receivedIds(h: Webhook, ws: string): string[] {
  return h.requests
    .map((r) => r.json as { text: string; blocks: { type: string; text?: { text: string } }[] })
    .filter((m) => m.text.includes(` in ${ws} `))
    .map((m) => `${m.text.startsWith('[RESOLVED]') ? 'resolved' : 'open'} ${/RUSTSEC-\d{4}-\d{4}/.exec(m.text)?.[0]}`);
}

describe('notifier on real Kafka', () => {
  it('delivers each finding once; replays, restarts and a new group send nothing twice; a state change is sent', async () => {
    const ws = uniq();
    const h = await hook();
    const groupId = `notifier-test-${uniq()}`;
    const n1 = await notifier(ws, { webhookUrl: h.url, groupId });
    const fs = [finding(ws, 1), finding(ws, 2), finding(ws, 3)];
    await produce(...fs);
    await waitFor('3 alerts', () => receivedIds(h, ws).length >= 3);
    expect(receivedIds(h, ws).sort()).toEqual(['open RUSTSEC-2025-1001', 'open RUSTSEC-2025-1002', 'open RUSTSEC-2025-1003']);
    expect(h.requests.every((r) => r.path === h.secretPath)).toBe(true);

    // The same three again: skipped.
    await produce(...fs);
    await waitFor('3 skips', () => n1.log.entries.filter((e) => e.msg === 'skipped: already delivered').length >= 3);
    await settle();
    expect(receivedIds(h, ws)).toHaveLength(3);

    // A state change is its own alert.
    await produce(finding(ws, 2, 'resolved', '2025-03-02T10:00:00.000Z'));
    await waitFor('the resolved alert', () => receivedIds(h, ws).length >= 4);
    expect(receivedIds(h, ws)[3]).toBe('resolved RUSTSEC-2025-1002');
    await n1.stop();

    // A brand-new consumer group re-reads all of risk.findings; the delivery log stops every repeat,
    // including the stale 'open' of finding 2 that precedes its 'resolved' in the topic.
    const n2 = await notifier(ws, { webhookUrl: h.url, groupId: `notifier-test-${uniq()}` });
    await waitFor('replayed history skipped', () => n2.stats.skipped >= 7, 60_000);
    await settle();
    expect(n2.stats.delivered).toBe(0);
    expect(receivedIds(h, ws)).toHaveLength(4);
  });

  it('sends an invalid finding to risk.findings.dlq with the field named, ignores tombstones, and goes on', async () => {
    const ws = uniq();
    const h = await hook();
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier(ws, { webhookUrl: h.url, groupId: `notifier-test-${uniq()}` });
    const bad = { ...finding(ws, 1), severity: 'urgent' };
    await produce(
      { key: bad.id, value: JSON.stringify(bad) },
      { key: `${ws}|not-json`, value: '{oops' },
      { key: `${ws}|tombstone`, value: null },
      finding(ws, 2),
    );
    await waitFor('the valid finding delivered', () => receivedIds(h, ws).length >= 1);
    await waitFor('2 DLQ records', () => dlq.records.length >= 2);
    expect(receivedIds(h, ws)).toEqual(['open RUSTSEC-2025-1002']);
    const byKey = new Map(dlq.records.map((r) => [r.key, r]));
    const r1 = byKey.get(bad.id)!;
    expect(r1.error).toContain('severity');
    expect(r1.service).toBe('notifier');
    expect(r1.topic).toBe(TOPICS.findings);
    expect(JSON.parse(r1.value!)).toEqual(bad);
    expect(byKey.get(`${ws}|not-json`)!.error).toContain('not JSON');
    // Bad input: not marked undeliverable, so the re-drive never retries it.
    expect(r1.undeliverable).toBeUndefined();
    expect(byKey.get(`${ws}|not-json`)!.undeliverable).toBeUndefined();
    expect(n.stats.ignored).toBe(1);
  });

  it('dead-letters a finding the webhook refuses, with the reason, and delivers the next one', async () => {
    const ws = uniq();
    const h = await hook({
      fallback: (req) => (req.body.includes('crate1 1.1.0') ? { status: 400, body: 'invalid_blocks' } : { status: 200 }),
    });
    const dlq = await dlqReader(`${ws}|`);
    const n = await notifier(ws, { webhookUrl: h.url, groupId: `notifier-test-${uniq()}`, delivery: { attempts: 3, baseMs: 20 } });
    await produce(finding(ws, 1), finding(ws, 2));
    await waitFor('the next finding delivered', () => h.requests.some((r) => r.body.includes('crate2 1.2.0')) && n.stats.delivered >= 1);
    await waitFor('a DLQ record', () => dlq.records.length >= 1);
    expect(dlq.records[0]!.key).toBe(finding(ws, 1).id);
    expect(dlq.records[0]!.error).toMatch(/not delivered to Slack: webhook refused the message: HTTP 400: invalid_blocks/);
    expect(dlq.records[0]!.error).not.toContain(h.secretPath);
    expect(dlq.records[0]!.undeliverable).toEqual({ routes: ['default'], attempts: 0, firstAt: expect.any(String) });
    expect(n.stats).toMatchObject({ delivered: 1, deadLettered: 1 });
    // 5xx until the attempts run out: dead-lettered too, after exactly `attempts` tries.
    const h2 = await hook({ fallback: { status: 503 } });
    await n.stop();
    const n2 = await notifier(ws, { webhookUrl: h2.url, groupId: `notifier-test-${uniq()}`, delivery: { attempts: 3, baseMs: 20 } });
    await produce(finding(ws, 3));
    await waitFor('the 5xx finding dead-lettered', () => dlq.records.some((r) => r.key === finding(ws, 3).id));
    expect(dlq.records.find((r) => r.key === finding(ws, 3).id)!.error).toMatch(/failed after 3 attempts; last: HTTP 503/);
    expect(h2.requests.filter((r) => r.body.includes('crate3 1.3.0'))).toHaveLength(3);
    // (finding 1 was dead-lettered before, so the new group tries it again: it is not in the delivery log)
    await waitFor('n2 done', () => n2.stats.deadLettered >= 2);
  });

  it('stopped mid-stream and restarted with the same group: every finding delivered exactly once', async () => {
    const ws = uniq();
    const h = await hook({ delayMs: 150 });
    const groupId = `notifier-test-${uniq()}`;
    // One by one (no digest), so that the stop comes between two deliveries of the same window.
    const opts = { webhookUrl: h.url, groupId, digest: { threshold: 0 } };
    const n1 = await notifier(ws, opts);
    const fs = Array.from({ length: 12 }, (_, i) => finding(ws, i + 1));
    await produce(...fs);
    await waitFor('some alerts', () => receivedIds(h, ws).length >= 4);
    await n1.stop();
    const before = receivedIds(h, ws).length;
    expect(before).toBeLessThan(12); // stopped with findings still queued
    const n2 = await notifier(ws, opts);
    await waitFor('all 12 alerts', () => new Set(receivedIds(h, ws)).size >= 12, 60_000);
    await settle(2000);
    const ids = receivedIds(h, ws);
    expect(ids).toHaveLength(12);
    expect(new Set(ids).size).toBe(12);
    expect(n1.stats.delivered + n2.stats.delivered).toBe(12);
  });

  it('without a webhook prints each alert as text, once', async () => {
    const ws = uniq();
    const printed: string[] = [];
    const n = await notifier(ws, { groupId: `notifier-test-${uniq()}`, out: (t) => printed.push(t) });
    expect(n.channel).toBe('stdout');
    expect(printed[0]).toMatch(/no SLACK_WEBHOOK_URL set/);
    await produce(finding(ws, 1), finding(ws, 1));
    await waitFor('one alert printed and one skip', () => n.stats.delivered + n.stats.skipped >= 2);
    const alerts = printed.filter((t) => t.includes(ws));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toContain('== HIGH · RUSTSEC-2025-1001: test advisory 1');
    expect(alerts[0]).toContain('   crate:      crate1 1.1.0');
  });

  it('runs as a program: logs ready, delivers, never logs the webhook URL, stops on SIGTERM', async () => {
    const ws = uniq();
    const h = await hook();
    const main = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'main.js');
    const child = spawn(process.execPath, [main], {
      env: {
        ...process.env,
        KAFKA_BROKERS: env.brokers,
        SLACK_WEBHOOK_URL: h.url,
        NOTIFIER_GROUP: `notifier-test-${uniq()}`,
        NOTIFIER_KEY_PREFIX: `${ws}|`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    env.cleanup(async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    await waitFor('"ready" on stderr', () => stderr.split('\n').some((l) => l.includes('"msg":"ready"')), 60_000);
    await produce(finding(ws, 1));
    await waitFor('the alert', () => receivedIds(h, ws).length >= 1);
    await waitFor('the "sent" log line', () => stderr.includes('"msg":"sent"'));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    const lines = stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { msg: string; service: string });
    expect(lines.every((l) => l.service === 'notifier' || l.service.startsWith('kafkajs/'))).toBe(true);
    expect(lines.map((l) => l.msg)).toEqual(expect.arrayContaining(['delivery log loaded', 'ready', 'sent', 'stopping', 'stopped']));
    expect(stderr + stdout).not.toContain(h.secretPath);
    expect(stdout).toBe('');
  });
});
