/**
 * Signed generic webhooks: the body is the finding's JSON (or a digest's), and two headers let the
 * receiver check that cratewatch sent it, unaltered, recently:
 *
 *   X-Cratewatch-Timestamp: <unix seconds>
 *   X-Cratewatch-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * A receiver recomputes the HMAC over the raw bytes it received (before any JSON parsing), compares
 * in constant time, and rejects a timestamp too far from its own clock (replays). `verifySignature`
 * does exactly that, for receivers written in TypeScript/JavaScript and for the tests.
 *
 * The secret lives only inside a `WebhookSigner` (a private field: it is not enumerable, so it
 * never shows up in JSON, a log line or an error).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'X-Cratewatch-Timestamp';
export const SIGNATURE_HEADER = 'X-Cratewatch-Signature';
/** Shortest secret accepted (characters). */
export const MIN_SECRET_LENGTH = 16;
/** How far from the receiver's clock a timestamp may be, by default (seconds). */
export const DEFAULT_TOLERANCE_S = 300;

/** The hex HMAC-SHA256 of "<timestamp>.<body>" under `secret`. */
export function signatureOf(secret: string, timestamp: number | string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`).update(body).digest('hex');
}

export class WebhookSigner {
  readonly #secret: string;

  constructor(secret: string) {
    if (secret.length < MIN_SECRET_LENGTH) throw new Error(`a webhook secret must be at least ${MIN_SECRET_LENGTH} characters`);
    this.#secret = secret;
  }

  /** The two headers for `body`, signed at `now` (ms). */
  headers(body: string, now = Date.now()): Record<string, string> {
    const ts = Math.floor(now / 1000);
    return { [TIMESTAMP_HEADER]: String(ts), [SIGNATURE_HEADER]: `sha256=${signatureOf(this.#secret, ts, body)}` };
  }

  toJSON(): string {
    return '[webhook signer]';
  }
}

export type VerifyResult = { ok: true } | { ok: false; reason: string };

/**
 * What a receiver does: checks the signature over the raw body, in constant time, and that the
 * timestamp is within `toleranceS` of `now` (ms).
 */
export function verifySignature(
  secret: string,
  rawBody: string | Buffer,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  options: { now?: number; toleranceS?: number } = {},
): VerifyResult {
  if (!timestampHeader || !/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'missing or malformed timestamp' };
  const m = /^sha256=([0-9a-f]{64})$/.exec(signatureHeader ?? '');
  if (!m) return { ok: false, reason: 'missing or malformed signature' };
  const age = Math.abs((options.now ?? Date.now()) / 1000 - Number(timestampHeader));
  if (age > (options.toleranceS ?? DEFAULT_TOLERANCE_S)) return { ok: false, reason: 'timestamp outside the tolerance' };
  const expected = Buffer.from(signatureOf(secret, timestampHeader, rawBody), 'hex');
  const given = Buffer.from(m[1]!, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'signature mismatch' };
}
