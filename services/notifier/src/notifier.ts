/**
 * The notifier: consumes `risk.findings` and delivers each state change of a finding once to every
 * route that matches it (the default route: SLACK_WEBHOOK_URL, or stdout).
 *
 * Per finding (key = finding id):
 *   1. tombstone → ignored;
 *   2. invalid value → `risk.findings.dlq` with the field paths (runConsumer does it), go on;
 *   3. for each matching route, in order: the last state delivered to (route, finding) (from
 *      `notifier.deliveries`) is the same → skipped; a state observed before the last delivered one
 *      (a replay of old history) → skipped;
 *   4. else deliver (webhook with retries, or stdout), then write `{state, at}` under the key of
 *      (route, finding), and go on to the next route;
 *   5. a route it could not be delivered to after the retries: the other routes are still served;
 *      then the finding goes to `risk.findings.dlq` once, with the reason of each failed route.
 *   Then the handler returns and the offset is committed.
 *
 * It also keeps the latest state of every finding and serves it as the org-wide risk feed (feed.ts).
 */
import type { Kafka, Producer } from 'kafkajs';
import { TOPICS, decodeEvent, type FindingEvent } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, logger, newProducer, runConsumer, sendToDlq, withAdmin, type Logger } from '@cratewatch/runtime';
import { DeliveryAbortedError, DeliveryError, postJson, type DeliverOptions } from './deliver.js';
import { DeliveryLog, type DeliveryRecord } from './deliveries.js';
import { plainTextAlert, slackMessage } from './slack.js';
import { DEFAULT_ROUTE, deliveryKey, routeMatches, type Route } from './routes.js';
import { FindingStore, startFeedServer, type FeedListen, type FeedServer } from './feed.js';
import { readCompacted } from './compacted.js';

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
  /** How long to wait for the delivery log (and the feed's findings) to be read to its end (default 120 s). */
  loadTimeoutMs?: number;
  /**
   * Named routes (their webhook URLs resolved, see routes.ts). When given, they replace the default
   * route: `webhookUrl` must not be given too.
   */
  routes?: Route[];
  /** Where to serve the org-wide risk feed (port 0: any free port); default: no feed. */
  feed?: FeedListen;
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
}

export interface Notifier {
  /** Stops consuming (offsets of handled findings committed), then disconnects. Idempotent. */
  stop(): Promise<void>;
  readonly stats: Readonly<NotifierStats>;
  /** 'slack' when every route posts to a webhook (the default route without a webhook prints to stdout). */
  readonly channel: 'slack' | 'stdout';
  /** The routes' names, in order. */
  readonly routes: string[];
  /** The base URL of the risk feed, when it is served. */
  readonly feedUrl?: string;
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

const time = (iso: string | undefined): number => (iso === undefined ? NaN : Date.parse(iso));

/** Starts the notifier; resolves once it is consuming findings (and has logged 'ready'). */
export async function startNotifier(options: NotifierOptions = {}): Promise<Notifier> {
  const log = options.log ?? logger(SERVICE);
  const kafka = options.kafka ?? kafkaClient('cratewatch-notifier');
  const groupId = options.groupId ?? DEFAULT_GROUP;
  const webhookUrl = options.webhookUrl || undefined;
  if (webhookUrl) checkWebhookUrl(webhookUrl);
  if (options.routes && webhookUrl) throw new Error('give either routes or a single webhookUrl, not both');
  if (options.routes && options.routes.length === 0) throw new Error('routes must not be empty');
  const routes: Route[] = options.routes ?? [{ name: DEFAULT_ROUTE, ...(webhookUrl ? { webhookUrl } : {}) }];
  const channel = routes.every((r) => r.webhookUrl) ? 'slack' : 'stdout';
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  const abort = new AbortController();
  const stats: NotifierStats = { delivered: 0, skipped: 0, deadLettered: 0, ignored: 0, unrouted: 0 };

  if (!options.routes && !webhookUrl) {
    log.warn('SLACK_WEBHOOK_URL is not set: alerts are printed to stdout');
    out('cratewatch notifier: no SLACK_WEBHOOK_URL set; alerts are printed here, one block each.\n\n');
  }
  if (options.routes) {
    // Names and filters only: a route's URL is a secret.
    log.info('routes', { routes: routes.map((r) => ({ name: r.name, teams: r.teams, minSeverity: r.minSeverity, states: r.states })) });
  }

  await withAdmin(kafka, (admin) => ensureTopics(admin));

  const producer: Producer = newProducer(kafka);
  let deliveries: DeliveryLog | undefined;
  let consumerStop: (() => Promise<void>) | undefined;
  let feedReader: { disconnect(): Promise<void> } | undefined;
  let feedServer: FeedServer | undefined;
  const cleanup = async () => {
    abort.abort();
    await feedServer?.close();
    // The consumers each wait for their fetch in flight: stop them together. The producer goes
    // last, as the findings consumer may still write a delivery record or a DLQ entry.
    const results = await Promise.allSettled([consumerStop?.(), deliveries?.stop(), feedReader?.disconnect()]);
    results.push(...(await Promise.allSettled([producer.disconnect()])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    await producer.connect();
    const dlog = new DeliveryLog({ kafka, producer, log, groupId, ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}) });
    deliveries = dlog;
    const store = options.feed ? new FindingStore() : undefined;
    const keyFilter = options.keyFilter;
    const loadFeed = async () => {
      if (!store) return;
      const { consumer } = await readCompacted({
        kafka,
        topic: TOPICS.findings,
        log,
        groupPrefix: `${groupId}.feed-reader`,
        ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}),
        timeoutConsequence: 'the feed starts incomplete and fills in as it reads',
        onMessage: (m) => {
          const key = m.key === null ? null : m.key.toString();
          if (keyFilter && !keyFilter(key)) return;
          store.apply(key, m.value);
        },
      });
      feedReader = consumer;
      log.info('findings loaded for the feed', { topic: TOPICS.findings, findings: store.size });
    };
    await Promise.all([dlog.load(), loadFeed()]);
    if (store && options.feed) feedServer = await startFeedServer(store, options.feed, log);

