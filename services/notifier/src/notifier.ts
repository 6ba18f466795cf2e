/**
 * The notifier: consumes `risk.findings` and delivers each state change of a finding once to every
 * route that matches it (the default route: SLACK_WEBHOOK_URL; without it the route `terminal`,
 * which prints). Before it consumes anything, a route new to the delivery log is sent what is open
 * now (catchup.ts).
 *
 * Findings are handled in windows (window.ts: what arrives within `digest.windowMs` of the first
 * message, across partitions). Per window:
 *   1. tombstones are ignored; a value that fails validation goes to `risk.findings.dlq` with the
 *      field paths;
 *   2. per finding and matching route, in order: the last state delivered to (route, finding) (from
 *      `notifier.deliveries`, or earlier in this window) is the same → skipped; a state observed
 *      before the last delivered one (a replay of old history) → skipped; else it is due;
 *   3. per route, in the configured order: more than `digest.threshold` changes due → ONE digest
 *      (Slack: slackDigest; a webhook route: `{digest: true, findings}`; stdout: a text block),
 *      else each change on its own (webhook with retries, or stdout); after each delivery the
 *      delivery records of what it carried are written (`{state, at, observedAt}` per (route,
 *      finding));
 *   4. a route it could not be delivered to after the retries (a digest: every change it carried):
 *      the other routes are still served; then each such finding goes to `risk.findings.dlq` once,
 *      with the reason of each failed route.
 *   Then the window's offsets are committed. A DLQ record of an undeliverable finding carries the
 *   `undeliverable` mark (the routes it is owed to), which is what the re-drive (redrive.ts) retries.
 *
 * It keeps the latest state of every finding and serves it as the org-wide risk feed (feed.ts), and
 * re-drives `risk.findings.dlq` (redrive.ts) every `redrive.intervalMs`, never while a window is
 * being handled: both check and write the same delivery log, one at a time.
 */
import type { Kafka, Producer } from 'kafkajs';
import { EventValidationError, TOPICS, decodeEvent, dlqTopic, type FindingEvent, type Severity } from '@cratewatch/shared';
import { consumerCheck, countProduced, ensureTopics, kafkaCheck, kafkaClient, logger, newProducer, opsRoutes, readyLimitsFromEnv, sendToDlq, withAdmin, type ConsumedMessage, type Logger } from '@cratewatch/runtime';
import { DeliveryAbortedError, DeliveryError, postJson, type DeliverOptions } from './deliver.js';
import { DeliveryLog, type DeliveryRecord } from './deliveries.js';
import { plainTextAlert, plainTextDigest, slackDigest, slackMessage } from './slack.js';
import { DEFAULT_ROUTE, TERMINAL_ROUTE, deliveryKey, owedTo, type Route } from './routes.js';
import { catchUpNewRoutes, type CatchUpResult } from './catchup.js';
import { FindingStore, startFeedServer, type FeedListen, type FeedServer } from './feed.js';
import { readCompacted } from './compacted.js';
import { runWindowedConsumer, type WindowContext } from './window.js';
import { NotifierMetrics } from './metrics.js';
import { DEFAULT_REDRIVE, Redriver, undeliverableDlqValue, type DlqSource, type RedriveDue, type RedriveOptions, type RedriveStatus, type RouteDelivery } from './redrive.js';

export const SERVICE = 'notifier';
export const DEFAULT_GROUP = 'cratewatch-notifier';

