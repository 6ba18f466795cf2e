/**
 * The notifier's wiring: consumes `risk.findings` and delivers each state change of a finding once
 * to every route that matches it (the default route: SLACK_WEBHOOK_URL; without it the route
 * `terminal`, which prints). `startNotifier` checks the settings, reads the delivery log and the
 * latest findings, then starts the parts, each in its own module:
 *   - window.ts hands over findings in windows (what arrives within `digest.windowMs` of the first
 *     message, across partitions), committing a window's offsets once it was handled;
 *   - window-handler.ts handles a window: decode, decide what is due to which route, deliver,
 *     dead-letter what a route could not have;
 *   - route-delivery.ts delivers what is due to one route: one digest or one by one, then writes
 *     the delivery records; send.ts (to-slack.ts, to-webhook.ts, to-stdout.ts) sends;
 *   - catchup.ts sends a route new to the delivery log what is open now, before anything is consumed;
 *   - redrive.ts re-drives `risk.findings.dlq` every `redrive.intervalMs`, never while a window is
 *     being handled: both check and write the same delivery log, one at a time;
 *   - feed.ts serves the latest state of every finding as the org-wide risk feed.
 */
import type { Kafka, Producer } from 'kafkajs';
import { TOPICS } from '@cratewatch/shared';
import {
  consumerCheck,
  countProduced,
  ensureTopics,
  kafkaCheck,
  kafkaClient,
  logger,
  newProducer,
  opsRoutes,
  readyLimitsFromEnv,
  envInt,
  type Env,
  withAdmin,
  type Logger,
} from '@cratewatch/runtime';
import type { DeliverOptions } from './deliver.js';
import { DeliveryLog, type DeliveryRecord } from './deliveries.js';
import { DEFAULT_ROUTE, TERMINAL_ROUTE, type Route } from './routes.js';
import { catchUpNewRoutes, type CatchUpResult } from './catchup.js';
import { FindingStore, startFeedServer, type FeedListen, type FeedServer } from './feed.js';
import { readCompacted } from './compacted.js';
import { runWindowedConsumer } from './window.js';
import { NotifierMetrics } from './metrics.js';
import { DEFAULT_REDRIVE, Redriver, type RedriveDue, type RedriveOptions, type RedriveStatus } from './redrive.js';
import { sender } from './send.js';
import { RouteDeliverer } from './route-delivery.js';
import { WindowHandler } from './window-handler.js';
import { deadLetterUndeliverable } from './dead-letter.js';

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
  /** States sent to one signed webhook route at once (default `DEFAULT_WEBHOOK_CONCURRENCY`; Slack: one). */
  webhookConcurrency?: number;
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

/** States sent to one signed webhook route at once (`NOTIFIER_WEBHOOK_CONCURRENCY`; route-delivery.ts). */
export const DEFAULT_WEBHOOK_CONCURRENCY = 8;

/** NOTIFIER_DIGEST_THRESHOLD: a whole number ≥ 0, or `off` (= 0); unset or empty: the default. */
export const digestThresholdFromEnv = (env: Env = process.env): number =>
  envInt(env, 'NOTIFIER_DIGEST_THRESHOLD', { off: 0, fallback: DEFAULT_DIGEST.threshold });

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

/** The settings in force, checked. */
interface Settings {
  routes: Route[];
  digest: Required<DigestOptions>;
  redrive: Required<RedriveOptions> | undefined;
  channel: 'slack' | 'stdout';
  out: (text: string) => void;
  /** No routes configured: the single default route (or `terminal`). */
  singleDefault: boolean;
}

