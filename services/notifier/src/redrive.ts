/**
 * Re-driving `risk.findings.dlq`: the findings the notifier itself dead-lettered because a route
 * could not have them (retries exhausted, a 4xx such as a revoked webhook, a refused digest) are
 * tried again, pass after pass, until each route has had them — or they are no longer worth sending.
 *
 * Which records: the notifier marks what it dead-letters for want of delivery with an
 * `undeliverable` field (`{routes, attempts, firstAt, nextAt?}`, see `UndeliverableMark`). A record
 * without it is a refused message (a value that is not a valid finding): bad input, never retried.
 * Records written before the field existed are recognised by their reason, which then always starts
 * `not delivered to Slack` / `not delivered to route <name>` (an invalid message's reason starts
 * `invalid <topic> event:`).
 *
 * A pass (every `intervalMs`, serialised with the notifier's own windows):
 *   - per finding, only the newest state in the DLQ counts; older ones are dropped (superseded);
 *   - a state is dropped when the finding has moved on: a different state observed later is known on
 *     `risk.findings` (it takes its own way: delivered, or dead-lettered and re-driven itself);
 *   - per route it names: a route that already had this state (delivery log) or a later state, or
 *     that no longer exists or no longer matches the finding, is done with (routes.ts `owedTo`, as
 *     for the main consumer: an open state at a higher severity than the route had is an
 *     escalation, still owed); the rest are due when the record's `nextAt` has come;
 *   - per route, what is due is delivered as one digest when more than the digest threshold, else one
 *     by one (fewest attempts first; after a failure the route's other records wait for the next
 *     pass, so a dead webhook costs one failed delivery per pass, not one per record);
 *   - delivered: the delivery record is written (the same log as the main consumer's, so never twice);
 *     still failing: the record is written again to the DLQ with `attempts + 1` and `nextAt`
 *     (backoff `intervalMs · 2^(attempts−1)`, capped at `maxBackoffMs`), and the older record is let go.
 *
 * Restarts: the re-drive group commits, per partition, the offset of the oldest record still pending
 * (or everything read, when none is). A pending record is therefore read again after a restart (or a
 * rebalance); its newest copy carries its attempts and `nextAt`, so the backoff survives too. What
 * was delivered or dropped but not yet committed is read again and dropped (the delivery log knows).
 */
import type { Consumer, Kafka, KafkaMessage, Producer } from 'kafkajs';
import {
  DlqRecordSchema,
  EventValidationError,
  TOPICS,
  decodeEvent,
  dlqTopic,
  type DlqRecord,
  type FindingEvent,
  type Severity,
} from '@cratewatch/shared';
import { dlqRecord, envDuration, groupConsumer, sleep, type Logger } from '@cratewatch/runtime';
import type { DeliveryLog, DeliveryRecord } from './deliveries.js';
import type { ConsumerHooks } from './metrics.js';
import { DEFAULT_ROUTE, deliveryKey, owedTo, timeOf as time, type Route } from './routes.js';

/** The notifier's service name, as DLQ records carry it. */
const SERVICE = 'notifier';

export interface RedriveOptions {
  /** Time between passes (ms). */
  intervalMs: number;
  /** Longest wait between two attempts of one record (ms; default 6 h). */
  maxBackoffMs?: number;
}

export const DEFAULT_REDRIVE = { intervalMs: 5 * 60_000, maxBackoffMs: 6 * 3600_000 } as const;

/** NOTIFIER_REDRIVE_INTERVAL_MS: a whole number of ms ≥ 1, or `off`; unset or empty: the default. */
export function parseRedriveInterval(raw: string | undefined): number | 'off' {
  const name = 'NOTIFIER_REDRIVE_INTERVAL_MS';
  return envDuration({ [name]: raw }, name, { unit: 'ms', min: 1, off: true, fallback: DEFAULT_REDRIVE.intervalMs });
}

/** The wait before the next attempt after `attempts` failed re-drive attempts (no jitter: passes are periodic anyway). */
export function redriveBackoffMs(attempts: number, intervalMs: number, maxBackoffMs: number): number {
  return Math.min(maxBackoffMs, intervalMs * 2 ** Math.max(0, Math.min(attempts - 1, 40)));
}

