import { afterEach, describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import { DeliveryError } from '../src/deliver.js';
import { NotifierMetrics } from '../src/metrics.js';
import { channelOf, sender } from '../src/send.js';
import { WebhookSigner, verifySignature } from '../src/signing.js';
import { plainTextAlert, plainTextDigest, slackDigest, slackMessage } from '../src/slack.js';
import { slackBody } from '../src/to-slack.js';
import { stdoutText } from '../src/to-stdout.js';
import { webhookBody } from '../src/to-webhook.js';
import { captureLogger, startWebhook, type Webhook } from './helpers.js';

const finding = (n: number, o: Partial<FindingEvent> = {}): FindingEvent => ({
  v: 1,
  id: `ws-a|crate${n}|1.0.${n}|advisory:RUSTSEC-2025-00${10 + n}`,
  kind: 'advisory',
  state: 'open',
  severity: 'high',
  score: 7.5,
  workspace: { id: 'ws-a', org: 'acme', team: 'payments' },
  crate: `crate${n}`,
  version: `1.0.${n}`,
  why: [{ signal: 'advisory.vulnerability', contribution: 7.5, detail: `RUSTSEC-2025-00${10 + n}` }],
  advisory: {
    id: `RUSTSEC-2025-00${10 + n}`,
    title: `flaw ${n}`,
    url: `https://rustsec.org/advisories/RUSTSEC-2025-00${10 + n}.html`,
    patched: [],
    aliases: [],
  },
  observedAt: '2025-02-01T00:00:00.000Z',
  ...o,
});

describe('destinations', () => {
  const f = finding(1);
  it('Slack gets Block Kit: the message of one state (escalated when it rose), the digest of a burst', () => {
    expect(slackBody({ finding: f })).toEqual(slackMessage(f));
    expect(slackBody({ finding: f, escalatedFrom: 'medium' })).toEqual(slackMessage(f, { escalatedFrom: 'medium' }));
    expect(slackBody({ finding: f, escalatedFrom: 'medium' })).not.toEqual(slackMessage(f));
    expect(slackBody({ digest: [f, finding(2)] })).toEqual(slackDigest([f, finding(2)]));
  });
  it('a signed webhook gets the finding itself, or {digest: true, findings}', () => {
    expect(webhookBody({ finding: f, escalatedFrom: 'medium' })).toBe(f);
    expect(webhookBody({ digest: [f, finding(2)] })).toEqual({ digest: true, findings: [f, finding(2)] });
  });
  it('stdout gets the text block, one line apart', () => {
    expect(stdoutText({ finding: f })).toBe(`${plainTextAlert(f, {})}\n`);
    expect(stdoutText({ finding: f, escalatedFrom: 'low' })).toBe(`${plainTextAlert(f, { escalatedFrom: 'low' })}\n`);
    expect(stdoutText({ digest: [f] })).toBe(`${plainTextDigest([f])}\n`);
  });
  it('a route without a URL prints; a webhook route is a webhook; anything else is Slack', () => {
    expect(channelOf({ type: 'print' })).toBe('stdout');
    expect(channelOf({})).toBe('stdout');
    expect(channelOf({ webhookUrl: 'https://x.test/h', type: 'webhook' })).toBe('webhook');
    expect(channelOf({ webhookUrl: 'https://x.test/h' })).toBe('slack');
    expect(channelOf({ webhookUrl: 'https://x.test/h', type: 'slack' })).toBe('slack');
  });
});

describe('sender (loopback webhook)', () => {
  let hook: Webhook | undefined;
  afterEach(async () => {
    await hook?.close();
    hook = undefined;
  });
  const counted = async (m: NotifierMetrics) => (await m.deliveries.get()).values.map((v) => ({ ...v.labels, value: v.value }));

  it('prints to `out` for a print route, and counts it delivered', async () => {
    const printed: string[] = [];
    const metrics = new NotifierMetrics();
    const send = sender({ out: (t) => printed.push(t), signal: new AbortController().signal, metrics, log: captureLogger() });
    expect(await send({ name: 'terminal', type: 'print' }, { digest: [finding(1), finding(2)] }, {})).toBe(1);
    expect(printed).toEqual([stdoutText({ digest: [finding(1), finding(2)] })]);
    expect(await counted(metrics)).toEqual([{ route: 'terminal', form: 'digest', outcome: 'delivered', value: 1 }]);
  });

  it('posts Block Kit to a Slack route, after a retry that is logged without the URL', async () => {
    hook = await startWebhook({ script: [{ status: 503 }] });
    const log = captureLogger();
    const metrics = new NotifierMetrics();
    const send = sender({
      out: () => undefined,
      delivery: { baseMs: 1, maxMs: 2 },
      signal: new AbortController().signal,
      metrics,
      log,
    });
    const f = finding(3);
    expect(await send({ name: 'ops', webhookUrl: hook.url }, { finding: f }, { finding: f.id })).toBe(2);
    expect(hook.requests.map((r) => r.json)).toEqual([slackMessage(f), slackMessage(f)]);
    const retry = log.entries.find((e) => e.msg === 'webhook delivery failed; retrying')!;
    expect(retry.fields).toMatchObject({ finding: f.id, route: 'ops', attempt: 1 });
    expect(JSON.stringify(log.entries)).not.toContain(hook.secretPath);
    expect(await counted(metrics)).toEqual([{ route: 'ops', form: 'single', outcome: 'delivered', value: 1 }]);
  });

  it('signs the exact body posted to a webhook route; a refusal is a DeliveryError counted failed', async () => {
    const secret = 'a-long-enough-test-secret-0123456789';
    hook = await startWebhook({ script: [{ status: 200 }, { status: 410 }] });
    const metrics = new NotifierMetrics();
    const send = sender({ out: () => undefined, signal: new AbortController().signal, metrics, log: captureLogger() });
    const route = { name: 'siem', type: 'webhook' as const, webhookUrl: hook.url, signer: new WebhookSigner(secret) };
    const f = finding(4);
    await send(route, { finding: f }, {});
    const [req] = hook.requests;
    expect(req!.json).toEqual(f);
    expect(
      verifySignature(
        secret,
        req!.body,
        req!.headers['x-cratewatch-timestamp'] as string,
        req!.headers['x-cratewatch-signature'] as string,
      ),
    ).toEqual({ ok: true });
    await expect(send(route, { digest: [f, finding(5)] }, {})).rejects.toBeInstanceOf(DeliveryError);
    expect(hook.requests[1]!.json).toEqual({ digest: true, findings: [f, finding(5)] });
    expect(await counted(metrics)).toEqual([
      { route: 'siem', form: 'single', outcome: 'delivered', value: 1 },
      { route: 'siem', form: 'digest', outcome: 'failed', value: 1 },
    ]);
  });
});
