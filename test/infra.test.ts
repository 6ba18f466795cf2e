/**
 * Proves the infrastructure the run got from test/infra.ts is real and fit for the services:
 * kafkajs 2.2.4 against Kafka 3.9 (admin, keyed produce, consumer group with manual commits, no
 * redelivery after reconnect, compacted topics, tombstones), and Neo4j 5.26 over Bolt
 * (uniqueness constraint, idempotent MERGE in UNWIND batches).
 */
import { Kafka, logLevel, Partitioners, type Consumer, type EachMessagePayload } from 'kafkajs';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTopicsAndWait, infraSource, kafkaBrokers, neo4jAuth, neo4jUri, uniqueName } from './helpers.js';

async function waitUntil(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Kafka (kafkajs 2.2.4)', () => {
  const kafka = new Kafka({ clientId: 'infra-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, idempotent: true });
  const consumers: Consumer[] = [];

  beforeAll(async () => {
    await admin.connect();
    await producer.connect();
  });
  afterAll(async () => {
    await Promise.allSettled(consumers.map((c) => c.disconnect()));
    await producer.disconnect();
    await admin.disconnect();
  });

  it('knows where the servers came from', () => {
    expect(infraSource()).toMatch(/env|docker|local/);
    // Code under test reads the environment (services/runtime): the globalSetup's values reach workers.
    expect(process.env.KAFKA_BROKERS).toBe(kafkaBrokers().join(','));
    expect(process.env.NEO4J_URI).toBe(neo4jUri());
  });

  it('creates a topic, keeps per-key order, commits offsets and does not redeliver after reconnect', async () => {
    const topic = uniqueName('infra.keyed');
    const groupId = uniqueName('infra-group');
    expect(await createTopicsAndWait(admin, [{ topic, numPartitions: 3 }])).toBe(true);
    const meta = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(meta.topics[0]!.partitions).toHaveLength(3);

    const keys = ['serde', 'tokio', 'rand', 'syn', 'libc'];
    const first = keys.flatMap((key) => Array.from({ length: 6 }, (_, i) => ({ key, value: JSON.stringify({ key, seq: i }) })));
    await producer.send({ topic, messages: first });

    const seen: Array<{ key: string; seq: number; partition: number }> = [];
    const consume = async (): Promise<Consumer> => {
      const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1_000 });
      consumers.push(consumer);
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition, topic: t }: EachMessagePayload) => {
          const v = JSON.parse(message.value!.toString()) as { key: string; seq: number };
          expect(message.key!.toString()).toBe(v.key);
          seen.push({ ...v, partition });
          await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      return consumer;
    };

    const c1 = await consume();
    await waitUntil(() => seen.length >= first.length, 60_000, `${first.length} messages`);
    expect(seen).toHaveLength(first.length);
    for (const key of keys) {
      const mine = seen.filter((s) => s.key === key);
      expect(mine.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4, 5]); // order per key
      expect(new Set(mine.map((s) => s.partition)).size).toBe(1); // one partition per key
    }
    await c1.disconnect();

    // Committed offsets are the end of every partition.
    const ends = await admin.fetchTopicOffsets(topic);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    const committedBy = new Map(committed[0]!.partitions.map((p) => [p.partition, p.offset]));
    for (const p of ends) expect(committedBy.get(p.partition)).toBe(p.high);

    // A new member of the same group sees only what was produced after the commit.
    seen.length = 0;
    await producer.send({ topic, messages: [{ key: 'serde', value: JSON.stringify({ key: 'serde', seq: 6 }) }] });
    await consume();
    await waitUntil(() => seen.length >= 1, 60_000, 'the message produced after reconnect');
    await new Promise((r) => setTimeout(r, 1_500)); // room for any (wrong) redelivery to show up
    expect(seen).toEqual([expect.objectContaining({ key: 'serde', seq: 6 })]);

    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  });

  it('creates a compacted topic and accepts tombstones', async () => {
    const topic = uniqueName('infra.compacted');
    await createTopicsAndWait(admin, [
      {
        topic,
        numPartitions: 3,
        configEntries: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'min.cleanable.dirty.ratio', value: '0.01' },
        ],
      },
    ]);
    const { resources } = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: 2 /* ConfigResourceTypes.TOPIC */, name: topic, configNames: ['cleanup.policy'] }],
    });
    expect(resources[0]!.configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('compact');

    await producer.send({
      topic,
      messages: [
        { key: 'RUSTSEC-2024-0001', value: JSON.stringify({ v: 1 }) },
        { key: 'RUSTSEC-2024-0001', value: JSON.stringify({ v: 2 }) },
        { key: 'RUSTSEC-2024-0002', value: null }, // tombstone
      ],
    });
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.reduce((n, p) => n + Number(p.high), 0)).toBe(3);
    await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  });
});

describe('Neo4j', () => {
  let driver: Driver;
  // A label of our own, so this test neither sees nor disturbs the graph other tests build.
  const label = `InfraTest_${uniqueName('x').replace(/[^a-z0-9]/g, '_')}`;
  const constraint = `${label}_name_unique`;

  beforeAll(async () => {
    driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
    await driver.verifyConnectivity();
  });
  afterAll(async () => {
    if (!driver) return;
    await driver.executeQuery(`MATCH (n:\`${label}\`) DETACH DELETE n`).catch(() => {});
    await driver.executeQuery(`DROP CONSTRAINT \`${constraint}\` IF EXISTS`).catch(() => {});
    await driver.close();
  });

  it('enforces a uniqueness constraint and MERGE in UNWIND batches is idempotent', async () => {
    await driver.executeQuery(`CREATE CONSTRAINT \`${constraint}\` IF NOT EXISTS FOR (c:\`${label}\`) REQUIRE c.name IS UNIQUE`);
    const rows = Array.from({ length: 500 }, (_, i) => ({ name: `crate-${i % 250}`, version: `1.0.${i}` }));
    const merge = `
      UNWIND $rows AS row
      MERGE (c:\`${label}\` {name: row.name})
      ON CREATE SET c.firstVersion = row.version
      SET c.lastSeen = row.version
      RETURN count(*) AS n`;
    const count = async () => (await driver.executeQuery(`MATCH (c:\`${label}\`) RETURN count(c) AS n`)).records[0]!.get('n') as number;

    await driver.executeQuery(merge, { rows });
    expect(await count()).toBe(250);
    await driver.executeQuery(merge, { rows }); // replay
    expect(await count()).toBe(250);

    await expect(driver.executeQuery(`CREATE (:\`${label}\` {name: 'crate-0'})`)).rejects.toThrow(
      /already exists|ConstraintValidationFailed/i,
    );
    const shown = await driver.executeQuery('SHOW CONSTRAINTS YIELD name, type WHERE name = $name RETURN type', {
      name: constraint,
    });
    expect(shown.records[0]?.get('type')).toBe('UNIQUENESS');
  });
});
