/**
 * The Prometheus metrics every service shares, on one prom-client registry per service (never the
 * global one: tests run several services in one process, and each must count only its own).
 *
 * - Counters the consumer loop reports (`observer()`: a `ConsumerObserver`).
 * - Messages produced per topic, counted where they are acknowledged (`countProduced` wraps a
 *   producer), so no call site can forget it and a failed send is not counted.
 * - Lag and retrying state per partition, read from the consumers' `ConsumerHealth` at scrape
 *   time (`watch`): a gauge computed on demand cannot drift from what /readyz reports.
 * - prom-client's default process metrics (CPU, memory, event-loop lag, GC, handles).
 *
 * Labels are topics, groups, partitions, kinds and route names: never a key, a URL or a token.
 */
import type { Producer, ProducerBatch, ProducerRecord } from 'kafkajs';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ConsumerHealth, type ConsumerObserver } from './consumer-health.js';

/** Handler durations: from a cached no-op (1 ms) to a long Neo4j batch or a webhook with retries. */
export const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class Metrics {
  readonly registry = new Registry();
  readonly consumed: Counter<'topic'>;
  readonly produced: Counter<'topic'>;
  readonly deadLettered: Counter<'topic' | 'failure'>;
  readonly handlerSeconds: Histogram<'topic' | 'outcome'>;
  readonly retries: Counter<'topic' | 'kind'>;
  private readonly healths: ConsumerHealth[] = [];

  constructor(readonly service: string) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.consumed = new Counter({
      name: 'cratewatch_messages_consumed_total',
      help: 'Messages fetched from Kafka, per topic',
      labelNames: ['topic'],
      registers,
    });
    this.produced = new Counter({
      name: 'cratewatch_messages_produced_total',
      help: 'Messages produced and acknowledged by Kafka, per topic (a <topic>.dlq counts here too)',
      labelNames: ['topic'],
      registers,
    });
    this.deadLettered = new Counter({
      name: 'cratewatch_messages_dead_lettered_total',
      help: 'Messages of a topic written to its <topic>.dlq, by why (bad-input, failed, undeliverable)',
      labelNames: ['topic', 'failure'],
      registers,
    });
    this.handlerSeconds = new Histogram({
      name: 'cratewatch_handler_duration_seconds',
      help: 'Time a handler took for one message, run or window, by outcome (ok, retry, dead-lettered)',
      labelNames: ['topic', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.retries = new Counter({
      name: 'cratewatch_retries_total',
      help: 'Retries of a message, run or window, by why (unavailable: a server is down; failed: the handler threw)',
      labelNames: ['topic', 'kind'],
      registers,
    });
    this.partitionGauges(registers);
  }

  /** Lag and retrying seconds per owned partition, computed from the watched healths at each scrape. */
  private partitionGauges(registers: Registry[]): void {
    const healths = this.healths;
    new Gauge({
      name: 'cratewatch_consumer_lag',
      help: 'Messages behind the end of the partition as last fetched, per consumer group and partition',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      collect() {
        this.reset(); // a revoked partition disappears instead of keeping its last value
        for (const h of healths)
          for (const p of h.partitions())
            this.set({ group: h.group, topic: p.topic, partition: String(p.partition) }, ConsumerHealth.lag(p));
      },
    });
    new Gauge({
      name: 'cratewatch_consumer_retrying_seconds',
      help: 'How long a partition has been retrying the same message (only partitions that are retrying)',
      labelNames: ['group', 'topic', 'partition', 'kind'],
      registers,
      collect() {
        this.reset();
        const now = Date.now();
        for (const h of healths) {
          for (const p of h.partitions()) {
            if (p.retrying)
              this.set(
                { group: h.group, topic: p.topic, partition: String(p.partition), kind: p.retrying.kind },
                (now - p.retrying.since) / 1000,
              );
          }
        }
      },
    });
  }

  /** Reports the partitions of this consumer in the lag and retrying gauges. */
  watch(health: ConsumerHealth): ConsumerHealth {
    this.healths.push(health);
    return health;
  }

  /** The `ConsumerObserver` a consumer loop reports to. */
  observer(): ConsumerObserver {
    return {
      consumed: (topic, n) => this.consumed.inc({ topic }, n),
      handled: (topic, seconds, outcome) => this.handlerSeconds.observe({ topic, outcome }, seconds),
      retried: (topic, kind) => this.retries.inc({ topic, kind }),
      deadLettered: (topic, failure) => this.deadLettered.inc({ topic, failure }),
    };
  }

  /** The Prometheus text exposition of everything registered (prom-client writes the format). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * Makes `producer` count each acknowledged send into `metrics.produced`, and tell `also` (a
 * service's own counts, e.g. the scorer's findings by kind). In place: callers keep the same
 * object, so connect, disconnect and events are untouched.
 */
export function countProduced(
  producer: Producer,
  metrics: Metrics,
  also?: (topic: string, messages: ProducerRecord['messages']) => void,
): Producer {
  const onSent = (topic: string, ms: ProducerRecord['messages']) => {
    metrics.produced.inc({ topic }, ms.length);
    also?.(topic, ms);
  };
  const send = producer.send;
  const sendBatch = producer.sendBatch;
  producer.send = async (record: ProducerRecord) => {
    const res = await send(record);
    onSent(record.topic, record.messages);
    return res;
  };
  producer.sendBatch = async (batch: ProducerBatch) => {
    const res = await sendBatch(batch);
    for (const t of batch.topicMessages ?? []) onSent(t.topic, t.messages);
    return res;
  };
  return producer;
}