/** The field the notifier adds to a DLQ record of a finding it could not deliver. */
export interface UndeliverableMark {
  /** The routes that have not had this state (`default`: the single default route). */
  routes: string[];
  /** Re-drive attempts made so far (0 when the main consumer dead-lettered it). */
  attempts: number;
  /** When the finding was first dead-lettered (ISO time). */
  firstAt: string;
  /** Not tried again before this (ISO time); absent: at the next pass. */
  nextAt?: string;
}

export interface DlqSource {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | string | null;
  value: Buffer | string | null;
}

/**
 * The DLQ value of an undeliverable finding: the record `sendToDlq` writes (same schema, same
 * lossless value/base64 rule) plus the `undeliverable` mark.
 */
export function undeliverableDlqValue(m: DlqSource, error: string, mark: UndeliverableMark, at: Date = new Date()): string {
  return JSON.stringify({ ...dlqRecord(SERVICE, m, error, at), undeliverable: mark });
}

const ROUTE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const isoTime = (s: unknown): s is string => typeof s === 'string' && !Number.isNaN(Date.parse(s));

function parseMark(v: unknown): UndeliverableMark | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.routes) || !o.routes.every((r) => typeof r === 'string' && ROUTE_NAME.test(r))) return undefined;
  if (!Number.isInteger(o.attempts) || (o.attempts as number) < 0 || !isoTime(o.firstAt)) return undefined;
  if (o.nextAt !== undefined && !isoTime(o.nextAt)) return undefined;
  return {
    routes: [...new Set(o.routes as string[])],
    attempts: o.attempts as number,
    firstAt: o.firstAt,
    ...(o.nextAt !== undefined ? { nextAt: o.nextAt as string } : {}),
  };
}

/**
 * The routes a reason names, for records written before the `undeliverable` mark: `not delivered to
 * Slack: …` (the default route) and `not delivered to route <name>[ (in a digest of N)]: …`, joined
 * by `; `. Empty for any other reason (a refused message's starts `invalid <topic> event:`).
 */
export function routesFromReason(error: string): string[] {
  if (!error.startsWith('not delivered to ')) return [];
  const routes = new Set<string>();
  const re = /(?:^|; )not delivered to (?:(Slack)|route ([A-Za-z0-9][A-Za-z0-9._-]{0,63}))(?: \(in a digest of \d+\))?: /g;
  for (const m of error.matchAll(re)) routes.add(m[1] ? DEFAULT_ROUTE : m[2]!);
  return [...routes];
}

export type DlqClass =
  | {
      kind: 'undeliverable';
      record: DlqRecord;
      mark: UndeliverableMark;
      finding: FindingEvent;
      /** The source message's value as it was received: text, or the bytes when it was kept as base64. */
      value: string | Buffer;
      legacy: boolean;
    }
  | { kind: 'not retried'; why: string };

/**
 * Tells a DLQ record of `risk.findings` the notifier wrote because delivery failed (re-drivable)
 * from everything else (never retried): refused messages (bad input), records of another topic or
 * service, unreadable records.
 */
export function classifyDlqRecord(raw: Buffer | string | null, findingsTopic: string = TOPICS.findings): DlqClass {
  if (raw === null) return { kind: 'not retried', why: 'an empty record' };
  let obj: unknown;
  try {
    obj = JSON.parse(raw.toString());
  } catch {
    return { kind: 'not retried', why: 'not a DLQ record (not JSON)' };
  }
  const parsed = DlqRecordSchema.safeParse(obj);
  if (!parsed.success) return { kind: 'not retried', why: 'not a DLQ record' };
  const record = parsed.data;
  if (record.topic !== findingsTopic) return { kind: 'not retried', why: `a record of ${record.topic}` };
  if (record.service !== SERVICE) return { kind: 'not retried', why: `written by ${record.service}` };
  let mark = parseMark((obj as Record<string, unknown>).undeliverable);
  const legacy = mark === undefined;
  if (!mark) {
    const routes = routesFromReason(record.error);
    if (routes.length === 0) return { kind: 'not retried', why: 'a refused message (bad input)' };
    mark = { routes, attempts: 0, firstAt: record.at };
  }
  const value = record.value ?? (record.valueBase64 !== undefined ? Buffer.from(record.valueBase64, 'base64') : null);
  let finding: FindingEvent | null;
  try {
    finding = decodeEvent(TOPICS.findings, value);
  } catch (err) {
    if (!(err instanceof EventValidationError)) throw err;
    return { kind: 'not retried', why: 'its value is not a valid finding' };
  }
  if (finding === null || value === null) return { kind: 'not retried', why: 'no value' };
  return { kind: 'undeliverable', record, mark, finding, value, legacy };
}

