/**
 * The delivery log: the compacted topic `notifier.deliveries`, keyed per (route, finding) — the plain
 * finding id for the default route, `route:<name>|<finding id>` for a named route (routes.ts
 * `deliveryKey`) — whose value is the last state of that finding delivered to that route. It is what makes "each state change once"
 * survive restarts, replays and a new consumer group: before consuming findings the notifier reads
 * it to the end (the high-watermark of every partition at start), and it keeps following it so that
 * records written by other notifier instances of the same group are known too.
 *
 * It also says which routes exist (`route-added:<name>[|<scope>]` → `{v, at}`, routes.ts
 * `routeAddedKey`): a route not known there is new, and gets what is open now (catchup.ts).
 */
import type { Consumer, Kafka, Producer } from 'kafkajs';
import { INTERNAL_TOPICS, type Logger } from '@cratewatch/runtime';
import { SEVERITY_ORDER, type Severity } from '@cratewatch/shared';
import { readCompacted } from './compacted.js';
import { isRouteAddedKey, parseDeliveryKey } from './routes.js';

export interface DeliveryRecord {
  v: 1;
  state: 'open' | 'resolved';
  /** When it was delivered (ISO time). */
  at: string;
  /** The finding's observedAt, to tell an old replayed state from a new one. */
  observedAt?: string;
  /** The severity it was delivered at: an open finding re-sent at a higher one is an escalation (routes.ts `owedTo`). */
  severity?: Severity;
  /**
   * Written by a new route's catch-up (catchup.ts): 'sent' — delivered in it; 'baseline' — not
   * delivered: the finding was resolved before the route existed, and this record is what keeps a
   * replay of its older states from being sent. Tells a catch-up's records from those of a route
   * that ran before routes were recorded as added (which is therefore not new).
   */
  catchUp?: 'sent' | 'baseline';
}

/** The value of a route's added record. */
export interface RouteAdded {
  v: 1;
  /** When the route's catch-up was done (ISO time). */
  at: string;
}

export function parseDeliveryRecord(raw: Buffer | null): DeliveryRecord | null {
  if (raw === null) return null;
  try {
    const v = JSON.parse(raw.toString('utf8')) as Partial<DeliveryRecord>;
    if ((v.state === 'open' || v.state === 'resolved') && typeof v.at === 'string') {
      return {
        v: 1,
        state: v.state,
        at: v.at,
        ...(typeof v.observedAt === 'string' ? { observedAt: v.observedAt } : {}),
        ...(typeof v.severity === 'string' && (SEVERITY_ORDER as readonly string[]).includes(v.severity) ? { severity: v.severity } : {}),
        ...(v.catchUp === 'sent' || v.catchUp === 'baseline' ? { catchUp: v.catchUp } : {}),
      };
    }
  } catch {
    /* unreadable: ignored below */
  }
  return null;
}

export interface DeliveryLogOptions {
  kafka: Kafka;
  producer: Producer;
  log: Logger;
  /** Used to name the throwaway group that reads the log (never commits). */
  groupId: string;
  /** Stop waiting for the end of the log after this long, and go on with what was read (default 120 s). */
  loadTimeoutMs?: number;
}