function settingsOf(options: NotifierOptions): Settings {
  const webhookUrl = options.webhookUrl || undefined;
  if (webhookUrl) checkWebhookUrl(webhookUrl);
  if (options.routes && webhookUrl) throw new Error('give either routes or a single webhookUrl, not both');
  if (options.routes && options.routes.length === 0) throw new Error('routes must not be empty');
  if (options.keyFilter && !options.scope)
    throw new Error('keyFilter needs a scope naming what it accepts (new routes are caught up per scope)');
  // Printing is a route of its own (not `default`): what was printed is not delivered to the Slack route configured later.
  const routes: Route[] = options.routes ?? [webhookUrl ? { name: DEFAULT_ROUTE, webhookUrl } : { name: TERMINAL_ROUTE, type: 'print' }];
  for (const r of routes) {
    if (r.type === 'webhook' && !(r.webhookUrl && r.signer))
      throw new Error(`route "${r.name}": a webhook route needs a URL and a signer (its secret)`);
    if (r.type === 'print' && r.webhookUrl) throw new Error(`route "${r.name}": a print route has no webhook URL`);
  }
  const threshold = options.digest?.threshold ?? DEFAULT_DIGEST.threshold;
  if (!Number.isInteger(threshold) || threshold < 0) throw new Error('digest.threshold must be a whole number ≥ 0');
  const digest: Required<DigestOptions> = {
    threshold,
    windowMs: threshold > 0 ? (options.digest?.windowMs ?? DEFAULT_DIGEST.windowMs) : 0,
  };
  const redrive: Required<RedriveOptions> | undefined =
    options.redrive === false
      ? undefined
      : {
          intervalMs: options.redrive?.intervalMs ?? DEFAULT_REDRIVE.intervalMs,
          maxBackoffMs: options.redrive?.maxBackoffMs ?? DEFAULT_REDRIVE.maxBackoffMs,
        };
  if (redrive && !(redrive.intervalMs >= 1 && redrive.maxBackoffMs >= 1))
    throw new Error('redrive.intervalMs and redrive.maxBackoffMs must be ≥ 1 ms');
  const channel = routes.every((r) => r.webhookUrl) ? 'slack' : 'stdout';
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  return { routes, digest, redrive, channel, out, singleDefault: !options.routes };
}

/** Says how alerts will go out: printed (no webhook), or the routes' names and filters (never a URL: it is a secret). */
function announce(options: NotifierOptions, s: Settings, log: Logger): void {
  if (!options.routes && !options.webhookUrl) {
    log.warn('SLACK_WEBHOOK_URL is not set: alerts are printed to stdout');
    s.out('cratewatch notifier: no SLACK_WEBHOOK_URL set; alerts are printed here, one block each.\n\n');
  }
  if (options.routes) {
    log.info('routes', {
      routes: s.routes.map((r) => ({
        name: r.name,
        type: r.type ?? 'slack',
        teams: r.teams,
        minSeverity: r.minSeverity,
        states: r.states,
      })),
    });
  }
}

/** Everything a notifier runs, shared by the functions that start it and stopped by `stopAll`. */
interface Running {
  options: NotifierOptions;
  log: Logger;
  kafka: Kafka;
  groupId: string;
  s: Settings;
  /** /readyz limits (CRATEWATCH_READY_*). */
  limits: ReturnType<typeof readyLimitsFromEnv>;
  metrics: NotifierMetrics;
  consumers: { findings: ReturnType<NotifierMetrics['consumer']>; redrive: ReturnType<NotifierMetrics['consumer']> };
  producer: Producer;
  abort: AbortController;
  stats: NotifierStats;
  deliveries?: DeliveryLog;
  consumerStop?: () => Promise<void>;
  feedReader?: { disconnect(): Promise<void> };
  feedServer?: FeedServer;
  redriver?: Redriver;
}

async function stopAll(r: Running): Promise<void> {
  r.abort.abort();
  await r.feedServer?.close();
  // The consumers each wait for their fetch in flight: stop them together. The producer goes
  // last, as the findings consumer (or a re-drive pass) may still write a delivery record or a DLQ entry.
  const results = await Promise.allSettled([r.consumerStop?.(), r.redriver?.stop(), r.deliveries?.stop(), r.feedReader?.disconnect()]);
  results.push(...(await Promise.allSettled([r.producer.disconnect()])));
  const failed = results.find((x): x is PromiseRejectedResult => x.status === 'rejected');
  if (failed) throw failed.reason;
}

/** What was read of `risk.findings` at start (and is then followed). */
interface Findings {
  /** The latest state of every finding: served by the feed, what tells the re-drive a finding moved on, and what a new route is sent (the open ones). */
  store: FindingStore;
  /** Where each finding's latest state was read: the source of a DLQ record when a new route cannot have it. */
  sourceOf: Map<string, { partition: number; offset: string }>;
}

async function loadFindings(r: Running): Promise<Findings> {
  const found: Findings = { store: new FindingStore(), sourceOf: new Map() };
  const keyFilter = r.options.keyFilter;
  const { consumer } = await readCompacted({
    kafka: r.kafka,
    topic: TOPICS.findings,
    log: r.log,
    groupPrefix: `${r.groupId}.feed-reader`,
    ...(r.options.loadTimeoutMs ? { loadTimeoutMs: r.options.loadTimeoutMs } : {}),
    timeoutConsequence: 'the feed starts incomplete and fills in as it reads',
    onMessage: (m, partition) => {
      const key = m.key === null ? null : m.key.toString();
      if (keyFilter && !keyFilter(key)) return;
      if (found.store.apply(key, m.value) && key !== null) found.sourceOf.set(key, { partition, offset: m.offset });
      else if (m.value === null && key !== null) found.sourceOf.delete(key);
    },
  });
  r.feedReader = consumer;
  r.log.info('findings loaded for the feed', { topic: TOPICS.findings, findings: found.store.size });
  return found;
}

