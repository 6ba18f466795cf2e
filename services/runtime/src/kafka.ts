/**
 * Kafka wiring shared by the three services: the client from the environment and a consumer loop
 * that sends any message it cannot validate (or that the handler refuses as bad input) to
 * `<topic>.dlq` with the reason, and goes on. Topic creation and configs: topics.ts.
 *
 * Delivery is at-least-once: an offset is committed only after its message was handled, so a
 * restart repeats at most the messages in flight, and every handler is idempotent.
 */
import { Kafka, logLevel, type Consumer, type KafkaMessage, type Producer, type Admin } from 'kafkajs';
import { DlqRecordSchema, EventValidationError, dlqTopic, type DlqRecord } from '@cratewatch/shared';
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

/** An input the handler refuses: it goes to the DLQ with this reason instead of being retried. */
export class BadMessageError extends Error {
  override name = 'BadMessageError';
}

export interface ConsumedMessage {
  topic: string;
  partition: number;
  message: KafkaMessage;
  key: string | null;
}

export interface ConsumerLoopOptions {
  kafka: Kafka;
  producer: Producer;
  groupId: string;
  topics: string[];
  service: string;
  log: Logger;
  fromBeginning?: boolean;
  handle: (m: ConsumedMessage) => Promise<void>;
  /**
   * Optional: handles a run of messages from one partition at once (say, in one Neo4j transaction
   * instead of one per message, which is what bounds a bulk load). Returns the offsets it refused
   * as bad input with the reason (they go to the DLQ); throwing retries the whole run.
   */
  handleBatch?: (ms: ConsumedMessage[], at: BatchPosition) => Promise<Map<string, Error>>;
  /** Most messages given to `handleBatch` at once (default 200). */
  batchSize?: number;
}

/** Where a run handed to `handleBatch` ends in its partition. */
export interface BatchPosition {
  /** Its last message was the partition's last when fetched: nothing more is waiting (a lull). */
  caughtUp: boolean;
}

const isBadInput = (err: unknown): err is Error => err instanceof EventValidationError || err instanceof BadMessageError;

/** What a refused message becomes on the DLQ: its raw value as text, or base64 when it is not UTF-8. */
export function dlqRecord(
  service: string,
  m: { topic: string; partition: number; offset: string; key: Buffer | string | null; value: Buffer | string | null },
  error: string,
  at: Date = new Date(),
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
    at: at.toISOString(),
  });
}

export async function sendToDlq(
  producer: Producer,
  service: string,
  m: { topic: string; partition: number; offset: string; key: Buffer | string | null; value: Buffer | string | null },
  error: string,
): Promise<void> {
  const record = dlqRecord(service, m, error);
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

/**
 * Runs a consumer group until `stop()`. Bad input (validation or BadMessageError) goes to the DLQ;
 * any other error (Neo4j down, broker hiccup) is retried by kafkajs without committing, so nothing
 * is skipped.
 */
/** Runs `handle` on each message of a run, collecting bad input as refusals (for `handleBatch`). */
export async function eachRefusing(ms: ConsumedMessage[], handle: (m: ConsumedMessage) => Promise<void>): Promise<Map<string, Error>> {
  const refused = new Map<string, Error>();
  for (const m of ms) {
    try {
      await handle(m);
    } catch (err) {
      if (!isBadInput(err)) throw err;
      refused.set(m.message.offset, err);
    }
  }
  return refused;
}

/**
 * The group session every consumer uses: a crashed member holds its partitions until its session
 * times out (KAFKA_SESSION_TIMEOUT_MS, default 30 s); heartbeats go at a tenth of it (a consumer
 * that handles a long window itself beats at this interval too).
 */
export function groupSession(): { sessionTimeout: number; heartbeatInterval: number } {
  const sessionTimeout = Number(process.env.KAFKA_SESSION_TIMEOUT_MS ?? 30_000);
  return { sessionTimeout, heartbeatInterval: Math.max(500, Math.floor(sessionTimeout / 10)) };
}

/** A consumer of a group with the settings every service uses (`groupSession`). */
export function groupConsumer(kafka: Kafka, groupId: string): Consumer {
  return kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    ...groupSession(),
    // A short fetch wait: disconnecting waits for the fetch in flight (kafkajs' default is 5 s).
    maxWaitTimeInMs: 1000,
    retry: { retries: 1000 },
  });
}

export async function runConsumer(opts: ConsumerLoopOptions): Promise<{ consumer: Consumer; stop: () => Promise<void> }> {
  const consumer = groupConsumer(opts.kafka, opts.groupId);
  await consumer.connect();
  await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning ?? true });
  const refuse = async (m: ConsumedMessage, err: Error) => {
    opts.log.warn('refused message: sent to DLQ', { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.key, reason: err.message });
    await sendToDlq(opts.producer, opts.service, { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value }, err.message);
  };
  const handleBatch = opts.handleBatch;
  if (handleBatch) {
    const size = opts.batchSize ?? 200;
    await consumer.run({
      autoCommit: true,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
        const all: ConsumedMessage[] = batch.messages.map((message) => ({
          topic: batch.topic,
          partition: batch.partition,
          message,
          key: message.key === null ? null : message.key.toString(),
        }));
        for (let i = 0; i < all.length && isRunning() && !isStale(); i += size) {
          const run = all.slice(i, i + size);
          let refused: Map<string, Error>;
          try {
            // The high-watermark is the offset the next message will get: the run ends the partition when its last is just below.
            const caughtUp = BigInt(run[run.length - 1]!.message.offset) + 1n >= BigInt(batch.highWatermark);
            refused = await handleBatch(run, { caughtUp });
          } catch (err) {
            opts.log.error('batch handler failed; will retry', { topic: batch.topic, partition: batch.partition, from: run[0]!.message.offset, error: err });
            throw err;
          }
          for (const m of run) {
            const err = refused.get(m.message.offset);
            if (err) await refuse(m, err);
          }
          resolveOffset(run[run.length - 1]!.message.offset);
          await heartbeat();
        }
      },
    });
  } else {
    await consumer.run({
      autoCommit: true,
      eachMessage: async ({ topic, partition, message }) => {
        const m: ConsumedMessage = { topic, partition, message, key: message.key === null ? null : message.key.toString() };
        try {
          await opts.handle(m);
        } catch (err) {
          if (isBadInput(err)) return refuse(m, err);
          opts.log.error('handler failed; will retry', { topic, partition, offset: message.offset, key: m.key, error: err });
          throw err;
        }
      },
    });
  }
  return {
    consumer,
    stop: async () => {
      await consumer.disconnect();
    },
  };
}