// ---------------------------------------------------------------------------------------------

/** One state of a finding owed to some routes, as the re-drive holds it. */
interface Pending {
  id: string;
  finding: FindingEvent;
  key: string | null;
  /** The DLQ record it came from (the newest): its source position and value are re-written as they are. */
  record: DlqRecord;
  value: string | Buffer;
  routes: Set<string>;
  attempts: number;
  firstAt: string;
  /** ms since the epoch; 0: due at the next pass. */
  nextAt: number;
  /** The DLQ records (partition, offset) read that stand for it and are not let go yet. */
  dlq: { partition: number; offset: bigint }[];
  /** Routes delivered to by a pass that could not finish. */
  deliveredRoutes: number;
}

/** What the re-drive hands the notifier's delivery code for one (route, finding state). */
export interface RedriveDue {
  f: FindingEvent;
  dkey: string;
  at: Record<string, unknown>;
  pending: Pending;
  /** The route had this finding open at this lower severity (routes.ts `owedTo`). */
  escalatedFrom?: Severity;
}

export interface RouteDelivery<D> {
  failed: { d: D; reason: string }[];
  /** Not tried: an earlier one to the same route failed in this pass. */
  untried: D[];
}

export interface RedriverOptions extends Required<RedriveOptions> {
  kafka: Kafka;
  producer: Producer;
  log: Logger;
  /** The notifier's group; the re-drive's is `<group>.redrive`. */
  groupId: string;
  routes: Route[];
  keyFilter: ((key: string | null) => boolean) | undefined;
  deliveries: DeliveryLog;
  /** Delivered, but the delivery record could not be written yet (shared with the main consumer). */
  unrecorded: Map<string, DeliveryRecord>;
  /** The latest state of a finding on `risk.findings` (as far as read). */
  latest: (findingId: string) => Pick<FindingEvent, 'state' | 'observedAt'> | undefined;
  /** Runs `fn` while the main consumer handles no window (and vice versa). */
  exclusive: <T>(fn: () => Promise<T>) => Promise<T>;
  /** Delivers to one route (one digest when over the threshold, else one by one, stopping at a failure). */
  deliver: (route: Route, due: RedriveDue[]) => Promise<RouteDelivery<RedriveDue>>;
  signal: AbortSignal;
  /** Told the assignment and what was read (health and metrics). */
  hooks?: ConsumerHooks;
}

export interface RedrivePass {
  /** Pending states at least one delivery was attempted for. */
  tried: number;
  /** Pending states now delivered to every route that was owed them. */
  delivered: number;
  /** Pending states let go without delivery: superseded, moved on, already delivered, no route left. */
  dropped: number;
  /** Pending states left (tried and failed, not due yet, or not tried after a failure on their route). */
  pending: number;
  /** DLQ records read since the last pass that are not re-driven (refused messages). */
  notRetried: number;
}

export interface RedriveStatus {
  /** Finding states waiting to be re-driven (as far as the DLQ was read). */
  pending: number;
  /** When the oldest of them was first dead-lettered. */
  oldestSince: string | null;
  lastPassAt: string | null;
  passes: number;
}

/** How many settled states are remembered (see `Redriver.settled`). */
const SETTLED_KEEP = 10_000;
const stateId = (f: FindingEvent) => `${f.id}\u0000${f.state}\u0000${f.observedAt}`;

export class Redriver {
  private readonly pending = new Map<string, Pending>();
  /**
   * States settled (delivered or dropped) since the last (re)join, with their attempts: a copy an
   * earlier failed attempt wrote, read only after a later pass settled the state, is ignored rather
   * than handled (and counted) again. Re-handling it would reach the same end: the delivery log and
   * the latest states only move forward.
   */
  private readonly settled = new Map<string, number>();
  /** Per DLQ partition: the next offset to read (what was read this generation). */
  private readonly read = new Map<number, bigint>();
  private generation = 0;
  private notRetried = 0;
  private consumer: Consumer | undefined;
  private loop: Promise<void> | undefined;
  private lastPassAt: string | null = null;
  private passes = 0;
  private readonly routesByName: Map<string, Route>;
  readonly groupId: string;
  readonly topic = dlqTopic(TOPICS.findings);

