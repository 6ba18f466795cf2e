/**
 * Kafka wiring shared by the three services: the client from the environment, the producer, and
 * the `<topic>.dlq` record. Topic creation and configs: topics.ts; the consumer loop and its
 * poison-message policy: consumer.ts.
 */
import { Kafka, logLevel, type Producer, type Admin } from 'kafkajs';
import { DlqRecordSchema, dlqTopic, type DlqRecord } from '@cratewatch/shared';
import { envList, envRequired, type Env } from './env-config.js';
import { logger } from './log.js';

export function brokersFromEnv(env: Env = process.env): string[] {
  envRequired(env, 'KAFKA_BROKERS', 'e.g. KAFKA_BROKERS=127.0.0.1:19092; `infra/local/start` prints it');
  return envList(env, 'KAFKA_BROKERS');
}

export function kafkaClient(clientId: string, brokers = brokersFromEnv()): Kafka {
  return new Kafka({
    clientId,
    brokers,
    logLevel: logLevel.WARN,
    // kafkajs reports every retried request (leader moves, a coordinator loading) as an ERROR.
    // It retries those itself, and our code logs what finally fails, so they are warnings here,
    // in the same JSON lines (and through the same secret redaction) as the rest.
    logCreator: () => {
      const log = logger(`kafkajs/${clientId}`);
      return ({ level, log: entry }) => {
        const { message, timestamp: _t, logger: _l, ...fields } = entry as { message: string } & Record<string, unknown>;
        // kafkajs's own WARNs are advice to library users (partitioner change, retry limits).
        if (level === logLevel.ERROR) log.warn(message, fields);
        else log.debug(message, fields);
      };
    },
    retry: { initialRetryTime: 200, retries: 10 },
  });
}

export async function withAdmin<T>(kafka: Kafka, fn: (a: Admin) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

export function newProducer(kafka: Kafka): Producer {
  // Idempotent producer: a retried send is not written twice to the log.
  return kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
}

/** What a refused message becomes on the DLQ: its raw value as text, or base64 when it is not UTF-8. */
export function dlqRecord(
  service: string,
  m: { topic: string; partition: number; offset: string; key: Buffer | string | null; value: Buffer | string | null },
  error: string,
  at: Date = new Date(),
  /** How the message failed, when the consumer's poison-message policy dead-lettered it. */
  outcome: { attempts: number; failure: 'bad-input' | 'failed' } | undefined = undefined,
): DlqRecord {
  const valueText = m.value === null ? null : Buffer.isBuffer(m.value) ? m.value.toString('utf8') : m.value;
  const lossless = valueText === null || !Buffer.isBuffer(m.value) || Buffer.from(valueText, 'utf8').equals(m.value);
  return DlqRecordSchema.parse({
    v: 1,
    topic: m.topic,
    partition: m.partition,
    offset: m.offset,
    key: m.key === null ? null : m.key.toString(),
    value: lossless ? valueText : null,
    ...(lossless ? {} : { valueBase64: (m.value as Buffer).toString('base64') }),
    error,
    service,
    ...outcome,
    at: at.toISOString(),
  });
}

export async function sendToDlq(
  producer: Producer,
  service: string,
  m: { topic: string; partition: number; offset: string; key: Buffer | string | null; value: Buffer | string | null },
  error: string,
  outcome?: { attempts: number; failure: 'bad-input' | 'failed' },
): Promise<void> {
  const record = dlqRecord(service, m, error, new Date(), outcome);
  await producer.send({
    topic: dlqTopic(m.topic),
    messages: [{ key: m.key, value: JSON.stringify(record) }],
  });
}

/**
 * The `<topic>.dlq` value for something a source refused before it ever was a message: a bad
 * upstream file or answer. Same shape as what `sendToDlq` writes, with no partition or offset.
 */
export function upstreamDlqValue(r: {
  topic: string;
  key: string | null;
  value: string | null;
  error: string;
  service: string;
  at?: string;
  /** Extra fields kept beside the value (e.g. how much of it was cut). */
  extra?: Record<string, unknown>;
}): string {
  return JSON.stringify({
    v: 1,
    topic: r.topic,
    partition: -1,
    offset: '-',
    key: r.key,
    value: r.value,
    ...r.extra,
    error: r.error,
    service: r.service,
    at: r.at ?? new Date().toISOString(),
  });
}