export class DeliveryLog {
  private readonly delivered = new Map<string, DeliveryRecord>();
  private readonly added = new Map<string, RouteAdded>();
  private consumer: Consumer | undefined;
  /** Records waiting for the write in flight to finish (recordMany). */
  private readonly queued: { entries: [string, DeliveryRecord][]; resolve: () => void; reject: (err: unknown) => void }[] = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly opts: DeliveryLogOptions) {}

  get size(): number {
    return this.delivered.size;
  }

  last(findingId: string): DeliveryRecord | undefined {
    return this.delivered.get(findingId);
  }

  /** Whether the route of this added key (routes.ts `routeAddedKey`) is recorded as existing. */
  isAdded(addedKey: string): boolean {
    return this.added.has(addedKey);
  }

  /** Records routes as existing (one produce request, acks from all in-sync replicas). */
  async markAdded(addedKeys: string[]): Promise<void> {
    if (addedKeys.length === 0) return;
    const rec: RouteAdded = { v: 1, at: new Date().toISOString() };
    await this.opts.producer.send({
      topic: INTERNAL_TOPICS.deliveries,
      acks: -1,
      messages: addedKeys.map((key) => ({ key, value: JSON.stringify(rec) })),
    });
    for (const k of addedKeys) this.added.set(k, rec);
  }

  /**
   * The routes holding a record of a finding `accept`s that no catch-up wrote: routes that
   * delivered before routes were recorded as added (so they are not new), as far as the log was read.
   */
  routesDeliveredBefore(accept: (findingId: string) => boolean): Set<string> {
    const out = new Set<string>();
    for (const [key, rec] of this.delivered) {
      if (rec.catchUp) continue;
      const k = parseDeliveryKey(key);
      if (k && !out.has(k.route) && accept(k.findingId)) out.add(k.route);
    }
    return out;
  }

  /** Writes the record (acks from all in-sync replicas) and then remembers it. */
  async record(findingId: string, rec: DeliveryRecord): Promise<void> {
    await this.recordMany([[findingId, rec]]);
  }

  /**
   * Writes records (acks from all in-sync replicas), then remembers them. Records asked for while
   * a write is in flight go together in the next produce request: a burst of 150 webhooks sent 8
   * at once was 150 produce requests, one after the other on the broker connection (~10 ms each),
   * and now is a handful. Each caller still resolves only once its own records are acknowledged.
   */
  recordMany(entries: [key: string, rec: DeliveryRecord][]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.queued.push({ entries, resolve, reject });
      if (!this.writing) this.writing = this.writeQueued();
    });
  }

  /** Writes what is queued, one produce request at a time, until nothing is. */
  private async writeQueued(): Promise<void> {
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0);
      const entries = batch.flatMap((b) => b.entries);
      try {
        await this.opts.producer.send({
          topic: INTERNAL_TOPICS.deliveries,
          acks: -1,
          messages: entries.map(([key, rec]) => ({ key, value: JSON.stringify(rec) })),
        });
      } catch (err) {
        for (const b of batch) b.reject(err);
        continue;
      }
      for (const [key, rec] of entries) this.remember(key, rec);
      for (const b of batch) b.resolve();
    }
    this.writing = undefined;
  }

  /** Keeps the newest record per id (a lagging echo of an older record must not win). */
  private remember(id: string, rec: DeliveryRecord | null): void {
    if (rec === null) {
      this.delivered.delete(id);
      return;
    }
    const cur = this.delivered.get(id);
    if (cur && cur.at > rec.at) return;
    this.delivered.set(id, rec);
  }

  private rememberAdded(key: string, raw: Buffer | null): void {
    if (raw === null) {
      this.added.delete(key);
      return;
    }
    try {
      const v = JSON.parse(raw.toString('utf8')) as Partial<RouteAdded>;
      if (typeof v.at === 'string') this.added.set(key, { v: 1, at: v.at });
    } catch {
      /* unreadable: the route counts as not added; its catch-up skips what it has */
    }
  }

  /**
   * Reads the whole topic up to the high-watermark every partition had when this was called, then
   * resolves; the consumer keeps following the topic afterwards. A throwaway group id, and no
   * commits: every start reads from the beginning.
   */
  async load(): Promise<void> {
    const { kafka, log } = this.opts;
    const topic = INTERNAL_TOPICS.deliveries;
    const { consumer, partitions } = await readCompacted({
      kafka,
      topic,
      log,
      groupPrefix: `${this.opts.groupId}.deliveries-reader`,
      ...(this.opts.loadTimeoutMs ? { loadTimeoutMs: this.opts.loadTimeoutMs } : {}),
      // Going on is the lesser evil: the worst outcome is an alert sent again, never one lost.
      timeoutConsequence: 'an alert may be repeated',
      onMessage: (m) => {
        if (m.key === null) return;
        const key = m.key.toString();
        if (isRouteAddedKey(key)) this.rememberAdded(key, m.value);
        else this.remember(key, parseDeliveryRecord(m.value));
      },
    });
    this.consumer = consumer;
    log.info('delivery log loaded', { topic, findings: this.delivered.size, partitions });
  }

  async stop(): Promise<void> {
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect();
  }
}