  constructor(private readonly o: RedriverOptions) {
    this.routesByName = new Map(o.routes.map((r) => [r.name, r]));
    this.groupId = `${o.groupId}.redrive`;
  }

  status(): RedriveStatus {
    let oldest: string | null = null;
    for (const p of this.pending.values()) if (oldest === null || time(p.firstAt) < time(oldest)) oldest = p.firstAt;
    return { pending: this.pending.size, oldestSince: oldest, lastPassAt: this.lastPassAt, passes: this.passes };
  }

  /** Joins the re-drive group and starts reading the DLQ; the first pass runs one interval later. */
  async start(): Promise<void> {
    const consumer = groupConsumer(this.o.kafka, this.groupId);
    this.consumer = consumer;
    // A (re)join starts again from the committed offsets: forget what was read.
    consumer.on(consumer.events.CRASH, (e) => this.o.hooks?.crashed(e.payload.error));
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      this.o.hooks?.assigned(e.payload.memberAssignment);
      this.generation++;
      this.pending.clear();
      this.settled.clear();
      this.read.clear();
    });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [this.topic], fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatch: async ({ batch, isStale, isRunning }) => {
          const gen = this.generation;
          if (!isRunning() || isStale() || batch.messages.length === 0) return;
          this.o.hooks?.fetched(batch.topic, batch.partition, batch.highWatermark, batch.messages);
          for (const m of batch.messages) {
            if (gen !== this.generation) return;
            this.accept(batch.partition, m);
            this.read.set(batch.partition, BigInt(m.offset) + 1n);
            this.o.hooks?.handled([{ topic: batch.topic, partition: batch.partition, offset: m.offset }]);
          }
        },
      });
    } catch (err) {
      await consumer.disconnect().catch(() => undefined);
      throw err;
    }
    this.loop = (async () => {
      for (;;) {
        try {
          await sleep(this.o.intervalMs, this.o.signal);
        } catch {
          return;
        }
        await this.o
          .exclusive(() => this.pass())
          .catch((err: unknown) => {
            if (this.o.signal.aborted) this.o.log.info('redrive pass interrupted by stop: what is pending is read again on the next start');
            else this.o.log.error('redrive pass failed; will retry at the next pass', { error: err });
          });
      }
    })();
  }

  /** Ends the loop (the notifier aborts the signal first: a delivery in flight stops), then leaves the group. */
  async stop(): Promise<void> {
    await this.loop;
    const c = this.consumer;
    this.consumer = undefined;
    if (c) await c.disconnect();
  }

  private accept(partition: number, message: KafkaMessage): void {
    const key = message.key === null ? null : message.key.toString();
    if (this.o.keyFilter && !this.o.keyFilter(key)) return;
    const where = { partition, offset: message.offset, key };
    const c = classifyDlqRecord(message.value);
    if (c.kind === 'not retried') {
      this.notRetried++;
      this.o.log.info('redrive: not retried', { ...where, why: c.why });
      return;
    }
    const pos = { partition, offset: BigInt(message.offset) };
    const id = stateId(c.finding);
    const settledAt = this.settled.get(id);
    if (settledAt !== undefined && c.mark.attempts <= settledAt) {
      this.o.log.debug('redrive: a copy of a state already settled', {
        ...where,
        finding: c.finding.id,
        state: c.finding.state,
        attempts: c.mark.attempts,
      });
      return;
    }
    const nextAt = c.mark.nextAt ? time(c.mark.nextAt) : 0;
    const cur = this.pending.get(id);
    if (!cur) {
      this.pending.set(id, {
        id,
        finding: c.finding,
        key,
        record: c.record,
        value: c.value,
        routes: new Set(c.mark.routes),
        attempts: c.mark.attempts,
        firstAt: c.mark.firstAt,
        nextAt,
        dlq: [pos],
        deliveredRoutes: 0,
      });
      this.o.log.debug('redrive: pending', {
        ...where,
        finding: c.finding.id,
        state: c.finding.state,
        routes: c.mark.routes,
        attempts: c.mark.attempts,
        ...(c.legacy ? { legacy: true } : {}),
      });
      return;
    }
    // The same state dead-lettered again (a replay), or the copy a failed attempt wrote: one entry.
    for (const r of c.mark.routes) cur.routes.add(r);
    cur.dlq.push(pos);
    if (time(c.mark.firstAt) < time(cur.firstAt)) cur.firstAt = c.mark.firstAt;
    if (c.mark.attempts > cur.attempts) {
      cur.attempts = c.mark.attempts;
      cur.nextAt = nextAt;
      cur.record = c.record;
    }
  }

  private settle(p: Pending): void {
    this.pending.delete(p.id);
    this.settled.delete(p.id);
    this.settled.set(p.id, p.attempts);
    if (this.settled.size > SETTLED_KEEP) this.settled.delete(this.settled.keys().next().value!);
  }

  private drop(p: Pending, why: string, fields: Record<string, unknown> = {}): void {
    this.settle(p);
    this.o.log.info('redrive: dropped', {
      finding: p.finding.id,
      state: p.finding.state,
      observedAt: p.finding.observedAt,
      why,
      ...fields,
    });
  }

  /** One pass over what is pending (call it through `exclusive`). */
  async pass(): Promise<RedrivePass> {
    const { log, deliveries, unrecorded } = this.o;
    const gen = this.generation;
    const now = Date.now();
    const result: RedrivePass = { tried: 0, delivered: 0, dropped: 0, pending: 0, notRetried: this.notRetried };
    this.notRetried = 0;

    // 1. Only the newest state of each finding in the DLQ counts.
    const newest = new Map<string, number>();
    for (const p of this.pending.values())
      newest.set(p.finding.id, Math.max(newest.get(p.finding.id) ?? -Infinity, time(p.finding.observedAt)));
    for (const p of [...this.pending.values()]) {
      if (time(p.finding.observedAt) < newest.get(p.finding.id)!) {
        this.drop(p, 'superseded by a newer state of the finding in the DLQ');
        result.dropped++;
      }
    }

    // 2. What is still owed, to which route, and what is due now.
    const due = new Map<string, RedriveDue[]>();
    for (const p of [...this.pending.values()]) {
      const f = p.finding;
      const latest = this.o.latest(f.id);
      if (latest && latest.state !== f.state && time(latest.observedAt) > time(f.observedAt)) {
        this.drop(p, 'the finding has moved on', { now: latest.state, nowObservedAt: latest.observedAt });
        result.dropped++;
        continue;
      }
      const done: Record<string, string> = {};
      const escalations = new Map<string, Severity>();
      for (const name of [...p.routes]) {
        const route = this.routesByName.get(name);
        const dkey = deliveryKey(name, f.id);
        let why: string | undefined;
        let rec = deliveries.last(dkey);
        const unwritten = unrecorded.get(dkey);
        if (route && unwritten && unwritten.state === f.state) {
          // Delivered by the main consumer, whose record could not be written yet: write it now.
          await deliveries.record(dkey, unwritten);
          unrecorded.delete(dkey);
          rec = unwritten;
        }
        const owed = route ? owedTo(route, f, rec) : undefined;
        if (!route) why = 'route no longer configured';
        else if (!owed!.owed) {
          why =
            owed!.why === 'no route match'
              ? 'route no longer matches the finding'
              : owed!.why === 'already delivered'
                ? rec === unwritten
                  ? 'already delivered (delivery record written now)'
                  : 'already delivered'
                : `a newer state was delivered (${rec!.state})`;
        } else if (owed!.escalatedFrom) escalations.set(name, owed!.escalatedFrom);
        if (why) {
          done[name] = why;
          p.routes.delete(name);
        }
      }
      if (p.routes.size === 0) {
        if (p.deliveredRoutes > 0) result.delivered++;
        else {
          this.drop(
            p,
            Object.values(done).every((w) => w.startsWith('already delivered')) ? 'already delivered' : 'nothing left to deliver',
            { routes: done },
          );
          result.dropped++;
          continue;
        }
        this.settle(p);
        continue;
      }
      if (Object.keys(done).length > 0) log.info('redrive: routes done with', { finding: f.id, state: f.state, routes: done });
      if (p.nextAt > now) continue;
      for (const name of p.routes) {
        const list = due.get(name) ?? [];
        const escalatedFrom = escalations.get(name);
        list.push({
          f,
          dkey: deliveryKey(name, f.id),
          at: {
            finding: f.id,
            state: f.state,
            route: name,
            redrive: true,
            attempt: p.attempts + 1,
            ...(escalatedFrom ? { escalatedFrom } : {}),
          },
          pending: p,
          ...(escalatedFrom ? { escalatedFrom } : {}),
        });
        due.set(name, list);
      }
    }

    // 3. Deliver, route by route (fewest attempts first, then oldest).
    const failed = new Map<Pending, string[]>();
    const tried = new Set<Pending>();
    for (const route of this.o.routes) {
      const list = due.get(route.name);
      if (!list) continue;
      list.sort((a, b) => a.pending.attempts - b.pending.attempts || time(a.pending.firstAt) - time(b.pending.firstAt));
      const res = await this.o.deliver(route, list);
      const untried = new Set(res.untried);
      const failedHere = new Set(res.failed.map((x) => x.d));
      for (const x of res.failed) failed.set(x.d.pending, [...(failed.get(x.d.pending) ?? []), x.reason]);
      for (const d of list) {
        if (untried.has(d)) continue;
        tried.add(d.pending);
        if (!failedHere.has(d)) {
          d.pending.routes.delete(route.name);
          d.pending.deliveredRoutes++;
        }
      }
    }

    // 4. Delivered everywhere: done. Still failing: written again with the attempt counted.
    const again: { p: Pending; mark: UndeliverableMark; error: string; nextAt: number }[] = [];
    for (const p of tried) {
      if (p.routes.size === 0) {
        this.settle(p);
        result.delivered++;
        continue;
      }
      const reasons = failed.get(p);
      if (!reasons) continue; // partly delivered; the rest was not tried after a failure on its route
      const attempts = p.attempts + 1;
      const nextAt = now + redriveBackoffMs(attempts, this.o.intervalMs, this.o.maxBackoffMs);
      again.push({
        p,
        error: reasons.join('; '),
        nextAt,
        mark: { routes: [...p.routes], attempts, firstAt: p.firstAt, nextAt: new Date(nextAt).toISOString() },
      });
    }
    if (again.length > 0) {
      // The records read so far that stand for each: let go once the copy is written. Not `dlq = []`
      // after the send: the consumer may read the copy before the send's answer arrives, and its
      // position must stay (else the commit below passes it, and a restart loses the state).
      const older = new Map(again.map(({ p }) => [p, new Set(p.dlq)]));
      await this.o.producer.send({
        topic: this.topic,
        acks: -1,
        messages: again.map(({ p, mark, error }) => ({
          key: p.key,
          value: undeliverableDlqValue(
            { topic: p.record.topic, partition: p.record.partition, offset: p.record.offset, key: p.key, value: p.value },
            error,
            mark,
          ),
        })),
      });
      for (const { p, mark, error, nextAt } of again) {
        // The copy (at the end of its partition, read already or not) now stands for it: the older records are let go.
        if (mark.attempts >= p.attempts) {
          p.attempts = mark.attempts;
          p.nextAt = nextAt;
        }
        p.dlq = p.dlq.filter((pos) => !older.get(p)!.has(pos));
        log.warn('redrive: still pending', {
          finding: p.finding.id,
          state: p.finding.state,
          routes: mark.routes,
          attempts: mark.attempts,
          nextAt: mark.nextAt,
          reason: error,
        });
      }
    }
    result.tried = tried.size;
    result.pending = this.pending.size;
    if (gen === this.generation) await this.commit();
    this.passes++;
    this.lastPassAt = new Date().toISOString();
    log.info('redrive', { ...result });
    return result;
  }

  /** Commits, per partition, the oldest offset still pending, or everything read. */
  private async commit(): Promise<void> {
    const c = this.consumer;
    if (!c) return;
    const upTo = new Map(this.read);
    for (const p of this.pending.values()) {
      for (const { partition, offset } of p.dlq) {
        const cur = upTo.get(partition);
        if (cur === undefined || offset < cur) upTo.set(partition, offset);
      }
    }
    if (upTo.size === 0) return;
    try {
      await c.commitOffsets([...upTo].map(([partition, offset]) => ({ topic: this.topic, partition, offset: offset.toString() })));
    } catch (err) {
      this.o.log.warn('redrive: offsets not committed (what was handled is read again and dropped)', { error: err });
    }
  }
}
