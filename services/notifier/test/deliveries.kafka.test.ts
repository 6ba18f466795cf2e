/**
 * The delivery log's writes on real Kafka (KAFKA_BROKERS from the root vitest globalSetup): records
 * asked for while a write is in flight go together in the next produce request, each caller
 * resolving only once its own records are acknowledged, and every record read back from the topic.
 * Produce requests are counted by wrapping the real producer's `send` (nothing is faked).
 */
import { vi } from 'vitest';

vi.hoisted(() => {
  process.env.CRATEWATCH_TOPIC_PREFIX = `notifier-deliveries-test-${Date.now().toString(36)}.`;
});

import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { INTERNAL_TOPICS } from '@cratewatch/runtime';
import { DeliveryLog, parseDeliveryRecord, readCompacted, type DeliveryRecord } from '../src/index.js';
import { captureLogger, uniq, useKafka } from './helpers.js';

const env = useKafka('notifier-deliveries-test-');

const rec = (state: DeliveryRecord['state'], at: string): DeliveryRecord => ({ v: 1, state, at });

/** A real producer whose `send` calls are counted, and made to fail while `failing` is set. */
async function countingProducer(): Promise<{ producer: Producer; sends: number[]; fail: (on: boolean) => void }> {
  const real = env.kafka.producer();
  await real.connect();
  env.cleanup(() => real.disconnect());
  const sends: number[] = [];
  let failing = false;
  const send: Producer['send'] = async (r) => {
    sends.push(r.messages.length);
    if (failing) throw new Error('broker unavailable (test)');
    return real.send(r);
  };
  return { producer: { ...real, send } as Producer, sends, fail: (on) => (failing = on) };
}

async function readBack(keys: Set<string>): Promise<Map<string, DeliveryRecord>> {
  const seen = new Map<string, DeliveryRecord>();
  const { consumer } = await readCompacted({
    kafka: env.kafka,
    topic: INTERNAL_TOPICS.deliveries,
    log: captureLogger(),
    groupPrefix: uniq('deliveries-readback'),
    timeoutConsequence: 'test',
    onMessage: (m) => {
      const k = m.key?.toString();
      const r = parseDeliveryRecord(m.value);
      if (k && keys.has(k) && r) seen.set(k, r);
    },
  });
  await consumer.disconnect();
  return seen;
}

describe('delivery log writes (real Kafka)', () => {
  it('records asked for during a write go in one produce request, each caller told when its own is written', async () => {
    const { producer, sends } = await countingProducer();
    const log = new DeliveryLog({ kafka: env.kafka, producer, log: captureLogger(), groupId: uniq('deliveries') });
    const keys = Array.from({ length: 20 }, (_, i) => uniq(`finding-${i}`));
    const at = new Date().toISOString();
    await Promise.all(keys.map((k) => log.record(k, rec('open', at))));
    // The first record goes alone; the other 19, asked for while it was in flight, in one more request.
    expect(sends).toEqual([1, 19]);
    for (const k of keys) expect(log.last(k)).toEqual(rec('open', at));
    const back = await readBack(new Set(keys));
    expect([...back.keys()].sort()).toEqual([...keys].sort());
  });

  it('a failed write rejects every caller it carried, and the next records are written', async () => {
    const { producer, sends, fail } = await countingProducer();
    const log = new DeliveryLog({ kafka: env.kafka, producer, log: captureLogger(), groupId: uniq('deliveries') });
    const [a, b, c] = [uniq('fa'), uniq('fb'), uniq('fc')];
    fail(true);
    const results = await Promise.allSettled([log.record(a, rec('open', 't1')), log.recordMany([[b, rec('open', 't1')]])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(log.last(a)).toBeUndefined();
    expect(log.last(b)).toBeUndefined();
    fail(false);
    await log.record(c, rec('resolved', 't2'));
    expect(log.last(c)).toEqual(rec('resolved', 't2'));
    expect(sends).toEqual([1, 1, 1]);
  });
});