export interface NotifierOptions {
  /** Defaults to a client for KAFKA_BROKERS. */
  kafka?: Kafka;
  /** Slack incoming-webhook URL; without it every alert is printed as text (see `out`). */
  webhookUrl?: string;
  /** Consumer group of `risk.findings` (default 'cratewatch-notifier'). */
  groupId?: string;
  log?: Logger;
  /** Retry policy of webhook deliveries (attempts, backoff, Retry-After cap, timeout). */
  delivery?: Omit<DeliverOptions, 'signal' | 'onRetry'>;
  /** Where alerts go without a webhook (default: stdout). */
  out?: (text: string) => void;
  /**
   * Only messages whose key this accepts are handled; the others are ignored entirely (not
   * validated, delivered, recorded nor dead-lettered). For tests sharing one topic, and for
   * splitting findings between deployments. Default: every message.
   */
  keyFilter?: (key: string | null) => boolean;
  /**
   * Names what `keyFilter` accepts (NOTIFIER_KEY_PREFIX); required with it. A route is new, and
   * caught up (catchup.ts), per scope: each scope's notifier owes a new route its own open findings.
   */
  scope?: string;
  /** How long to wait for the delivery log (and the feed's findings) to be read to its end (default 120 s). */
  loadTimeoutMs?: number;
  /**
   * Named routes (their webhook URLs resolved, see routes.ts). When given, they replace the default
   * route: `webhookUrl` must not be given too.
   */
  routes?: Route[];
  /** Where to serve the org-wide risk feed (port 0: any free port); default: no feed. */
  feed?: FeedListen;
  /**
   * Bursts: when one window holds more than `threshold` state changes due to the same route, that
   * route gets one digest instead (threshold 0: never). A window stays open `windowMs` after its
   * first message. Default: DEFAULT_DIGEST.
   */
  digest?: DigestOptions;
  /**
   * Re-driving `risk.findings.dlq` (redrive.ts): a pass every `intervalMs` retries what the notifier
   * could not deliver; `false` turns it off. Default: DEFAULT_REDRIVE (5 min, backoff capped at 6 h).
   */
  redrive?: RedriveOptions | false;
}

export interface DigestOptions {
  /** More than this many changes for one route in one window → one digest; 0 turns digests off. */
  threshold: number;
  /** How long a window collects findings after its first one (ms; default 2000, 0 when digests are off). */
  windowMs?: number;
}

export const DEFAULT_DIGEST = { threshold: 5, windowMs: 2000 } as const;

/** NOTIFIER_DIGEST_THRESHOLD: a whole number ≥ 0, or `off` (= 0); unset or empty: the default. */
export function parseDigestThreshold(raw: string | undefined): number {
  const v = raw?.trim().toLowerCase();
  if (v === undefined || v === '') return DEFAULT_DIGEST.threshold;
  if (v === 'off') return 0;
  if (!/^\d+$/.test(v)) throw new Error(`NOTIFIER_DIGEST_THRESHOLD must be a whole number or off, got ${JSON.stringify(raw)}`);
  return Number(v);
}

export interface NotifierStats {
  /** Deliveries made, one per (route, finding state). */
  delivered: number;
  /** Deliveries skipped as already made, one per (route, finding state). */
  skipped: number;
  /** Findings sent to the DLQ (once each, however many routes failed). */
  deadLettered: number;
  /** Tombstones. */
  ignored: number;
  /** Valid findings no route matched. */
  unrouted: number;
  /** Digests delivered (each also counts its changes in `delivered`). */
  digests: number;
  /** Deliveries made by the re-drive, one per (route, finding state) (also counted in `delivered`). */
  redriven: number;
  /** Open findings sent to new routes at start (catchup.ts), one per (route, finding) (also counted in `delivered`). */
  caughtUp: number;
}

export interface Notifier {
  /** Stops consuming (offsets of handled findings committed), then disconnects. Idempotent. */
  stop(): Promise<void>;
  readonly stats: Readonly<NotifierStats>;
  /** 'slack' when every route posts to a webhook (the default route without a webhook prints to stdout). */
  readonly channel: 'slack' | 'stdout';
  /** The routes' names, in order. */
  readonly routes: string[];
  /** The routes that were new at start, and what their catch-up did (catchup.ts). */
  readonly newRoutes: CatchUpResult[];
  /** The base URL of the risk feed, when it is served. */
  readonly feedUrl?: string;
  /** The digest settings in force (threshold 0: off). */
  readonly digest: Required<DigestOptions>;
  /** The re-drive's state (what /readyz shows), or 'off'. */
  readonly redrive: RedriveStatus | 'off';
  /** Its metrics (served on the feed's listener at /metrics). */
  readonly metrics: NotifierMetrics;
}

function checkWebhookUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error('SLACK_WEBHOOK_URL is not a valid URL');
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('SLACK_WEBHOOK_URL must be an http(s) URL');
}

