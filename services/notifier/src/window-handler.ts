/**
 * The window handler: what the notifier does with one window of `risk.findings` (window.ts hands
 * it over), in four steps:
 *   1. decode (`decodeWindow`): tombstones are ignored; a value that fails validation goes to
 *      `risk.findings.dlq` with the field paths;
 *   2. decide, per finding and matching route, in order: the last state delivered to (route,
 *      finding) — from the delivery log, or earlier in this window — is the same → skipped; one
 *      observed before the last delivered one (a replay of old history) → skipped (`skipLine` says
 *      why); else it is due;
 *   3. deliver, route by route in the configured order (route-delivery.ts: a digest or one by one);
 *   4. dead-letter once what some route could not have, naming each failed route (dead-letter.ts).
 * Handled again after a failure (`ctx.attempt` > 1), nothing is counted, sent or dead-lettered twice.
 */
import type { Producer } from 'kafkajs';
import { EventValidationError, TOPICS, decodeEvent, type FindingEvent } from '@cratewatch/shared';
import { sendToDlq, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import type { DeliveryLog, DeliveryRecord } from './deliveries.js';
import { deadLetterUndeliverable } from './dead-letter.js';
import type { NotifierMetrics } from './metrics.js';
import type { RouteDeliverer, Due } from './route-delivery.js';
import { deliveryKey, owedTo, type Owed, type Route } from './routes.js';
import type { WindowContext } from './window.js';

/** The notifier's service name, as its DLQ records carry it. */
const SERVICE = 'notifier';

/** A valid finding of the window, and the routes that could not have it. */
export interface Item {
  m: ConsumedMessage;
  f: FindingEvent;
  where: { finding: string; state: FindingEvent['state']; partition: number; offset: string };
  failures: { route: string; reason: string }[];
}

export interface WindowDue extends Due {
  item: Item;
}

export interface DecodedWindow {
  items: Item[];
  tombstones: ConsumedMessage[];
  /** Values that are not a valid finding, with the validation error. */
  refused: { m: ConsumedMessage; reason: string }[];
}

/** Step 1: sorts a window's messages (those `keyFilter` accepts) into findings, tombstones and refusals. */
export function decodeWindow(ms: ConsumedMessage[], keyFilter?: (key: string | null) => boolean): DecodedWindow {
  const out: DecodedWindow = { items: [], tombstones: [], refused: [] };
  for (const m of ms) {
    if (keyFilter && !keyFilter(m.key)) continue;
    if (m.message.value === null) {
      out.tombstones.push(m);
      continue;
    }
    let f: FindingEvent | null;
    try {
      f = decodeEvent(TOPICS.findings, m.message.value);
    } catch (err) {
      if (!(err instanceof EventValidationError)) throw err;
      out.refused.push({ m, reason: err.message });
      continue;
    }
    if (f !== null)
      out.items.push({ m, f, where: { finding: f.id, state: f.state, partition: m.partition, offset: m.message.offset }, failures: [] });
  }
  return out;
}

type Decided = Pick<DeliveryRecord, 'state' | 'observedAt' | 'severity'>;

/** The log line (and its extra fields) of a state not owed to a matching route. */
export function skipLine(
  why: Exclude<Owed, { owed: true }>['why'],
  earlier: Decided | undefined,
  recorded: DeliveryRecord | undefined,
  f: Pick<FindingEvent, 'observedAt'>,
): [string, Record<string, unknown>] {
  // Never delivered: resolved before the route was added (catchup.ts); a replay of its history.
  if (!earlier && recorded?.catchUp === 'baseline')
    return ['skipped: resolved before the route was added', { resolvedObservedAt: recorded.observedAt }];
  if (why === 'already delivered')
    return earlier ? ['skipped: the same state earlier in this window', {}] : ['skipped: already delivered', { deliveredAt: recorded?.at }];
  const last = (earlier ?? recorded)!;
  return [
    'skipped: older than the state already delivered',
    { delivered: last.state, deliveredObservedAt: last.observedAt, observedAt: f.observedAt },
  ];
}

export interface WindowHandlerOptions {
  routes: Route[];
  /** Log lines name the route (several routes, or configured ones). */
  named: boolean;
  keyFilter?: ((key: string | null) => boolean) | undefined;
  deliveries: Pick<DeliveryLog, 'last' | 'record'>;
  /** Delivered by an earlier try whose record could not be written (shared with route delivery). */
  unrecorded: Map<string, DeliveryRecord>;
  deliverer: Pick<RouteDeliverer, 'deliver'>;
  stats: { skipped: number; deadLettered: number; ignored: number; unrouted: number };
  log: Logger;
  metrics: Pick<NotifierMetrics, 'shared'>;
  producer: Producer;
}

export class WindowHandler {
  /** Messages already sent to the DLQ, so a window handled again does not send them twice. */
  private readonly dlqWritten = new WeakSet<ConsumedMessage>();

  constructor(private readonly o: WindowHandlerOptions) {}

  async handle(ms: ConsumedMessage[], ctx: WindowContext): Promise<void> {
    const { items, tombstones, refused } = decodeWindow(ms, this.o.keyFilter);
    for (const m of tombstones) {
      if (ctx.attempt === 1) this.o.stats.ignored++;
      this.o.log.debug('tombstone ignored', { key: m.key, partition: m.partition, offset: m.message.offset });
    }
    for (const r of refused) await this.refuse(r.m, r.reason);
    const due = await this.dueByRoute(items, ctx);
    for (const route of this.o.routes) {
      const list = due.get(route.name)!;
      if (list.length === 0) continue;
      const { failed } = await this.o.deliverer.deliver(route, list, ctx.heartbeat);
      for (const { d, reason } of failed) d.item.failures.push({ route: route.name, reason });
    }
    for (const item of items) await this.deadLetterFailed(item);
  }

  private async refuse(m: ConsumedMessage, reason: string): Promise<void> {
    if (this.dlqWritten.has(m)) return;
    this.o.log.warn('refused message: sent to DLQ', {
      topic: m.topic,
      partition: m.partition,
      offset: m.message.offset,
      key: m.key,
      reason,
    });
    await sendToDlq(
      this.o.producer,
      SERVICE,
      { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value },
      reason,
    );
    this.dlqWritten.add(m);
    this.o.metrics.shared.deadLettered.inc({ topic: m.topic, failure: 'bad-input' });
  }

  /** Step 2: what is due to which route (in this window, a change decided earlier counts as delivered). */
  private async dueByRoute(items: Item[], ctx: WindowContext): Promise<Map<string, WindowDue[]>> {
    const due = new Map<string, WindowDue[]>(this.o.routes.map((r) => [r.name, []]));
    const decided = new Map<string, Decided>();
    for (const item of items) {
      let routed = false;
      for (const route of this.o.routes) {
        const d = await this.decide(route, item, decided);
        if (d === 'no match') continue;
        routed = true;
        if (d !== 'skipped') due.get(route.name)!.push(d);
      }
      if (!routed) {
        if (ctx.attempt === 1) this.o.stats.unrouted++;
        this.o.log.info('skipped: no route matches', { ...item.where, severity: item.f.severity, team: item.f.workspace.team });
      }
    }
    return due;
  }

  private async decide(route: Route, item: Item, decided: Map<string, Decided>): Promise<WindowDue | 'no match' | 'skipped'> {
    const { f } = item;
    const { deliveries, unrecorded, stats, log } = this.o;
    const dkey = deliveryKey(route.name, f.id);
    const at = this.o.named ? { ...item.where, route: route.name } : item.where;
    const earlier = decided.get(dkey);
    const recorded = deliveries.last(dkey);
    let owed = owedTo(route, f, earlier ?? recorded);
    if (!owed.owed && owed.why === 'no route match') return 'no match';
    const pending = unrecorded.get(dkey);
    if (pending && pending.state === f.state) {
      // Delivered by an earlier try of this window whose record could not be written: write it now.
      await deliveries.record(dkey, pending);
      unrecorded.delete(dkey);
      owed = owedTo(route, f, earlier ?? pending);
      if (!owed.owed) {
        stats.skipped++;
        log.info('skipped: already delivered (delivery record written now)', at);
        return 'skipped';
      }
    }
    if (!owed.owed) {
      stats.skipped++;
      const [line, fields] = skipLine(owed.why, earlier, recorded, f);
      log.info(line, { ...at, ...fields });
      return 'skipped';
    }
    decided.set(dkey, { state: f.state, observedAt: f.observedAt, severity: f.severity });
    const esc = owed.escalatedFrom ? { escalatedFrom: owed.escalatedFrom } : {};
    return { item, f, dkey, at: { ...at, ...esc }, ...esc };
  }

  /** Step 4: a finding some route could not have, to the DLQ once, naming each failed route. */
  private async deadLetterFailed(item: Item): Promise<void> {
    const m = item.m;
    if (item.failures.length === 0 || this.dlqWritten.has(m)) return;
    this.o.stats.deadLettered++;
    const reason = item.failures.map((x) => x.reason).join('; ');
    const routes = item.failures.map((x) => x.route);
    this.o.log.error('undeliverable: sent to DLQ', { ...item.where, routes, reason });
    await deadLetterUndeliverable(
      this.o.producer,
      { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value },
      reason,
      routes,
    );
    this.dlqWritten.add(m);
    this.o.metrics.shared.deadLettered.inc({ topic: m.topic, failure: 'undeliverable' });
  }
}
