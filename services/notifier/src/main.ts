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
import { envDuration, envInt, envString, logger, onShutdown } from '@cratewatch/runtime';
import { DEFAULT_DIGEST, DEFAULT_GROUP, SERVICE, digestThresholdFromEnv, startNotifier } from './notifier.js';
import { routesFromEnv } from './routes.js';
import { parseFeedListen } from './feed.js';
import { DEFAULT_REDRIVE, parseRedriveInterval } from './redrive.js';

const env = process.env;
const log = logger(SERVICE);
try {
  const attempts = envInt(env, 'NOTIFIER_DELIVERY_ATTEMPTS', { min: 1 });
  const baseMs = envDuration(env, 'NOTIFIER_BACKOFF_MS', { unit: 'ms', min: 1 });
  const maxRetryAfterMs = envDuration(env, 'NOTIFIER_MAX_RETRY_AFTER_MS', { unit: 'ms', min: 1 });
  const routes = routesFromEnv(env);
  const slackUrl = envString(env, 'SLACK_WEBHOOK_URL');
  const webhookUrl = routes ? undefined : slackUrl;
  if (routes && slackUrl && !routes.some((r) => r.webhookUrl === slackUrl)) {
    log.warn("SLACK_WEBHOOK_URL is set but no route uses it: routes replace the default route (name it in a route's webhookEnv to use it)");
  }
  const feed = parseFeedListen(env.NOTIFIER_FEED_LISTEN);
  const keyPrefix = env.NOTIFIER_KEY_PREFIX || undefined;
  const threshold = digestThresholdFromEnv(env);
  const windowMs = envDuration(env, 'NOTIFIER_DIGEST_WINDOW_MS', { unit: 'ms', fallback: DEFAULT_DIGEST.windowMs });
  const redriveInterval = parseRedriveInterval(env.NOTIFIER_REDRIVE_INTERVAL_MS);
  const maxBackoffMs = envDuration(env, 'NOTIFIER_REDRIVE_MAX_BACKOFF_MS', { unit: 'ms', min: 1, fallback: DEFAULT_REDRIVE.maxBackoffMs });
  const webhookConcurrency = envInt(env, 'NOTIFIER_WEBHOOK_CONCURRENCY', { min: 1 });
  const notifier = await startNotifier({
    log,
    ...(webhookUrl ? { webhookUrl } : {}),
    ...(routes ? { routes } : {}),
    ...(feed ? { feed } : {}),
    groupId: envString(env, 'NOTIFIER_GROUP') ?? DEFAULT_GROUP,
    ...(webhookConcurrency ? { webhookConcurrency } : {}),
    digest: { threshold, windowMs },
    redrive: redriveInterval === 'off' ? false : { intervalMs: redriveInterval, maxBackoffMs },
    ...(keyPrefix ? { keyFilter: (key: string | null) => key !== null && key.startsWith(keyPrefix), scope: keyPrefix } : {}),
    delivery: {
      ...(attempts ? { attempts } : {}),
      ...(baseMs ? { baseMs } : {}),
      ...(maxRetryAfterMs ? { maxRetryAfterMs } : {}),
    },
  });
  onShutdown(log, () => notifier.stop());
} catch (err) {
  log.error('notifier failed to start', { error: err });
  process.exit(1);
}