    /** Delivered, but the record could not be written yet: written on the retry, not delivered again. */
    const unrecorded = new Map<string, DeliveryRecord>();

    const send = async (route: Route, f: FindingEvent): Promise<number> => {
      if (!route.webhookUrl) {
        out(plainTextAlert(f) + '\n');
        return 1;
      }
      const res = await postJson(route.webhookUrl, slackMessage(f), {
        ...options.delivery,
        signal: abort.signal,
        onRetry: ({ attempt, waitMs, reason }) =>
          log.warn('webhook delivery failed; retrying', { finding: f.id, state: f.state, route: route.name, attempt, waitMs, reason }),
      });
      return res.attempts;
    };

    const consumer = await runConsumer({
      kafka,
      producer,
      groupId,
      topics: [TOPICS.findings],
      service: SERVICE,
      log,
      fromBeginning: true,
      handle: async ({ topic, partition, message, key }) => {
        if (options.keyFilter && !options.keyFilter(key)) return;
        if (message.value === null) {
          stats.ignored++;
          log.debug('tombstone ignored', { key, partition, offset: message.offset });
          return;
        }
        const f = decodeEvent(TOPICS.findings, message.value);
        if (f === null) return;
        const where = { finding: f.id, state: f.state, partition, offset: message.offset };
        const matching = routes.filter((r) => routeMatches(r, f));
        if (matching.length === 0) {
          stats.unrouted++;
          log.info('skipped: no route matches', { ...where, severity: f.severity, team: f.workspace.team });
          return;
        }

        const failures: { route: string; error: DeliveryError }[] = [];
        for (const route of matching) {
          const dkey = deliveryKey(route.name, f.id);
          const at = routes.length > 1 || options.routes ? { ...where, route: route.name } : where;
          const pending = unrecorded.get(dkey);
          if (pending && pending.state === f.state) {
            await dlog.record(dkey, pending);
            unrecorded.delete(dkey);
            stats.skipped++;
            log.info('skipped: already delivered (delivery record written now)', at);
            continue;
          }
          const last = dlog.last(dkey);
          if (last && last.state === f.state) {
            stats.skipped++;
            log.info('skipped: already delivered', { ...at, deliveredAt: last.at });
            continue;
          }
          if (last && time(f.observedAt) < time(last.observedAt)) {
            stats.skipped++;
            log.info('skipped: older than the state already delivered', { ...at, delivered: last.state, deliveredObservedAt: last.observedAt, observedAt: f.observedAt });
            continue;
          }

          let attempts: number;
          try {
            attempts = await send(route, f);
          } catch (err) {
            if (err instanceof DeliveryError) {
              failures.push({ route: route.name, error: err });
              log.error('not delivered to route', { ...at, reason: err.message });
              continue;
            }
            if (err instanceof DeliveryAbortedError) log.info('delivery interrupted by stop; the finding will be handled again', at);
            throw err;
          }

          const rec: DeliveryRecord = { v: 1, state: f.state, at: new Date().toISOString(), observedAt: f.observedAt };
          unrecorded.set(dkey, rec);
          await dlog.record(dkey, rec);
          unrecorded.delete(dkey);
          stats.delivered++;
          log.info('sent', { ...at, channel: route.webhookUrl ? 'slack' : 'stdout', severity: f.severity, workspace: f.workspace.id, attempts, advisory: f.advisory?.id });
        }

        if (failures.length > 0) {
          stats.deadLettered++;
          // The default route keeps its historical wording; named routes are named.
          const reason = failures
            .map((x) => (x.route === DEFAULT_ROUTE && !options.routes ? `not delivered to Slack: ${x.error.message}` : `not delivered to route ${x.route}: ${x.error.message}`))
            .join('; ');
          log.error('undeliverable: sent to DLQ', { ...where, routes: failures.map((x) => x.route), reason });
          await sendToDlq(producer, SERVICE, { topic, partition, offset: message.offset, key: message.key, value: message.value }, reason);
        }
      },
    });
    consumerStop = consumer.stop;
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }

  log.info('ready', {
    groupId,
    topic: TOPICS.findings,
    channel,
    routes: routes.map((r) => r.name),
    knownDeliveries: deliveries.size,
    ...(feedServer ? { feed: feedServer.url } : {}),
  });

  let stopping: Promise<void> | undefined;
  return {
    channel,
    stats,
    routes: routes.map((r) => r.name),
    ...(feedServer ? { feedUrl: feedServer.url } : {}),
    stop: () => {
      stopping ??= cleanup().then(() => log.info('stopped', { ...stats }));
      return stopping;
    },
  };
}
