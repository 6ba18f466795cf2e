/**
 * A partition stuck retrying, on a real Kafka: a `runConsumer` loop whose handler always finds
 * its server unavailable shows in /readyz (503, naming the partition and offset) and in the lag
 * metric of /metrics, served by the ops server from the loop's own health and observer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { dlqTopic } from '@cratewatch/shared';
import { createTopicsAndWait, kafkaBrokers, sendWhenReady, uniqueName } from '../../../test/helpers.js';
import { ConsumerHealth } from '../src/consumer-health.js';
import { runConsumer } from '../src/consumer.js';
import { logger } from '../src/log.js';
import { Metrics } from '../src/metrics.js';
import { opsTokenFromEnv, startOpsServer } from '../src/ops.js';
import { consumerCheck, kafkaCheck } from '../src/readiness.js';

const TOKEN = 'ops-kafka-test-token-0123456789';
const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
let kafka: Kafka;
let producer: Producer;

beforeAll(async () => {
  kafka = new Kafka({ clientId: 'ops-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  producer = kafka.producer();
  await producer.connect();
});
afterAll(async () => {
  await producer?.disconnect();
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a stuck partition in /readyz and /metrics (real Kafka)', () => {
  it('an always-unavailable handler: /readyz 503 naming the partition, lag and retrying time in /metrics', async () => {
    const topic = uniqueName('ops-stuck');
    const admin = kafka.admin();
    await admin.connect();
    await createTopicsAndWait(admin, [
      { topic, numPartitions: 1 },
      { topic: dlqTopic(topic), numPartitions: 1 },
    ]);
    await admin.disconnect();
    await sendWhenReady(producer, { topic, messages: ['a', 'b', 'c'].map((value) => ({ key: value, value })) });

    const groupId = uniqueName('ops-g');
    const metrics = new Metrics('test');
    const health = metrics.watch(new ConsumerHealth(groupId, 'test'));
    const loop = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'test',
      log: logger('ops-kafka-test'),
      health,
      observer: metrics.observer(),
      policy: { attempts: 3, baseMs: 5, maxMs: 50 },
      handle: async () => {
        throw Object.assign(new Error('Could not perform discovery'), { name: 'Neo4jError', code: 'ServiceUnavailable' });
      },
    });
    const ops = await startOpsServer(
      { host: '127.0.0.1', port: 0 },
      {
        metrics,
        log: logger('ops-kafka-test'),
        token: opsTokenFromEnv({ CRATEWATCH_OPS_TOKEN: TOKEN }),
        checks: [kafkaCheck(kafka), consumerCheck('consumer', health, { maxRetrySeconds: 1, maxLag: 10_000 })],
      },
    );
    try {
      const body = await until('/readyz to report the stuck partition', async () => {
        const res = await fetch(`${ops.url}/readyz`, auth);
        const b = (await res.json()) as { failing?: string[]; checks: Record<string, { ok: boolean }> };
        return res.status === 503 && b.failing?.some((f) => f.includes('stuck')) ? b : undefined;
      });
      expect(body.checks.kafka!.ok).toBe(true);
      expect(body.failing).toEqual([
        expect.stringMatching(
          new RegExp(
            `^consumer: ${topic}/0 stuck retrying offset 0 for \\d+ s \\(unavailable, attempt \\d+\\): Neo4jError: Could not perform discovery$`,
          ),
        ),
      ]);

      const text = await (await fetch(`${ops.url}/metrics`, auth)).text();
      expect(text).toContain(`cratewatch_consumer_lag{group="${groupId}",topic="${topic}",partition="0",service="test"} 3`);
      expect(text).toMatch(
        new RegExp(
          `cratewatch_consumer_retrying_seconds\\{group="${groupId}",topic="${topic}",partition="0",kind="unavailable",service="test"\\} [1-9]`,
        ),
      );
      expect(text).toMatch(new RegExp(`cratewatch_retries_total\\{topic="${topic}",kind="unavailable",service="test"\\} [1-9]`));
      expect(text).toContain(`cratewatch_messages_consumed_total{topic="${topic}",service="test"} 3`);
    } finally {
      await ops.close();
      await loop.stop();
    }
  });
});
