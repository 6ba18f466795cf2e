/**
 * What a handler's error means for the message it was handling — the poison-message policy's
 * first question. Three answers:
 *
 * - `bad-input`: the message itself is wrong (schema, key, a refused value). Retrying cannot help:
 *   it goes to `<topic>.dlq` at once.
 * - `unavailable`: a server we depend on is not answering (Kafka or Neo4j connection refused or
 *   reset, a leader moving, a request timing out, a transient Neo4j error). The message is fine;
 *   it is retried with capped backoff for as long as the outage lasts, and health says so.
 * - `failed`: anything else — most likely a bug meeting an input nobody foresaw. Retried a few
 *   times (a rare race may pass), then dead-lettered with the error so the partition goes on.
 */
import { EventValidationError } from '@cratewatch/shared';

export type FailureKind = 'bad-input' | 'unavailable' | 'failed';

/** An input the handler refuses: it goes to the DLQ with this reason instead of being retried. */
export class BadMessageError extends Error {
  override name = 'BadMessageError';
}

/** Node socket errors that mean "the other side is not there right now". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ECONNABORTED',
]);

/** kafkajs error classes that are about reaching the cluster, not about the message. */
const KAFKA_UNAVAILABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSLockTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSStaleTopicMetadataAssignment',
]);

/** neo4j-driver codes for a database that cannot serve us now (the driver marks most of them retriable). */
const NEO4J_UNAVAILABLE =
  /^(ServiceUnavailable|SessionExpired|Neo\.TransientError\.|Neo\.ClientError\.Cluster\.NotALeader|Neo\.ClientError\.Security\.AuthorizationExpired)/;

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  retriable?: unknown;
  cause?: unknown;
  originalError?: unknown;
}

/** Classifies an error by itself and what it wraps (kafkajs' `originalError`, `cause`). */
export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof EventValidationError || err instanceof BadMessageError) return 'bad-input';
  for (const e of causeChain(err)) if (isUnavailable(e)) return 'unavailable';
  return 'failed';
}

function isUnavailable(e: ErrorLike): boolean {
  const name = typeof e.name === 'string' ? e.name : '';
  const code = typeof e.code === 'string' ? e.code : '';
  if (KAFKA_UNAVAILABLE.has(name)) return true;
  // A broker's answer that kafkajs itself would retry (leader not available, not the leader, …).
  if (name === 'KafkaJSProtocolError' && e.retriable === true) return true;
  if (NETWORK_CODES.has(code)) return true;
  if (name === 'Neo4jError' && NEO4J_UNAVAILABLE.test(code)) return true;
  return false;
}

function* causeChain(err: unknown): Generator<ErrorLike> {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e) && seen.size < 10) {
    seen.add(e);
    yield e as ErrorLike;
    const next: unknown = (e as ErrorLike).originalError ?? (e as ErrorLike).cause;
    e = next;
  }
}

/** `Name: message` of an error, for DLQ records and logs. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.startsWith(err.name) ? err.message : `${err.name}: ${err.message}`;
  return String(err);
}
