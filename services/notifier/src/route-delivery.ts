/**
 * Route delivery: what is due to one route goes as ONE digest when there is more of it than the
 * digest threshold, else one finding state at a time (`digestOrOneByOne`, the one place that
 * decides). After each delivery the delivery records of what it carried are written (one per
 * (route, finding)); a route that cannot have it gets a failure reason naming it, which the caller
 * dead-letters. Used alike by a window (window-handler.ts), the re-drive and a new route's catch-up.
 */
import type { Severity, FindingEvent } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import { DeliveryAbortedError, DeliveryError } from './deliver.js';
import type { DeliveryLog, DeliveryRecord } from './deliveries.js';
import type { RouteDelivery } from './redrive.js';
import { DEFAULT_ROUTE, type Route } from './routes.js';
import { channelOf, type Send } from './send.js';

/** One finding state due to a route: from a window, the re-drive or a catch-up. */
export interface Due {
  f: FindingEvent;
  dkey: string;
  /** Where it was read, and for which route: the fields of its log lines. */
  at: Record<string, unknown>;
  /** The route had this finding open at this lower severity: the message says it rose. */
  escalatedFrom?: Severity;
  /** Sent by a new route's catch-up: its delivery record says so (catchup.ts). */
  catchUp?: true;
}

export type Heartbeat = () => Promise<void>;

/** More than `threshold` states due to one route → one digest (threshold 0: never). */
export function digestOrOneByOne(threshold: number, due: number): 'digest' | 'one-by-one' {
  return threshold > 0 && due > threshold ? 'digest' : 'one-by-one';
}

/** The DLQ reason of a route that could not have it: "Slack" for the single default route, else the route's name. */
export function failureReason(route: Pick<Route, 'name'>, message: string, singleDefault: boolean, digestOf?: number): string {
  const what = route.name === DEFAULT_ROUTE && singleDefault ? 'Slack' : `route ${route.name}`;
  return `not delivered to ${what}${digestOf ? ` (in a digest of ${digestOf})` : ''}: ${message}`;
}

/** The delivery record of a state delivered at `at`. */
export function deliveryRecord(d: Pick<Due, 'f' | 'catchUp'>, at: string): DeliveryRecord {
  return {
    v: 1,
    state: d.f.state,
    at,
    observedAt: d.f.observedAt,
    severity: d.f.severity,
    ...(d.catchUp ? { catchUp: 'sent' as const } : {}),
  };
}

export interface RouteDelivererOptions {
  send: Send;
  records: Pick<DeliveryLog, 'record' | 'recordMany'>;
  /** Delivered, but the record could not be written yet: written on the retry, not delivered again. */
  unrecorded: Map<string, DeliveryRecord>;
  /** Counts `delivered` and `digests`. */
  stats: { delivered: number; digests: number };
  log: Logger;
  /** Stopping: nothing more is sent. */
  signal: AbortSignal;
  threshold: number;
  /** No routes were configured: the default route's failures say "Slack". */
  singleDefault: boolean;
  /**
   * How many states a signed webhook route is sent at once (default 1). An advisory reaching half
   * the org is 150 states to one receiver: one at a time, each a request and a delivery record,
   * they took longer than the scorer's decision. Slack routes stay one at a time (its webhooks
   * allow about one message a second; a burst there is a digest).
   */
  webhookConcurrency?: number;
}

export class RouteDeliverer {
  constructor(private readonly o: RouteDelivererOptions) {}

  /**
   * What is due to one route, as one digest or one by one. With `stopAtFailure` (the re-drive) the
   * rest is left untried once one delivery failed.
   */
  async deliver<D extends Due>(
    route: Route,
    list: D[],
    heartbeat: Heartbeat,
    stopAtFailure = false,
    tag: Record<string, unknown> = {},
  ): Promise<RouteDelivery<D>> {
    const res: RouteDelivery<D> = { failed: [], untried: [] };
    if (digestOrOneByOne(this.o.threshold, list.length) === 'digest') {
      const reason = await this.digest(route, list, heartbeat, tag);
      if (reason) res.failed = list.map((d) => ({ d, reason }));
      return res;
    }
    const width = this.o.webhookConcurrency ?? 1;
    if (!stopAtFailure && route.type === 'webhook' && width > 1) {
      res.failed = await this.several(route, list, heartbeat, width);
      return res;
    }
    for (let i = 0; i < list.length; i++) {
      const reason = await this.one(route, list[i]!, heartbeat);
      if (!reason) continue;
      res.failed.push({ d: list[i]!, reason });
      if (stopAtFailure) {
        res.untried = list.slice(i + 1);
        break;
      }
    }
    return res;
  }

