#!/usr/bin/env node
/**
 * The per-message cost of the consumers' poison-message policy (services/runtime consumer.ts):
 * one whole process consumes a prepared topic to its end in a new group, either through
 * `runConsumer` (the policy: classification, health, observer, per-message resolve) or through a
 * bare kafkajs loop with the same consumer settings and the same handler (the loop before the
 * policy). Pair the two with a whole-process timer, e.g.
 *
 *   node bench/consumer-overhead.mjs prepare            # prints TOPIC=... (200,000 messages)
 *   /usr/bin/time -v node bench/consumer-overhead.mjs run policy  message $TOPIC
 *   /usr/bin/time -v node bench/consumer-overhead.mjs run bare    message $TOPIC
 *
 * `message` goes through `handle` one message at a time (the notifier's shape, kafkajs eachMessage
 * in the bare loop); `batch` through `handleBatch` (the scorer's shape). The handler parses the
 * JSON value, as every real handler does first. Needs KAFKA_BROKERS (else infra/local/start).
 */
import { randomBytes } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureInfra } from './lib.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
ensureInfra(root);
const { groupConsumer, kafkaClient, logger, newProducer, runConsumer } = await import('../services/runtime/dist/index.js');

const COUNT = Number(process.env.MESSAGES ?? 200_000);
const kafka = kafkaClient('bench-consumer-overhead');

async function prepare() {
  const topic = `bench-overhead-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic, numPartitions: 3 },
      { topic: `${topic}.dlq`, numPartitions: 1 },
    ],
  });
  await admin.disconnect();
  const producer = newProducer(kafka);
  await producer.connect();
  const value = JSON.stringify({ v: 1, crate: 'serde', version: '1.0.210', publishedAt: new Date().toISOString(), yanked: false });
  for (let i = 0; i < COUNT; i += 5000) {
    await producer.send({ topic, messages: Array.from({ length: Math.min(5000, COUNT - i) }, (_, j) => ({ key: `k${i + j}`, value })) });
  }
  await producer.disconnect();
  process.stdout.write(`TOPIC=${topic}\n`);
}

/** Resolves once `seen` reaches the topic's message count. */
async function run(loop, mode, topic) {
  let seen = 0;
  let done;
  const finished = new Promise((r) => (done = r));
  const handler = (m) => {
    JSON.parse(m.message.value.toString());
    if (++seen === COUNT) done();
  };
  const groupId = `bench-${loop}-${mode}-${randomBytes(4).toString('hex')}`;
  let stop;
  if (loop === 'policy') {
    const producer = newProducer(kafka);
    await producer.connect();
    const l = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [topic],
      service: 'bench',
      log: logger('bench'),
      handle: async (m) => handler(m),
      ...(mode === 'batch' ? { handleBatch: async (ms) => (ms.forEach(handler), new Map()) } : {}),
    });
    stop = async () => (await l.stop(), await producer.disconnect());
  } else {
    const consumer = groupConsumer(kafka, groupId);
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    if (mode === 'batch') {
      await consumer.run({
        autoCommit: true,
        eachBatchAutoResolve: false,
        // The loop runConsumer had before the policy (b429fd1): same run objects, same caughtUp test.
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const all = batch.messages.map((message) => ({
            topic: batch.topic,
            partition: batch.partition,
            message,
            key: message.key === null ? null : message.key.toString(),
          }));
          for (let i = 0; i < all.length && isRunning() && !isStale(); i += 200) {
            const run = all.slice(i, i + 200);
            const caughtUp = BigInt(run[run.length - 1].message.offset) + 1n >= BigInt(batch.highWatermark);
            const refused = await (async (ms) => (ms.forEach(handler), new Map()))(run, { caughtUp });
            for (const m of run) if (refused.get(m.message.offset)) throw new Error('unexpected refusal');
            resolveOffset(run[run.length - 1].message.offset);
            await heartbeat();
          }
        },
      });
    } else await consumer.run({ autoCommit: true, eachMessage: async ({ message }) => handler({ message }) });
    stop = () => consumer.disconnect();
  }
  await finished;
  await stop();
}

const [cmd, loop, mode, topic] = process.argv.slice(2);
if (cmd === 'prepare') await prepare();
else if (cmd === 'run' && ['policy', 'bare'].includes(loop) && ['message', 'batch'].includes(mode) && topic) await run(loop, mode, topic);
else {
  process.stderr.write('usage: consumer-overhead.mjs prepare | run policy|bare message|batch TOPIC\n');
  process.exit(2);
}
