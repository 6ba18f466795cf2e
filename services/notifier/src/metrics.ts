/**
 * The notifier's metrics and the health of its two consumers (the findings windows and the
 * re-drive of `risk.findings.dlq`), which do not run through runtime's `runConsumer`: they report
 * to a `ConsumerHealth` through `ConsumerHooks`, so their lag and stuck windows show in /readyz and
 * /metrics like every other consumer's.
 *
 * Delivery metrics are per route name (configuration, not a secret): never a URL.
 */
import { Counter, Gauge } from 'prom-client';
import { ConsumerHealth, Metrics, classifyFailure, describeError } from '@cratewatch/runtime';
import { DeliveryError } from './deliver.js';
import type { RedriveStatus } from './redrive.js';

export type DeliveryForm = 'single' | 'digest';

export class NotifierMetrics {
  readonly shared = new Metrics('notifier');
  readonly deliveries: Counter<'route' | 'form' | 'outcome'>;
  readonly rateLimited: Counter<'route'>;
  private redriveStatus: (() => RedriveStatus | undefined) | undefined;

  constructor() {
    const registers = [this.shared.registry];
    this.deliveries = new Counter({
      name: 'cratewatch_notifier_deliveries_total',
      help: 'Deliveries to a route (one message or one digest), by form (single, digest) and outcome (delivered, failed: given up after the retries or refused)',
      labelNames: ['route', 'form', 'outcome'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'cratewatch_notifier_rate_limited_total',
      help: "HTTP 429 answers from a route's webhook (each attempt)",
      labelNames: ['route'],
      registers,
    });
    const status = () => this.redriveStatus?.();
    new Gauge({
      name: 'cratewatch_notifier_redrive_pending',
      help: 'Finding states waiting in risk.findings.dlq to be re-driven',
      registers,
      collect() {
        this.set(status()?.pending ?? 0);
      },
    });
  }

  watchRedrive(status: () => RedriveStatus | undefined): void {
    this.redriveStatus = status;
  }

  /** Counts one delivery by how `attempt` settles; a stop (not a DeliveryError) is not counted. */
  async delivery<T>(route: string, form: DeliveryForm, attempt: Promise<T>): Promise<T> {
    try {
      const r = await attempt;
      this.deliveries.inc({ route, form, outcome: 'delivered' });
      return r;
    } catch (err) {
      if (err instanceof DeliveryError) this.deliveries.inc({ route, form, outcome: 'failed' });
      throw err;
    }
  }

  /** For `postJson`'s `onStatus`: each webhook answer. */
  status(route: string, code: number): void {
    if (code === 429) this.rateLimited.inc({ route });
  }

  /** Hooks for a consumer of the notifier's, reporting to a `ConsumerHealth` watched by these metrics. */
  consumer(group: string): { health: ConsumerHealth; hooks: ConsumerHooks } {
    const health = this.shared.watch(new ConsumerHealth(group, 'notifier'));
    return { health, hooks: consumerHooks(health, this.shared) };
  }
}

export interface Position {
  topic: string;
  partition: number;
  offset: string;
}

/** What a consumer loop tells: its assignment, each fetch, and each window (or batch) handled or failed. */
export interface ConsumerHooks {
  assigned(memberAssignment: Record<string, number[]>): void;
  /** The kafkajs consumer crashed (it restarts itself, and `assigned` comes again once it rejoined). */
  crashed(error: unknown): void;
  fetched(topic: string, partition: number, highWatermark: string, messages: { offset: string }[]): void;
  handled(upTo: Position[], seconds?: number): void;
  failed(upTo: Position[], err: unknown, attempt: number, seconds: number): void;
}

export function consumerHooks(health: ConsumerHealth, metrics: Metrics): ConsumerHooks {
  const observer = metrics.observer();
  return {
    assigned: (assignment) => {
      health.joinedAt = Date.now();
      health.crashed = undefined;
      const mine = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
      for (const s of health.partitions()) if (!mine.has(`${s.topic}/${s.partition}`)) health.revoked(s.topic, s.partition);
    },
    crashed: (error) => {
      health.crashed = { at: Date.now(), error: describeError(error) };
    },
    fetched: (topic, partition, hw, messages) => {
      if (messages.length === 0) return;
      health.fetched(topic, partition, hw, messages[0]!.offset);
      observer.consumed!(topic, messages.length);
    },
    handled: (upTo, seconds) => {
      for (const p of upTo) health.handled(p.topic, p.partition, p.offset);
      if (seconds !== undefined && upTo[0]) observer.handled!(upTo[0].topic, seconds, 'ok');
    },
    failed: (upTo, err, attempt, seconds) => {
      // A window is retried until it goes through: "failed" only says the cause is not an outage.
      const kind = classifyFailure(err) === 'unavailable' ? 'unavailable' : 'failed';
      const error = describeError(err);
      for (const p of upTo) health.retrying(p.topic, p.partition, { kind, offset: p.offset, attempts: attempt, since: Date.now(), error });
      if (upTo[0]) {
        observer.handled!(upTo[0].topic, seconds, 'retry');
        observer.retried!(upTo[0].topic, kind);
      }
    },
  };
}
