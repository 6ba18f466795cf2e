/**
 * The poison-message policy of `runConsumer` on a real Kafka: a message that keeps failing is
 * dead-lettered after its attempts and the partition goes on; an outage is waited out with the
 * partition shown as retrying; a failing run through `handleBatch` costs only its poison message.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { DlqRecordSchema, dlqTopic } from '@cratewatch/shared';
import { createTopicsAndWait, kafkaBrokers, sendWhenReady, uniqueName } from '../../../test/helpers.js';
import { ConsumerHealth } from '../src/consumer-health.js';
import { runConsumer, type ConsumedMessage } from '../src/consumer.js';
import { logger } from '../src/log.js';

let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  kafka = new Kafka({ clientId: 'poison-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
});
afterAll(async () => {
  await producer?.disconnect();
});

/** A topic of one partition and its DLQ, with `values` produced to it in order. */
async function topicWith(values: string[]): Promise<string> {
  const topic = uniqueName('poison');
  const admin = kafka.admin();
  await admin.connect();
  await createTopicsAndWait(admin, [
    { topic, numPartitions: 1 },
    { topic: dlqTopic(topic), numPartitions: 1 },
  ]);
  await admin.disconnect();
  await sendWhenReady(producer, { topic, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
  return topic;
}

/** Every record on `<topic>.dlq` once `count` have arrived. */
async function dlqRecords(topic: string, count: number) {
  const consumer = kafka.consumer({ groupId: uniqueName('dlq-reader'), maxWaitTimeInMs: 200 });
  const got: ReturnType<typeof DlqRecordSchema.parse>[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic: dlqTopic(topic), fromBeginning: true });
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ message }) => {
        got.push(DlqRecordSchema.parse(JSON.parse(message.value!.toString())));
        if (got.length >= count) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();
  return got;
}

async function committedOffset(groupId: string, topic: string): Promise<string> {
  const admin = kafka.admin();
  await admin.connect();
  const [t] = await admin.fetchOffsets({ groupId, topics: [topic] });
  await admin.disconnect();
  return t!.partitions[0]!.offset;
}

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fast = { attempts: 3, baseMs: 5, maxMs: 20 };