/** The risk feed and the ops endpoints, on one listener. */
async function serveFeed(r: Running, feed: FeedListen, store: FindingStore): Promise<FeedServer> {
  const limits = r.limits;
  const checks = [kafkaCheck(r.kafka), consumerCheck('findings', r.consumers.findings.health, limits)];
  if (r.s.redrive) checks.push(consumerCheck('redrive', r.consumers.redrive.health, limits));
  // Not a readiness condition (pending deliveries wait for their route): shown with the checks.
  checks.push({ name: 'redrive-status', run: async () => (r.redriver ? { ...r.redriver.status() } : { off: true }) });
  return startFeedServer(store, feed, r.log, opsRoutes({ metrics: r.metrics.shared, log: r.log, checks }));
}

/** Runs `fn`s one at a time, in call order: the main consumer's windows and the re-drive's passes. */
function oneAtATime(): <T>(fn: () => Promise<T>) => Promise<T> {
  let turn: Promise<unknown> = Promise.resolve();
  return <T>(fn: () => Promise<T>): Promise<T> => {
    const run = turn.then(fn);
    turn = run.catch(() => undefined);
    return run;
  };
}

/** The parts that deliver, sharing one delivery log and what could not be recorded yet. */
interface Delivering {
  dlog: DeliveryLog;
  unrecorded: Map<string, DeliveryRecord>;
  deliverer: RouteDeliverer;
  exclusive: ReturnType<typeof oneAtATime>;
}

function redriverOf(r: Running, redrive: Required<RedriveOptions>, d: Delivering, store: FindingStore): Redriver {
  const noHeartbeat = async () => undefined;
  return new Redriver({
    ...redrive,
    kafka: r.kafka,
    producer: r.producer,
    log: r.log,
    groupId: r.groupId,
    routes: r.s.routes,
    keyFilter: r.options.keyFilter,
    deliveries: d.dlog,
    unrecorded: d.unrecorded,
    latest: (id) => store.get(id),
    exclusive: d.exclusive,
    signal: r.abort.signal,
    hooks: r.consumers.redrive.hooks,
    deliver: async (route, list: RedriveDue[]) => {
      const res = await d.deliverer.deliver(route, list, noHeartbeat, true, { redrive: true });
      r.stats.redriven += list.length - res.failed.length - res.untried.length;
      return res;
    },
  });
}

/**
 * New routes first, before anything is consumed: their catch-up decides from the latest states
 * read at start, and the main consumer then skips what it sent (or found resolved) as replays.
 */
function catchUp(r: Running, d: Delivering, found: Findings): Promise<CatchUpResult[]> {
  const keyFilter = r.options.keyFilter;
  const noBeat = async () => undefined;
  return catchUpNewRoutes({
    routes: r.s.routes,
    scope: r.options.scope,
    inScope: (id) => !keyFilter || keyFilter(id),
    deliveries: d.dlog,
    findings: () => found.store.findings({ state: 'all' }),
    deliver: async (route, list) => {
      const res = await d.deliverer.deliver(route, list, noBeat, false, { catchUp: true });
      r.stats.caughtUp += list.length - res.failed.length;
      return res;
    },
    deadLetter: async (f, route, reason) => {
      const pos = found.sourceOf.get(f.id);
      r.stats.deadLettered++;
      r.log.error('undeliverable: sent to DLQ', { finding: f.id, state: f.state, routes: [route.name], reason, catchUp: true });
      // The state as read from risk.findings (its position, when known), for the re-drive to retry.
      await deadLetterUndeliverable(
        r.producer,
        { topic: TOPICS.findings, partition: pos?.partition ?? -1, offset: pos?.offset ?? '-1', key: f.id, value: JSON.stringify(f) },
        reason,
        [route.name],
      );
    },
    log: r.log,
  });
}

function deliveringOf(r: Running, dlog: DeliveryLog): Delivering {
  const unrecorded = new Map<string, DeliveryRecord>();
  const send = sender({ out: r.s.out, delivery: r.options.delivery, signal: r.abort.signal, metrics: r.metrics, log: r.log });
  const deliverer = new RouteDeliverer({
    send,
    records: dlog,
    unrecorded,
    stats: r.stats,
    log: r.log,
    signal: r.abort.signal,
    threshold: r.s.digest.threshold,
    singleDefault: r.s.singleDefault,
    webhookConcurrency: r.options.webhookConcurrency ?? DEFAULT_WEBHOOK_CONCURRENCY,
  });
  return { dlog, unrecorded, deliverer, exclusive: oneAtATime() };
}

