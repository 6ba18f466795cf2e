/**
 * Kafka wiring shared by the three services: the client from the environment, topic creation with
 * the design's retention, the producer, and the `<topic>.dlq` record. The consumer loop and its
 * poison-message policy are in consumer.ts.
 */
import { Kafka, logLevel, type Producer, type Admin } from 'kafkajs';
import { COMPACTED_TOPICS, TOPIC_PREFIX, DlqRecordSchema, TOPICS, dlqTopic, type DlqRecord } from '@cratewatch/shared';
import { logger, type Logger } from './log.js';

export function brokersFromEnv(): string[] {
  const raw = process.env.KAFKA_BROKERS;
  if (!raw) throw new Error('KAFKA_BROKERS is not set (e.g. KAFKA_BROKERS=127.0.0.1:19092; `infra/local/start` prints it)');
  return raw.split(',').map((s) => s.trim()).filter(Boolean);
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

/** Topics the service's own bookkeeping needs besides the design's topics. */
export const INTERNAL_TOPICS = { deliveries: `${TOPIC_PREFIX}notifier.deliveries` } as const;

/**
 * Creates every design topic and its DLQ (idempotent). Compacted topics keep the latest value per
 * key; `crates.releases` and the DLQs are long-retention delete topics.
 */
export async function ensureTopics(admin: Admin, partitions = Number(process.env.KAFKA_PARTITIONS ?? 3)): Promise<void> {
  const existing = new Set(await admin.listTopics());
  const wanted: { topic: string; compacted: boolean }[] = [];
  for (const t of Object.values(TOPICS)) {
    wanted.push({ topic: t, compacted: COMPACTED_TOPICS.includes(t) });
    wanted.push({ topic: dlqTopic(t), compacted: false });
  }
  wanted.push({ topic: INTERNAL_TOPICS.deliveries, compacted: true });
  const missing = wanted.filter((w) => !existing.has(w.topic));
  if (missing.length > 0) {
    await admin.createTopics({
    waitForLeaders: true,
    topics: missing.map((w) => ({
      topic: w.topic,
      numPartitions: partitions,
      replicationFactor: -1,
      configEntries: w.compacted
        ? [{ name: 'cleanup.policy', value: 'compact' }]
        : [{ name: 'retention.ms', value: String(90 * 24 * 3600 * 1000) }],
    })),
    });
  }
  // Another service may have created the topics a moment ago: wait until every partition has a
  // leader, or the first offset lookup or produce fails with "not the leader".
  const topics = wanted.map((w) => w.topic);
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const meta = await admin.fetchTopicMetadata({ topics });
      if (meta.topics.every((t) => t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0))) return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
    if (Date.now() > deadline) throw new Error(`topics have no leader after 60 s: ${topics.join(', ')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
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
  return JSON.stringify({ v: 1, topic: r.topic, partition: -1, offset: '-', key: r.key, value: r.value, ...r.extra, error: r.error, service: r.service, at: r.at ?? new Date().toISOString() });
}

