#!/usr/bin/env node
/**
 * cratewatch-notifier: `node services/notifier/dist/main.js`
 *
 * Env: KAFKA_BROKERS (required), SLACK_WEBHOOK_URL (optional: without it alerts are printed to
 * stdout), NOTIFIER_GROUP (default 'cratewatch-notifier'), NOTIFIER_DELIVERY_ATTEMPTS (default 6),
 * NOTIFIER_BACKOFF_MS (default 500), NOTIFIER_MAX_RETRY_AFTER_MS (default 60000), NOTIFIER_KEY_PREFIX
 * (handle only findings whose key — `workspace|crate|version|kind` — starts with it), LOG_LEVEL,
 * NOTIFIER_ROUTES (JSON) or NOTIFIER_ROUTES_FILE (routes per team and severity; they replace
 * SLACK_WEBHOOK_URL as the single default route), NOTIFIER_FEED_LISTEN (default 127.0.0.1:8421, or off),
 * NOTIFIER_DIGEST_THRESHOLD (default 5; 0 or off: no digests), NOTIFIER_DIGEST_WINDOW_MS (default 2000),
 * NOTIFIER_REDRIVE_INTERVAL_MS (default 300000, or off: no re-drive of risk.findings.dlq),
 * NOTIFIER_REDRIVE_MAX_BACKOFF_MS (default 21600000: 6 h), NOTIFIER_WEBHOOK_CONCURRENCY (states sent
 * to one signed webhook route at once, default 8; Slack routes one at a time). The feed's listener also serves /healthz,
 * /readyz and /metrics (the last two with CRATEWATCH_OPS_TOKEN; CRATEWATCH_READY_MAX_RETRY_S,
 * CRATEWATCH_READY_MAX_LAG).
 */
import { logger, onShutdown } from '@cratewatch/runtime';
import { DEFAULT_DIGEST, DEFAULT_GROUP, SERVICE, parseDigestThreshold, startNotifier } from './notifier.js';
import { routesFromEnv } from './routes.js';
import { parseFeedListen } from './feed.js';
import { DEFAULT_REDRIVE, parseRedriveInterval } from './redrive.js';

function positiveInt(name: string, min = 1): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`${name} must be ${min === 0 ? 'a whole number' : 'a positive integer'}, got ${JSON.stringify(raw)}`);
  return n;
}

const log = logger(SERVICE);
try {
  const attempts = positiveInt('NOTIFIER_DELIVERY_ATTEMPTS');
  const baseDelayMs = positiveInt('NOTIFIER_BACKOFF_MS');
  const maxRetryAfterMs = positiveInt('NOTIFIER_MAX_RETRY_AFTER_MS');
  const routes = routesFromEnv(process.env);
  const slackUrl = process.env.SLACK_WEBHOOK_URL?.trim() || undefined;
  const webhookUrl = routes ? undefined : slackUrl;
  if (routes && slackUrl && !routes.some((r) => r.webhookUrl === slackUrl)) {
    log.warn("SLACK_WEBHOOK_URL is set but no route uses it: routes replace the default route (name it in a route's webhookEnv to use it)");
  }
  const feed = parseFeedListen(process.env.NOTIFIER_FEED_LISTEN);
  const keyPrefix = process.env.NOTIFIER_KEY_PREFIX || undefined;
  const threshold = parseDigestThreshold(process.env.NOTIFIER_DIGEST_THRESHOLD);
  const windowMs = positiveInt('NOTIFIER_DIGEST_WINDOW_MS', 0) ?? DEFAULT_DIGEST.windowMs;
  const redriveInterval = parseRedriveInterval(process.env.NOTIFIER_REDRIVE_INTERVAL_MS);
  const maxBackoffMs = positiveInt('NOTIFIER_REDRIVE_MAX_BACKOFF_MS') ?? DEFAULT_REDRIVE.maxBackoffMs;
  const webhookConcurrency = positiveInt('NOTIFIER_WEBHOOK_CONCURRENCY');
  const notifier = await startNotifier({
    log,
    ...(webhookUrl ? { webhookUrl } : {}),
    ...(routes ? { routes } : {}),
    ...(feed ? { feed } : {}),
    groupId: process.env.NOTIFIER_GROUP || DEFAULT_GROUP,
    ...(webhookConcurrency ? { webhookConcurrency } : {}),
    digest: { threshold, windowMs },
    redrive: redriveInterval === 'off' ? false : { intervalMs: redriveInterval, maxBackoffMs },
    ...(keyPrefix ? { keyFilter: (key: string | null) => key !== null && key.startsWith(keyPrefix), scope: keyPrefix } : {}),
    delivery: {
      ...(attempts ? { attempts } : {}),
      ...(baseDelayMs ? { baseDelayMs } : {}),
      ...(maxRetryAfterMs ? { maxRetryAfterMs } : {}),
    },
  });
  onShutdown(log, () => notifier.stop());
} catch (err) {
  log.error('notifier failed to start', { error: err });
  process.exit(1);
}