/** Reads the delivery log and the findings, catches new routes up, then joins both groups; returns the catch-ups. */
async function startParts(r: Running): Promise<CatchUpResult[]> {
  const { options, s } = r;
  await r.producer.connect();
  const dlog = new DeliveryLog({
    kafka: r.kafka,
    producer: r.producer,
    log: r.log,
    groupId: r.groupId,
    ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}),
  });
  r.deliveries = dlog;
  const [, found] = await Promise.all([dlog.load(), loadFindings(r)]);
  if (options.feed) r.feedServer = await serveFeed(r, options.feed, found.store);
  const d = deliveringOf(r, dlog);
  const named = s.routes.length > 1 || !!options.routes;
  const windows = new WindowHandler({
    routes: s.routes,
    named,
    keyFilter: options.keyFilter,
    deliveries: dlog,
    unrecorded: d.unrecorded,
    deliverer: d.deliverer,
    stats: r.stats,
    log: r.log,
    metrics: r.metrics,
    producer: r.producer,
  });
  if (s.redrive) r.redriver = redriverOf(r, s.redrive, d, found.store);
  const newRoutes = await catchUp(r, d, found);
  // Both groups join at once.
  await Promise.all([
    runWindowedConsumer({
      kafka: r.kafka,
      groupId: r.groupId,
      topic: TOPICS.findings,
      log: r.log,
      windowMs: s.digest.windowMs,
      signal: r.abort.signal,
      hooks: r.consumers.findings.hooks,
      handle: (ms, ctx) => d.exclusive(() => windows.handle(ms, ctx)),
    }).then((c) => {
      r.consumerStop = c.stop;
    }),
    r.redriver?.start(),
  ]);
  return newRoutes;
}

/** Starts the notifier; resolves once it is consuming findings (and has logged 'ready'). */
export async function startNotifier(options: NotifierOptions = {}): Promise<Notifier> {
  const log = options.log ?? logger(SERVICE);
  const kafka = options.kafka ?? kafkaClient('cratewatch-notifier');
  const groupId = options.groupId ?? DEFAULT_GROUP;
  const s = settingsOf(options);
  announce(options, s, log);
  const limits = readyLimitsFromEnv();
  await withAdmin(kafka, (admin) => ensureTopics(admin));
  const metrics = new NotifierMetrics();
  const consumers = { findings: metrics.consumer(groupId), redrive: metrics.consumer(`${groupId}.redrive`) };
  const stats: NotifierStats = { delivered: 0, skipped: 0, deadLettered: 0, ignored: 0, unrouted: 0, digests: 0, redriven: 0, caughtUp: 0 };
  const r: Running = {
    options,
    log,
    kafka,
    groupId,
    s,
    limits,
    metrics,
    consumers,
    producer: countProduced(newProducer(kafka), metrics.shared),
    abort: new AbortController(),
    stats,
  };
  metrics.watchRedrive(() => r.redriver?.status());
  let newRoutes: CatchUpResult[];
  try {
    newRoutes = await startParts(r);
  } catch (err) {
    await stopAll(r).catch(() => undefined);
    throw err;
  }
  log.info('ready', {
    groupId,
    topic: TOPICS.findings,
    channel: s.channel,
    routes: s.routes.map((x) => x.name),
    digest: s.digest.threshold > 0 ? s.digest : 'off',
    redrive: s.redrive ? { ...s.redrive, group: r.redriver!.groupId } : 'off',
    knownDeliveries: r.deliveries!.size,
    newRoutes: newRoutes.map((x) => x.route),
    ...(r.feedServer ? { feed: r.feedServer.url } : {}),
  });
  return handleOf(r, newRoutes);
}

function handleOf(r: Running, newRoutes: CatchUpResult[]): Notifier {
  let stopping: Promise<void> | undefined;
  return {
    channel: r.s.channel,
    stats: r.stats,
    routes: r.s.routes.map((x) => x.name),
    newRoutes,
    digest: r.s.digest,
    metrics: r.metrics,
    ...(r.feedServer ? { feedUrl: r.feedServer.url } : {}),
    get redrive() {
      return r.redriver ? r.redriver.status() : 'off';
    },
    stop: () => {
      stopping ??= stopAll(r).then(() => r.log.info('stopped', { ...r.stats }));
      return stopping;
    },
  };
}
