/** The webhook signature: what the notifier sends and what a receiver checks (checked here against node:crypto directly). */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSigner, signatureOf, verifySignature } from '../src/signing.js';

const secret = 'whsec-unit-0123456789abcdef';
const body = JSON.stringify({ v: 1, id: 'ws|aes|0.9.2|unvetted', note: 'ünïcode & "quotes"' });
const now = Date.parse('2025-03-01T10:00:00.000Z');

describe('webhook signatures', () => {
  it('signs "<timestamp>.<raw body>" with HMAC-SHA256, hex, prefixed sha256=', () => {
    const h = new WebhookSigner(secret).headers(body, now);
    expect(h[TIMESTAMP_HEADER]).toBe('1740823200');
    expect(h[SIGNATURE_HEADER]).toBe(`sha256=${createHmac('sha256', secret).update(`1740823200.${body}`, 'utf8').digest('hex')}`);
    expect(signatureOf(secret, 1740823200, Buffer.from(body))).toBe(h[SIGNATURE_HEADER]!.slice(7));
  });

  it('verifies a good signature; rejects another secret, a changed body, an old or future timestamp, malformed headers', () => {
    const h = new WebhookSigner(secret).headers(body, now);
    const ts = h[TIMESTAMP_HEADER]!;
    const sig = h[SIGNATURE_HEADER]!;
    expect(verifySignature(secret, body, ts, sig, { now })).toEqual({ ok: true });
    expect(verifySignature(secret, Buffer.from(body), ts, sig, { now: now + 299_000 })).toEqual({ ok: true });
    expect(verifySignature('whsec-unit-another-secret', body, ts, sig, { now })).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifySignature(secret, body.replace('0.9.2', '0.9.3'), ts, sig, { now })).toEqual({ ok: false, reason: 'signature mismatch' });
    // The timestamp is signed too: moving it forward breaks the signature.
    expect(verifySignature(secret, body, String(Number(ts) + 60), sig, { now })).toEqual({ ok: false, reason: 'signature mismatch' });
    expect(verifySignature(secret, body, ts, sig, { now: now + 301_000 })).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance',
    });
    expect(verifySignature(secret, body, ts, sig, { now: now - 301_000 })).toEqual({
      ok: false,
      reason: 'timestamp outside the tolerance',
    });
    expect(verifySignature(secret, body, undefined, sig, { now }).ok).toBe(false);
    expect(verifySignature(secret, body, ts, sig.replace('sha256=', 'sha1='), { now }).ok).toBe(false);
    expect(verifySignature(secret, body, ts, 'sha256=abc', { now }).ok).toBe(false);
  });

  it('refuses a short secret and never shows the secret', () => {
    expect(() => new WebhookSigner('short')).toThrow('a webhook secret must be at least 16 characters');
    const s = new WebhookSigner(secret);
    expect(JSON.stringify({ s })).toBe('{"s":"[webhook signer]"}');
    expect(Object.keys(s)).toEqual([]);
    expect(String(s)).not.toContain(secret);
  });
});