/** Starts the notifier; resolves once it is consuming findings (and has logged 'ready'). */
export async function startNotifier(options: NotifierOptions = {}): Promise<Notifier> {
  const log = options.log ?? logger(SERVICE);
  const kafka = options.kafka ?? kafkaClient('cratewatch-notifier');
  const groupId = options.groupId ?? DEFAULT_GROUP;
  const webhookUrl = options.webhookUrl || undefined;
  if (webhookUrl) checkWebhookUrl(webhookUrl);
  if (options.routes && webhookUrl) throw new Error('give either routes or a single webhookUrl, not both');
  if (options.routes && options.routes.length === 0) throw new Error('routes must not be empty');
  if (options.keyFilter && !options.scope) throw new Error('keyFilter needs a scope naming what it accepts (new routes are caught up per scope)');
  // Printing is a route of its own (not `default`): what was printed is not delivered to the Slack route configured later.
  const routes: Route[] = options.routes ?? [webhookUrl ? { name: DEFAULT_ROUTE, webhookUrl } : { name: TERMINAL_ROUTE, type: 'print' }];
  for (const r of routes) {
    if (r.type === 'webhook' && !(r.webhookUrl && r.signer)) throw new Error(`route "${r.name}": a webhook route needs a URL and a signer (its secret)`);
    if (r.type === 'print' && r.webhookUrl) throw new Error(`route "${r.name}": a print route has no webhook URL`);
  }
  const threshold = options.digest?.threshold ?? DEFAULT_DIGEST.threshold;
  if (!Number.isInteger(threshold) || threshold < 0) throw new Error('digest.threshold must be a whole number ≥ 0');
  const digest: Required<DigestOptions> = { threshold, windowMs: threshold > 0 ? (options.digest?.windowMs ?? DEFAULT_DIGEST.windowMs) : 0 };
  const channel = routes.every((r) => r.webhookUrl) ? 'slack' : 'stdout';
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  const abort = new AbortController();
  const stats: NotifierStats = { delivered: 0, skipped: 0, deadLettered: 0, ignored: 0, unrouted: 0, digests: 0, redriven: 0, caughtUp: 0 };
  let newRoutes: CatchUpResult[] = [];
  const redriveOpts: Required<RedriveOptions> | undefined =
    options.redrive === false ? undefined : { intervalMs: options.redrive?.intervalMs ?? DEFAULT_REDRIVE.intervalMs, maxBackoffMs: options.redrive?.maxBackoffMs ?? DEFAULT_REDRIVE.maxBackoffMs };
  if (redriveOpts && !(redriveOpts.intervalMs >= 1 && redriveOpts.maxBackoffMs >= 1)) throw new Error('redrive.intervalMs and redrive.maxBackoffMs must be ≥ 1 ms');

  if (!options.routes && !webhookUrl) {
    log.warn('SLACK_WEBHOOK_URL is not set: alerts are printed to stdout');
    out('cratewatch notifier: no SLACK_WEBHOOK_URL set; alerts are printed here, one block each.\n\n');
  }
  if (options.routes) {
    // Names and filters only: a route's URL is a secret.
    log.info('routes', { routes: routes.map((r) => ({ name: r.name, type: r.type ?? 'slack', teams: r.teams, minSeverity: r.minSeverity, states: r.states })) });
  }

  const limits = readyLimitsFromEnv();
  await withAdmin(kafka, (admin) => ensureTopics(admin));

  const metrics = new NotifierMetrics();
  const findingsConsumer = metrics.consumer(groupId);
  const redriveConsumer = metrics.consumer(`${groupId}.redrive`);
  const producer: Producer = countProduced(newProducer(kafka), metrics.shared);
  let deliveries: DeliveryLog | undefined;
  let consumerStop: (() => Promise<void>) | undefined;
  let feedReader: { disconnect(): Promise<void> } | undefined;
  let feedServer: FeedServer | undefined;
  let redriver: Redriver | undefined;
  metrics.watchRedrive(() => redriver?.status());
  const cleanup = async () => {
    abort.abort();
    await feedServer?.close();
    // The consumers each wait for their fetch in flight: stop them together. The producer goes
    // last, as the findings consumer (or a re-drive pass) may still write a delivery record or a DLQ entry.
    const results = await Promise.allSettled([consumerStop?.(), redriver?.stop(), deliveries?.stop(), feedReader?.disconnect()]);
    results.push(...(await Promise.allSettled([producer.disconnect()])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    await producer.connect();
    const dlog = new DeliveryLog({ kafka, producer, log, groupId, ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}) });
    deliveries = dlog;
    // The latest state of every finding: served by the feed, what tells the re-drive a finding moved
    // on, and what a new route is sent (the open ones).
    const store = new FindingStore();
    /** Where each finding's latest state was read: the source of a DLQ record when a new route cannot have it. */
    const sourceOf = new Map<string, { partition: number; offset: string }>();
    const keyFilter = options.keyFilter;
    const loadFeed = async () => {
      const { consumer } = await readCompacted({
        kafka,
        topic: TOPICS.findings,
        log,
        groupPrefix: `${groupId}.feed-reader`,
        ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}),
        timeoutConsequence: 'the feed starts incomplete and fills in as it reads',
        onMessage: (m, partition) => {
          const key = m.key === null ? null : m.key.toString();
          if (keyFilter && !keyFilter(key)) return;
          if (store.apply(key, m.value) && key !== null) sourceOf.set(key, { partition, offset: m.offset });
          else if (m.value === null && key !== null) sourceOf.delete(key);
        },
      });
      feedReader = consumer;
      log.info('findings loaded for the feed', { topic: TOPICS.findings, findings: store.size });
    };
    await Promise.all([dlog.load(), loadFeed()]);
    if (options.feed) {
      const checks = [kafkaCheck(kafka), consumerCheck('findings', findingsConsumer.health, limits)];
      if (redriveOpts) checks.push(consumerCheck('redrive', redriveConsumer.health, limits));
      // Not a readiness condition (pending deliveries wait for their route): shown with the checks.
      checks.push({ name: 'redrive-status', run: async () => (redriver ? { ...redriver.status() } : { off: true }) });
      feedServer = await startFeedServer(store, options.feed, log, opsRoutes({ metrics: metrics.shared, log, checks }));
    }

    /** Delivered, but the record could not be written yet: written on the retry, not delivered again. */
    const unrecorded = new Map<string, DeliveryRecord>();
    /** Messages already sent to the DLQ, so a window handled again does not send them twice. */
    const dlqWritten = new WeakSet<ConsumedMessage>();
    const named = routes.length > 1 || !!options.routes;
    const channelOf = (route: Route) => (!route.webhookUrl ? 'stdout' : route.type === 'webhook' ? 'webhook' : 'slack');

    /** Delivers one finding state, or a digest of several, to a route; returns the attempts it took. */
    const send = (route: Route, what: { finding: FindingEvent; escalatedFrom?: Severity | undefined } | { digest: FindingEvent[] }, logAt: Record<string, unknown>): Promise<number> =>
      metrics.delivery(route.name, 'digest' in what ? 'digest' : 'single', sendUncounted(route, what, logAt));
    const sendUncounted = async (route: Route, what: { finding: FindingEvent; escalatedFrom?: Severity | undefined } | { digest: FindingEvent[] }, logAt: Record<string, unknown>): Promise<number> => {
      const esc = 'finding' in what && what.escalatedFrom ? { escalatedFrom: what.escalatedFrom } : {};
      if (!route.webhookUrl) {
        out(('finding' in what ? plainTextAlert(what.finding, esc) : plainTextDigest(what.digest)) + '\n');
        return 1;
      }
      // A webhook route gets the finding's JSON as the scorer wrote it (its severity is the new one).
      const body =
        route.type === 'webhook'
          ? 'finding' in what ? what.finding : { digest: true, findings: what.digest }
          : 'finding' in what ? slackMessage(what.finding, esc) : slackDigest(what.digest);
      const signer = route.type === 'webhook' ? route.signer : undefined;
      const res = await postJson(route.webhookUrl, body, {
        ...options.delivery,
        signal: abort.signal,
        ...(signer ? { headers: (raw: string) => signer.headers(raw) } : {}),
        onStatus: (status) => metrics.status(route.name, status),
        onRetry: ({ attempt, waitMs, reason }) => log.warn('webhook delivery failed; retrying', { ...logAt, route: route.name, attempt, waitMs, reason }),
      });
      return res.attempts;
    };

    interface Item {
      m: ConsumedMessage;
      f: FindingEvent;
      where: { finding: string; state: FindingEvent['state']; partition: number; offset: string };
      failures: { route: string; reason: string }[];
    }
    /** One finding state due to a route: from a window (`item`) or from the re-drive. */
    interface Due {
      f: FindingEvent;
      dkey: string;
      at: Record<string, unknown>;
      /** The route had this finding open at this lower severity: the message says it rose. */
      escalatedFrom?: Severity;
      /** Sent by a new route's catch-up: its delivery record says so (catchup.ts). */
      catchUp?: true;
    }
    interface WindowDue extends Due {
      item: Item;
    }
    type Heartbeat = () => Promise<void>;

    const failureReason = (route: Route, message: string, digestOf?: number) => {
      const what = route.name === DEFAULT_ROUTE && !options.routes ? 'Slack' : `route ${route.name}`;
      return `not delivered to ${what}${digestOf ? ` (in a digest of ${digestOf})` : ''}: ${message}`;
    };
    const stopping = () => {
      if (abort.signal.aborted) throw new DeliveryAbortedError('delivery aborted: stopping');
    };

    /** Delivers one finding state and writes its delivery record; returns the failure reason when the route could not have it. */
    const deliverOne = async (route: Route, d: Due, heartbeat: Heartbeat): Promise<string | undefined> => {
      stopping();
      const f = d.f;
      let attempts: number;
      try {
        attempts = await send(route, { finding: f, escalatedFrom: d.escalatedFrom }, { finding: f.id, state: f.state });
      } catch (err) {
        if (err instanceof DeliveryError) {
          log.error('not delivered to route', { ...d.at, reason: err.message });
          return failureReason(route, err.message);
        }
        if (err instanceof DeliveryAbortedError) log.info('delivery interrupted by stop; the finding will be handled again', d.at);
        throw err;
      }
      const rec: DeliveryRecord = { v: 1, state: f.state, at: new Date().toISOString(), observedAt: f.observedAt, severity: f.severity, ...(d.catchUp ? { catchUp: 'sent' as const } : {}) };
      unrecorded.set(d.dkey, rec);
      await dlog.record(d.dkey, rec);
      unrecorded.delete(d.dkey);
      stats.delivered++;
      log.info('sent', { ...d.at, channel: channelOf(route), severity: f.severity, workspace: f.workspace.id, attempts, kind: f.kind, ...(f.advisory ? { advisory: f.advisory.id } : {}) });
      await heartbeat();
      return undefined;
    };

    /** Delivers several finding states as one digest and writes their records; returns the failure reason. */
    const deliverDigest = async (route: Route, due: Due[], heartbeat: Heartbeat, tag: Record<string, unknown>): Promise<string | undefined> => {
      stopping();
      const fs = due.map((d) => d.f);
      const summary = { route: route.name, findings: fs.length, open: fs.filter((f) => f.state === 'open').length, resolved: fs.filter((f) => f.state === 'resolved').length, ...tag };
      let attempts: number;
      try {
        attempts = await send(route, { digest: fs }, { digest: fs.length });
      } catch (err) {
        if (err instanceof DeliveryError) {
          log.error('digest not delivered to route', { ...summary, reason: err.message });
          return failureReason(route, err.message, fs.length);
        }
        if (err instanceof DeliveryAbortedError) log.info('digest interrupted by stop; its findings will be handled again', summary);
        throw err;
      }
      // One record per (route, finding) it carried, written together once the digest was delivered.
      const at = new Date().toISOString();
      const recs = due.map((d): [string, DeliveryRecord] => [d.dkey, { v: 1, state: d.f.state, at, observedAt: d.f.observedAt, severity: d.f.severity, ...(d.catchUp ? { catchUp: 'sent' as const } : {}) }]);
      for (const [k, r] of recs) unrecorded.set(k, r);
      await dlog.recordMany(recs);
      for (const [k] of recs) unrecorded.delete(k);
      stats.delivered += due.length;
      stats.digests++;
      log.info('sent digest', { ...summary, channel: channelOf(route), attempts });
      for (const d of due) log.info('sent in digest', { ...d.at, severity: d.f.severity, workspace: d.f.workspace.id });
      await heartbeat();
      return undefined;
    };

    /**
     * What is due to one route: one digest when more than the threshold, else one by one. With
     * `stopAtFailure` (the re-drive) the rest is left untried once one delivery failed.
     */
    const deliverRoute = async <D extends Due>(route: Route, list: D[], heartbeat: Heartbeat, stopAtFailure = false, tag: Record<string, unknown> = {}): Promise<RouteDelivery<D>> => {
      const res: RouteDelivery<D> = { failed: [], untried: [] };
      if (digest.threshold > 0 && list.length > digest.threshold) {
        const reason = await deliverDigest(route, list, heartbeat, tag);
        if (reason) res.failed = list.map((d) => ({ d, reason }));
        return res;
      }
      for (let i = 0; i < list.length; i++) {
        const reason = await deliverOne(route, list[i]!, heartbeat);
        if (!reason) continue;
        res.failed.push({ d: list[i]!, reason });
        if (stopAtFailure) {
          res.untried = list.slice(i + 1);
          break;
        }
      }
      return res;
    };

    /** Sends a finding some routes could not have to the DLQ, marked with those routes: what the re-drive retries. */
    const deadLetter = async (source: DlqSource, reason: string, failedRoutes: string[]) => {
      const mark = { routes: [...new Set(failedRoutes)], attempts: 0, firstAt: new Date().toISOString() };
      await producer.send({
        topic: dlqTopic(source.topic),
        acks: -1,
        messages: [{ key: source.key, value: undeliverableDlqValue(source, reason, mark) }],
      });
    };

    /** The main consumer's windows and the re-drive's passes run one at a time. */
    let turn: Promise<unknown> = Promise.resolve();
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
      const run = turn.then(fn);
      turn = run.catch(() => undefined);
      return run;
    };

    const handleWindow = async (ms: ConsumedMessage[], ctx: WindowContext): Promise<void> => {
      // 1. Decode; refuse what is not a finding.
      const items: Item[] = [];
      for (const m of ms) {
        if (keyFilter && !keyFilter(m.key)) continue;
        const where = { partition: m.partition, offset: m.message.offset };
        if (m.message.value === null) {
          if (ctx.attempt === 1) stats.ignored++;
          log.debug('tombstone ignored', { key: m.key, ...where });
          continue;
        }
        let f: FindingEvent | null;
        try {
          f = decodeEvent(TOPICS.findings, m.message.value);
        } catch (err) {
          if (!(err instanceof EventValidationError)) throw err;
          if (!dlqWritten.has(m)) {
            log.warn('refused message: sent to DLQ', { topic: m.topic, ...where, key: m.key, reason: err.message });
            await sendToDlq(producer, SERVICE, { topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value }, err.message);
            dlqWritten.add(m);
            metrics.shared.deadLettered.inc({ topic: m.topic, failure: 'bad-input' });
          }
          continue;
        }
        if (f === null) continue;
        items.push({ m, f, where: { finding: f.id, state: f.state, ...where }, failures: [] });
      }

      // 2. What is due to which route (in this window, a change decided earlier counts as delivered).
      const due = new Map<string, WindowDue[]>(routes.map((r) => [r.name, []]));
      const decided = new Map<string, Pick<DeliveryRecord, 'state' | 'observedAt' | 'severity'>>();
      for (const item of items) {
        const f = item.f;
        let routed = false;
        for (const route of routes) {
          const dkey = deliveryKey(route.name, f.id);
          const at = named ? { ...item.where, route: route.name } : item.where;
          const earlier = decided.get(dkey);
          const recorded = dlog.last(dkey);
          let owed = owedTo(route, f, earlier ?? recorded);
          if (!owed.owed && owed.why === 'no route match') continue;
          routed = true;
          const pending = unrecorded.get(dkey);
          if (pending && pending.state === f.state) {
            // Delivered by an earlier try of this window whose record could not be written: write it now.
            await dlog.record(dkey, pending);
            unrecorded.delete(dkey);
            owed = owedTo(route, f, earlier ?? pending);
            if (!owed.owed) {
              stats.skipped++;
              log.info('skipped: already delivered (delivery record written now)', at);
              continue;
            }
          }
          if (!owed.owed) {
            stats.skipped++;
            if (!earlier && recorded?.catchUp === 'baseline') {
              // Never delivered: resolved before the route was added (catchup.ts); a replay of its history.
              log.info('skipped: resolved before the route was added', { ...at, resolvedObservedAt: recorded.observedAt });
            } else if (owed.why === 'already delivered') {
              if (earlier) log.info('skipped: the same state earlier in this window', at);
              else log.info('skipped: already delivered', { ...at, deliveredAt: recorded?.at });
            } else {
              const last = (earlier ?? recorded)!;
              log.info('skipped: older than the state already delivered', { ...at, delivered: last.state, deliveredObservedAt: last.observedAt, observedAt: f.observedAt });
            }
            continue;
          }
          decided.set(dkey, { state: f.state, observedAt: f.observedAt, severity: f.severity });
          due.get(route.name)!.push({ item, f, dkey, at: owed.escalatedFrom ? { ...at, escalatedFrom: owed.escalatedFrom } : at, ...(owed.escalatedFrom ? { escalatedFrom: owed.escalatedFrom } : {}) });
        }
        if (!routed) {
          if (ctx.attempt === 1) stats.unrouted++;
          log.info('skipped: no route matches', { ...item.where, severity: f.severity, team: f.workspace.team });
        }
      }

      // 3. Deliver, route by route: a burst as one digest, else one by one.
      for (const route of routes) {
        const list = due.get(route.name)!;
        if (list.length === 0) continue;
        const { failed } = await deliverRoute(route, list, ctx.heartbeat);
        for (const { d, reason } of failed) d.item.failures.push({ route: route.name, reason });
      }

      // 4. What some route could not have: to the DLQ once, naming each failed route.
      for (const item of items) {
        if (item.failures.length === 0 || dlqWritten.has(item.m)) continue;
        stats.deadLettered++;
        const reason = item.failures.map((x) => x.reason).join('; ');
        log.error('undeliverable: sent to DLQ', { ...item.where, routes: item.failures.map((x) => x.route), reason });
        const m = item.m;
        await deadLetter({ topic: m.topic, partition: m.partition, offset: m.message.offset, key: m.message.key, value: m.message.value }, reason, item.failures.map((x) => x.route));
        dlqWritten.add(m);
        metrics.shared.deadLettered.inc({ topic: m.topic, failure: 'undeliverable' });
      }
    };

    if (redriveOpts) {
      const noHeartbeat = async () => undefined;
      redriver = new Redriver({
        ...redriveOpts,
        kafka,
        producer,
        log,
        groupId,
        routes,
        keyFilter,
        deliveries: dlog,
        unrecorded,
        latest: (id) => store.get(id),
        exclusive,
        signal: abort.signal,
        hooks: redriveConsumer.hooks,
        deliver: async (route, list: RedriveDue[]) => {
          const res = await deliverRoute(route, list, noHeartbeat, true, { redrive: true });
          stats.redriven += list.length - res.failed.length - res.untried.length;
          return res;
        },
      });
    }
    // New routes first, before anything is consumed: their catch-up decides from the latest states
    // read at start, and the main consumer then skips what it sent (or found resolved) as replays.
    const noBeat = async () => undefined;
    newRoutes = await catchUpNewRoutes({
      routes,
      scope: options.scope,
      inScope: (id) => !keyFilter || keyFilter(id),
      deliveries: dlog,
      findings: () => store.findings({ state: 'all' }),
      deliver: async (route, list) => {
        const res = await deliverRoute(route, list, noBeat, false, { catchUp: true });
        stats.caughtUp += list.length - res.failed.length;
        return res;
      },
      deadLetter: async (f, route, reason) => {
        const pos = sourceOf.get(f.id);
        stats.deadLettered++;
        log.error('undeliverable: sent to DLQ', { finding: f.id, state: f.state, routes: [route.name], reason, catchUp: true });
        // The state as read from risk.findings (its position, when known), for the re-drive to retry.
        await deadLetter({ topic: TOPICS.findings, partition: pos?.partition ?? -1, offset: pos?.offset ?? '-1', key: f.id, value: JSON.stringify(f) }, reason, [route.name]);
      },
      log,
    });

    // Both groups join at once.
    await Promise.all([
      runWindowedConsumer({
        kafka,
        groupId,
        topic: TOPICS.findings,
        log,
        windowMs: digest.windowMs,
        signal: abort.signal,
        hooks: findingsConsumer.hooks,
        handle: (ms, ctx) => exclusive(() => handleWindow(ms, ctx)),
      }).then((c) => {
        consumerStop = c.stop;
      }),
      redriver?.start(),
    ]);
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }

  log.info('ready', {
    groupId,
    topic: TOPICS.findings,
    channel,
    routes: routes.map((r) => r.name),
    digest: digest.threshold > 0 ? digest : 'off',
    redrive: redriveOpts ? { ...redriveOpts, group: redriver!.groupId } : 'off',
    knownDeliveries: deliveries.size,
    newRoutes: newRoutes.map((r) => r.route),
    ...(feedServer ? { feed: feedServer.url } : {}),
  });

  let stopping: Promise<void> | undefined;
  return {
    channel,
    stats,
    routes: routes.map((r) => r.name),
    newRoutes,
    digest,
    metrics,
    ...(feedServer ? { feedUrl: feedServer.url } : {}),
    get redrive() {
      return redriver ? redriver.status() : 'off';
    },
    stop: () => {
      stopping ??= cleanup().then(() => log.info('stopped', { ...stats }));
      return stopping;
    },
  };
}
