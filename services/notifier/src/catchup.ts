/**
 * A route configured later gets what is open now. A route is **new** when the delivery log has no
 * added record for it (routes.ts `routeAddedKey`, per scope) and no record of a finding in scope
 * that a catch-up did not write (a route that delivered before routes were recorded as added is not
 * new). Before the notifier consumes anything, each new route:
 *   1. is sent the findings that are open now (the latest state of each, from `risk.findings` read
 *      at start) and match it, as the main consumer would send them — one digest when more than the
 *      digest threshold, else one by one; their delivery records say `catchUp: 'sent'`;
 *      what it could not have goes to the DLQ, marked for the route, and is re-driven from there;
 *   2. gets a `baseline` record for each finding that was resolved before it existed: nothing is
 *      sent, and a replay of that finding's older states (a new group, an uncommitted backlog) is
 *      then skipped by the same rule as any replay (routes.ts `owedTo`: older than what the route has);
 *   3. is recorded as added — last, so a crash on the way leaves it new, and the next start sends
 *      only what the first did not (the catch-up's own records skip the rest).
 * A route that is not new keeps the exactly-once rule of the delivery log: nothing is sent again.
 * Why not simply "whatever has no delivery record": a route that existed and was stopped while a
 * finding opened and resolved is owed both states from the backlog; only a new route is not.
 */
import type { FindingEvent, Severity } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import type { DeliveryLog, DeliveryRecord } from './deliveries.js';
import { deliveryKey, owedTo, routeAddedKey, type Route } from './routes.js';
import type { RouteDelivery } from './redrive.js';

/** One open finding a new route is sent. */
export interface CatchUpDue {
  f: FindingEvent;
  dkey: string;
  at: Record<string, unknown>;
  escalatedFrom?: Severity;
  /** Its delivery record says it was sent by a catch-up. */
  catchUp: true;
}

export interface CatchUpPlan {
  /** Open, matching, not had yet: sent. */
  due: FindingEvent[];
  /** Resolved before the route existed, no record yet: a baseline record, nothing sent. */
  baseline: FindingEvent[];
}

/**
 * What a new route is sent, and which findings get a baseline record. `findings` is the latest state
 * of every finding in scope; `last` the route's record of a finding (a catch-up cut short leaves
 * some: those are not sent again). A resolved finding gets its baseline whether or not it matches
 * the route now: an older state of it may have (a severity that fell before it resolved).
 */
export function catchUpPlan(
  route: Pick<Route, 'name' | 'teams' | 'minSeverity' | 'states'>,
  findings: Iterable<FindingEvent>,
  last: (dkey: string) => DeliveryRecord | undefined,
): CatchUpPlan {
  const plan: CatchUpPlan = { due: [], baseline: [] };
  for (const f of findings) {
    const rec = last(deliveryKey(route.name, f.id));
    if (f.state === 'resolved') {
      if (!rec) plan.baseline.push(f);
      continue;
    }
    if (owedTo(route, f, rec).owed) plan.due.push(f);
  }
  return plan;
}

export interface CatchUpOptions {
  routes: Route[];
  /** Names the findings this notifier handles (NOTIFIER_KEY_PREFIX); undefined: all of them. */
  scope: string | undefined;
  /** Accepts a finding id in scope. */
  inScope: (findingId: string) => boolean;
  deliveries: DeliveryLog;
  /** The latest state of every finding in scope, highest score first. */
  findings: () => FindingEvent[];
  /** Delivers to one route as the main consumer does (a digest over the threshold), writing the records. */
  deliver: (route: Route, due: CatchUpDue[]) => Promise<RouteDelivery<CatchUpDue>>;
  /** Dead-letters a finding a route could not have (marked for that route: the re-drive retries it). */
  deadLetter: (f: FindingEvent, route: Route, reason: string) => Promise<void>;
  log: Logger;
}

/** Records per produce request when writing baselines (a big org has many resolved findings). */
const BASELINE_BATCH = 500;

export interface CatchUpResult {
  route: string;
  sent: number;
  baseline: number;
  deadLettered: number;
}

/** Catches up every new route (see above); returns what was done per new route. Call before consuming. */
export async function catchUpNewRoutes(o: CatchUpOptions): Promise<CatchUpResult[]> {
  const { deliveries, log } = o;
  const unadded = o.routes.filter((r) => !deliveries.isAdded(routeAddedKey(r.name, o.scope)));
  if (unadded.length === 0) return [];
  const deliveredBefore = deliveries.routesDeliveredBefore(o.inScope);
  const results: CatchUpResult[] = [];
  let findings: FindingEvent[] | undefined;
  for (const route of unadded) {
    if (deliveredBefore.has(route.name)) continue; // existed before added records: not new
    findings ??= o.findings();
    const plan = catchUpPlan(route, findings, (k) => deliveries.last(k));
    const result: CatchUpResult = { route: route.name, sent: 0, baseline: plan.baseline.length, deadLettered: 0 };
    log.info('new route: sending what is open now', { route: route.name, open: plan.due.length, resolvedBefore: plan.baseline.length });
    if (plan.due.length > 0) {
      const due = plan.due.map((f): CatchUpDue => ({
        f,
        dkey: deliveryKey(route.name, f.id),
        at: { finding: f.id, state: f.state, route: route.name, catchUp: true },
        catchUp: true,
      }));
      const res = await o.deliver(route, due);
      for (const { d, reason } of res.failed) await o.deadLetter(d.f, route, reason);
      result.deadLettered = res.failed.length;
      result.sent = due.length - res.failed.length;
    }
    const at = new Date().toISOString();
    for (let i = 0; i < plan.baseline.length; i += BASELINE_BATCH) {
      await deliveries.recordMany(
        plan.baseline
          .slice(i, i + BASELINE_BATCH)
          .map((f): [string, DeliveryRecord] => [
            deliveryKey(route.name, f.id),
            { v: 1, state: f.state, at, observedAt: f.observedAt, severity: f.severity, catchUp: 'baseline' },
          ]),
      );
    }
    results.push(result);
  }
  // Every route is now known as added: the new ones caught up, the older ones recognised.
  await deliveries.markAdded(unadded.map((r) => routeAddedKey(r.name, o.scope)));
  for (const r of results) log.info('new route caught up', { ...r });
  return results;
}