  /** `width` findings at once; the states of one finding one after the other, in order. */
  private async several<D extends Due>(route: Route, list: D[], heartbeat: Heartbeat, width: number): Promise<{ d: D; reason: string }[]> {
    const byFinding = new Map<string, D[]>();
    for (const d of list) byFinding.set(d.f.id, [...(byFinding.get(d.f.id) ?? []), d]);
    const queues = [...byFinding.values()];
    const failed: { d: D; reason: string }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < queues.length) {
        for (const d of queues[next++]!) {
          const reason = await this.one(route, d, heartbeat);
          if (reason) failed.push({ d, reason });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, queues.length) }, worker));
    return failed;
  }

  private stopping(): void {
    if (this.o.signal.aborted) throw new DeliveryAbortedError('delivery aborted: stopping');
  }

  /** Sends, and turns a DeliveryError into the route's failure reason (a stop is rethrown). */
  private async attempt(
    route: Route,
    send: () => Promise<number>,
    failed: { line: string; fields: Record<string, unknown>; interrupted: string; digestOf?: number },
  ): Promise<number | string> {
    this.stopping();
    try {
      return await send();
    } catch (err) {
      if (err instanceof DeliveryError) {
        this.o.log.error(failed.line, { ...failed.fields, reason: err.message });
        return failureReason(route, err.message, this.o.singleDefault, failed.digestOf);
      }
      if (err instanceof DeliveryAbortedError) this.o.log.info(failed.interrupted, failed.fields);
      throw err;
    }
  }

  /** Writes the records of what was delivered (one state: `record`; a digest's: `recordMany`); until written they wait in `unrecorded`. */
  private async record(recs: [string, DeliveryRecord][]): Promise<void> {
    for (const [k, r] of recs) this.o.unrecorded.set(k, r);
    if (recs.length === 1) await this.o.records.record(recs[0]![0], recs[0]![1]);
    else await this.o.records.recordMany(recs);
    for (const [k] of recs) this.o.unrecorded.delete(k);
  }

  private async one(route: Route, d: Due, heartbeat: Heartbeat): Promise<string | undefined> {
    const f = d.f;
    const sent = await this.attempt(
      route,
      () => this.o.send(route, { finding: f, escalatedFrom: d.escalatedFrom }, { finding: f.id, state: f.state }),
      {
        line: 'not delivered to route',
        fields: d.at,
        interrupted: 'delivery interrupted by stop; the finding will be handled again',
      },
    );
    if (typeof sent === 'string') return sent;
    await this.record([[d.dkey, deliveryRecord(d, new Date().toISOString())]]);
    this.o.stats.delivered++;
    this.o.log.info('sent', {
      ...d.at,
      channel: channelOf(route),
      severity: f.severity,
      workspace: f.workspace.id,
      attempts: sent,
      kind: f.kind,
      ...(f.advisory ? { advisory: f.advisory.id } : {}),
    });
    await heartbeat();
    return undefined;
  }

  private async digest(route: Route, due: Due[], heartbeat: Heartbeat, tag: Record<string, unknown>): Promise<string | undefined> {
    const fs = due.map((d) => d.f);
    const summary = {
      route: route.name,
      findings: fs.length,
      open: fs.filter((f) => f.state === 'open').length,
      resolved: fs.filter((f) => f.state === 'resolved').length,
      ...tag,
    };
    const sent = await this.attempt(route, () => this.o.send(route, { digest: fs }, { digest: fs.length }), {
      line: 'digest not delivered to route',
      fields: summary,
      interrupted: 'digest interrupted by stop; its findings will be handled again',
      digestOf: fs.length,
    });
    if (typeof sent === 'string') return sent;
    // One record per (route, finding) it carried, written together once the digest was delivered.
    const at = new Date().toISOString();
    await this.record(due.map((d) => [d.dkey, deliveryRecord(d, at)]));
    this.o.stats.delivered += due.length;
    this.o.stats.digests++;
    this.o.log.info('sent digest', { ...summary, channel: channelOf(route), attempts: sent });
    for (const d of due) this.o.log.info('sent in digest', { ...d.at, severity: d.f.severity, workspace: d.f.workspace.id });
    await heartbeat();
    return undefined;
  }
}
