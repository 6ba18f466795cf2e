/**
 * The notifier: consumes `risk.findings` and delivers each state change of a finding once.
 *
 * Per finding (key = finding id):
 *   1. tombstone → ignored;
 *   2. invalid value → `risk.findings.dlq` with the field paths (runConsumer does it), go on;
 *   3. the last delivered state of that id (from `notifier.deliveries`) is the same → skipped;
 *      a state observed before the last delivered one (a replay of old history) → skipped;
 *   4. else deliver (Slack with retries, or stdout), then write `{state, at}` to
 *      `notifier.deliveries`, then return so the offset is committed;
 *   5. not deliverable after the retries → `risk.findings.dlq` with the reason, go on.
 */
import type { Kafka, Producer } from 'kafkajs';
import { TOPICS, decodeEvent, type FindingEvent } from '@cratewatch/shared';
import { ensureTopics, kafkaClient, logger, newProducer, runConsumer, sendToDlq, withAdmin, type Logger } from '@cratewatch/runtime';
import { DeliveryAbortedError, DeliveryError, postJson, type DeliverOptions } from './deliver.js';
import { DeliveryLog, type DeliveryRecord } from './deliveries.js';
import { plainTextAlert, slackMessage } from './slack.js';

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
  /** How long to wait for the delivery log to be read to its end (default 120 s). */
  loadTimeoutMs?: number;
}

export interface NotifierStats {
  delivered: number;
  skipped: number;
  deadLettered: number;
  ignored: number;
}

export interface Notifier {
  /** Stops consuming (offsets of handled findings committed), then disconnects. Idempotent. */
  stop(): Promise<void>;
  readonly stats: Readonly<NotifierStats>;
  readonly channel: 'slack' | 'stdout';
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
  const channel = webhookUrl ? 'slack' : 'stdout';
  const out = options.out ?? ((text: string) => void process.stdout.write(text));
  const abort = new AbortController();
  const stats: NotifierStats = { delivered: 0, skipped: 0, deadLettered: 0, ignored: 0 };

  if (!webhookUrl) {
    log.warn('SLACK_WEBHOOK_URL is not set: alerts are printed to stdout');
    out('cratewatch notifier: no SLACK_WEBHOOK_URL set; alerts are printed here, one block each.\n\n');
  }

  await withAdmin(kafka, (admin) => ensureTopics(admin));

  const producer: Producer = newProducer(kafka);
  let deliveries: DeliveryLog | undefined;
  let consumerStop: (() => Promise<void>) | undefined;
  const cleanup = async () => {
    abort.abort();
    // The two consumers each wait for their fetch in flight (up to 5 s): stop them together. The
    // producer goes last, as the findings consumer may still write a delivery record or a DLQ entry.
    const results = await Promise.allSettled([consumerStop?.(), deliveries?.stop()]);
    results.push(...(await Promise.allSettled([producer.disconnect()])));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  };

  try {
    await producer.connect();
    const dlog = new DeliveryLog({ kafka, producer, log, groupId, ...(options.loadTimeoutMs ? { loadTimeoutMs: options.loadTimeoutMs } : {}) });
    deliveries = dlog;
    await dlog.load();

    /** Delivered, but the record could not be written yet: written on the retry, not delivered again. */
    const unrecorded = new Map<string, DeliveryRecord>();

    const send = async (f: FindingEvent): Promise<number> => {
      if (!webhookUrl) {
        out(plainTextAlert(f) + '\n');
        return 1;
      }
      const res = await postJson(webhookUrl, slackMessage(f), {
        ...options.delivery,
        signal: abort.signal,
        onRetry: ({ attempt, waitMs, reason }) =>
          log.warn('webhook delivery failed; retrying', { finding: f.id, state: f.state, attempt, waitMs, reason }),
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

        const pending = unrecorded.get(f.id);
        if (pending && pending.state === f.state) {
          await dlog.record(f.id, pending);
          unrecorded.delete(f.id);
          stats.skipped++;
          log.info('skipped: already delivered (delivery record written now)', where);
          return;
        }
        const last = dlog.last(f.id);
        if (last && last.state === f.state) {
          stats.skipped++;
          log.info('skipped: already delivered', { ...where, deliveredAt: last.at });
          return;
        }
        if (last && time(f.observedAt) < time(last.observedAt)) {
          stats.skipped++;
          log.info('skipped: older than the state already delivered', { ...where, delivered: last.state, deliveredObservedAt: last.observedAt, observedAt: f.observedAt });
          return;
        }

        let attempts: number;
        try {
          attempts = await send(f);
        } catch (err) {
          if (err instanceof DeliveryError) {
            stats.deadLettered++;
            const reason = `not delivered to Slack: ${err.message}`;
            log.error('undeliverable: sent to DLQ', { ...where, reason });
            await sendToDlq(producer, SERVICE, { topic, partition, offset: message.offset, key: message.key, value: message.value }, reason);
            return;
          }
          if (err instanceof DeliveryAbortedError) log.info('delivery interrupted by stop; the finding will be handled again', where);
          throw err;
        }

        const rec: DeliveryRecord = { v: 1, state: f.state, at: new Date().toISOString(), observedAt: f.observedAt };
        unrecorded.set(f.id, rec);
        await dlog.record(f.id, rec);
        unrecorded.delete(f.id);
        stats.delivered++;
        log.info('sent', { ...where, channel, severity: f.severity, workspace: f.workspace.id, attempts, advisory: f.advisory?.id });
      },
    });
    consumerStop = consumer.stop;
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }

  log.info('ready', { groupId, topic: TOPICS.findings, channel, knownDeliveries: deliveries.size });

  let stopping: Promise<void> | undefined;
  return {
    channel,
    stats,
    stop: () => {
      stopping ??= cleanup().then(() => log.info('stopped', { ...stats }));
      return stopping;
    },
  };
}