describe('runConsumer poison-message policy (real Kafka)', () => {
  it('dead-letters a message that fails every attempt, with the error and attempts, and goes on', async () => {
    const topic = await topicWith(['ok-1', 'poison', 'ok-2']);
    const groupId = uniqueName('g');
    const applied: string[] = [];
    const tries = new Map<string, number>();
    const loop = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'test',
      log: logger('poison-test'),
      policy: fast,
      handle: async (m: ConsumedMessage) => {
        const v = m.message.value!.toString();
        tries.set(v, (tries.get(v) ?? 0) + 1);
        if (v === 'poison') throw new Error('Invalid Version: 0.1.5@git:1f3c657c');
        applied.push(v);
      },
    });
    try {
      const [rec] = await dlqRecords(topic, 1);
      expect(rec).toMatchObject({
        topic,
        offset: '1',
        key: 'k1',
        value: 'poison',
        service: 'test',
        attempts: 3,
        failure: 'failed',
        error: 'Error: Invalid Version: 0.1.5@git:1f3c657c',
      });
      await until(() => applied.length === 2, 'the message behind the poison one');
      expect(applied).toEqual(['ok-1', 'ok-2']);
      expect(tries.get('poison')).toBe(3);
      await until(async () => (await committedOffset(groupId, topic)) === '3', 'the committed offset at the end');
    } finally {
      await loop.stop();
    }
  });

  it('applies the rest of a failing handleBatch run and dead-letters only its poison message', async () => {
    const topic = await topicWith(['a', 'b', 'poison', 'c', 'bad']);
    const groupId = uniqueName('g');
    const applied: string[] = [];
    const batchSizes: number[] = [];
    const apply = (v: string) => {
      if (v === 'poison') throw new TypeError("Cannot read properties of undefined (reading 'version')");
      applied.push(v);
    };
    const loop = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'test',
      log: logger('poison-test'),
      policy: fast,
      handle: async (m) => apply(m.message.value!.toString()),
      handleBatch: async (ms) => {
        batchSizes.push(ms.length);
        const refused = new Map<string, Error>();
        // A batch handler that is all-or-nothing: one bad message fails the transaction.
        for (const m of ms) if (m.message.value!.toString() === 'poison') throw new TypeError('in the batch');
        for (const m of ms) {
          if (m.message.value!.toString() === 'bad') refused.set(m.message.offset, new Error('bad: refused'));
          else apply(m.message.value!.toString());
        }
        return refused;
      },
    });
    try {
      const recs = await dlqRecords(topic, 1);
      expect(recs[0]).toMatchObject({ offset: '2', value: 'poison', attempts: 3, failure: 'failed' });
      await until(async () => (await committedOffset(groupId, topic)) === '5', 'the committed offset at the end');
      expect(applied.filter((v) => v !== 'bad').sort()).toEqual(['a', 'b', 'c']);
    } finally {
      await loop.stop();
    }
  });

  it('keeps its partition through a run applied one by one that outlasts the session', async () => {
    // 200 messages (one run), the 11th poison, 60 ms each one by one: after the poison one (whose
    // retries beat) ~11 s, longer than a 6 s session.
    // Without heartbeats and commits between messages the group drops the member mid-run, the run
    // starts over and the poison message is dead-lettered again and again.
    const values = Array.from({ length: 200 }, (_, i) => (i === 10 ? 'poison' : `m${i}`));
    const topic = await topicWith(values);
    const groupId = uniqueName('g');
    const session = process.env.KAFKA_SESSION_TIMEOUT_MS;
    process.env.KAFKA_SESSION_TIMEOUT_MS = '6000';
    const apply = async (v: string) => {
      await new Promise((r) => setTimeout(r, 60));
      if (v === 'poison') throw new Error('poison');
    };
    const loop = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'test',
      log: logger('poison-test'),
      policy: fast,
      handle: (m) => apply(m.message.value!.toString()),
      handleBatch: async (ms) => {
        if (ms.some((m) => m.message.value!.toString() === 'poison')) throw new Error('the run fails as a whole');
        return new Map();
      },
    });
    if (session === undefined) delete process.env.KAFKA_SESSION_TIMEOUT_MS;
    else process.env.KAFKA_SESSION_TIMEOUT_MS = session;
    try {
      await until(async () => (await committedOffset(groupId, topic)) === '200', 'the committed offset at the end', 120_000);
      const admin = kafka.admin();
      await admin.connect();
      const dlqEnd = await admin.fetchTopicOffsets(dlqTopic(topic));
      await admin.disconnect();
      expect(dlqEnd.reduce((n, p) => n + Number(p.high), 0)).toBe(1);
    } finally {
      await loop.stop();
    }
  }, 180_000);

  it('waits out an outage without dead-lettering, showing the partition as retrying', async () => {
    const topic = await topicWith(['m0', 'm1']);
    const groupId = uniqueName('g');
    const health = new ConsumerHealth(groupId, 'test');
    let down = true;
    let outageTries = 0;
    const applied: string[] = [];
    const loop = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'test',
      log: logger('poison-test'),
      health,
      policy: fast,
      handle: async (m) => {
        if (down) {
          outageTries++;
          throw Object.assign(new Error('Could not perform discovery'), { name: 'Neo4jError', code: 'ServiceUnavailable' });
        }
        applied.push(m.message.value!.toString());
      },
    });
    try {
      // Far more tries than attempts: an outage is not the message's fault.
      await until(() => outageTries >= 10, 'ten tries through the outage');
      const stuck = health.partitions().find((p) => p.topic === topic);
      expect(stuck?.retrying).toMatchObject({ kind: 'unavailable', offset: '0' });
      expect(applied).toEqual([]);
      down = false;
      await until(() => applied.length === 2, 'both messages once the server is back');
      expect(applied).toEqual(['m0', 'm1']);
      await until(() => health.partitions().find((p) => p.topic === topic)?.retrying === undefined, 'the retrying mark cleared');
      await until(async () => (await committedOffset(groupId, topic)) === '2', 'the committed offset at the end');
      expect(ConsumerHealth.lag(health.partitions().find((p) => p.topic === topic)!)).toBe(0);
    } finally {
      await loop.stop();
    }
  });
});
