#!/usr/bin/env node
/**
 * cratewatch-notifier: `node services/notifier/dist/main.js`
 *
 * Env: KAFKA_BROKERS (required), SLACK_WEBHOOK_URL (optional: without it alerts are printed to
 * stdout), NOTIFIER_GROUP (default 'cratewatch-notifier'), NOTIFIER_DELIVERY_ATTEMPTS (default 6),
 * NOTIFIER_BACKOFF_MS (default 500), NOTIFIER_MAX_RETRY_AFTER_MS (default 60000), NOTIFIER_KEY_PREFIX
 * (handle only findings whose key — `workspace|crate|version|kind` — starts with it), LOG_LEVEL.
 */
import { logger, onShutdown } from '@cratewatch/runtime';
import { DEFAULT_GROUP, SERVICE, startNotifier } from './notifier.js';

function positiveInt(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(raw)}`);
  return n;
}

const log = logger(SERVICE);
try {
  const attempts = positiveInt('NOTIFIER_DELIVERY_ATTEMPTS');
  const baseDelayMs = positiveInt('NOTIFIER_BACKOFF_MS');
  const maxRetryAfterMs = positiveInt('NOTIFIER_MAX_RETRY_AFTER_MS');
  const webhookUrl = process.env.SLACK_WEBHOOK_URL?.trim() || undefined;
  const keyPrefix = process.env.NOTIFIER_KEY_PREFIX || undefined;
  const notifier = await startNotifier({
    log,
    ...(webhookUrl ? { webhookUrl } : {}),
    groupId: process.env.NOTIFIER_GROUP || DEFAULT_GROUP,
    ...(keyPrefix ? { keyFilter: (key: string | null) => key !== null && key.startsWith(keyPrefix) } : {}),
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
