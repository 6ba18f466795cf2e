/**
 * What `/readyz` checks: a list of named async checks, each bounded by a timeout, run together.
 * A check throws (or times out) to say "not ready", with a reason; it may return details to show.
 *
 * - `kafkaCheck`: a metadata round trip through a short-lived admin client that does not retry
 *   (kafkajs' retries would turn "Kafka is down" into a 30 s hang), cached for a few seconds so a
 *   scrape every second does not open a connection every second.
 * - `neo4jCheck`: `RETURN 1` in an auto-commit query (no driver retries), cached likewise.
 * - `consumerCheck`: no partition stuck retrying for longer than `maxRetrySeconds`, lag at most
 *   `maxLag`, and the consumer not crashed (kafkajs restarts a crashed consumer; until it rejoined
 *   it consumes nothing). Read from memory: not cached.
 */
import type { Kafka } from 'kafkajs';
import type { Driver } from 'neo4j-driver';
import { ConsumerHealth } from './consumer-health.js';
import { describeError } from './failure.js';
import { envDuration, envInt, type Env } from './env-config.js';
import { redact } from './log.js';

export interface ReadyCheck {
  name: string;
  /** Throws when not ready; what it returns is shown beside `ok`. */
  run(): Promise<Record<string, unknown> | void>;
  /** Default 3000 ms. */
  timeoutMs?: number;
}

export interface CheckResult {
  ok: boolean;
  ms: number;
  error?: string;
  [detail: string]: unknown;
}

export interface Readiness {
  ready: boolean;
  /** `name: reason` of each failing check. */
  failing: string[];
  checks: Record<string, CheckResult>;
}

export const DEFAULT_CHECK_TIMEOUT_MS = 3000;
const CACHE_MS = 5000;

/** Runs every check at once; each one's error (masked of secrets) becomes its reason. */
export async function readiness(checks: ReadyCheck[]): Promise<Readiness> {
  const results = await Promise.all(checks.map(async (c) => [c.name, await runCheck(c)] as const));
  const failing = results.filter(([, r]) => !r.ok).map(([name, r]) => `${name}: ${r.error}`);
  return { ready: failing.length === 0, failing, checks: Object.fromEntries(results) };
}

async function runCheck(c: ReadyCheck): Promise<CheckResult> {
  const t0 = performance.now();
  const ms = () => Math.round(performance.now() - t0);
  try {
    const details = await withTimeout(c.run(), c.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS);
    return { ok: true, ms: ms(), ...details };
  } catch (err) {
    return { ok: false, ms: ms(), error: redact(err instanceof CheckFailed ? err.message : describeError(err)) };
  }
}

/** A check's own "not ready" (its message is the whole reason, without an error class). */
export class CheckFailed extends Error {
  override name = 'CheckFailed';
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The check's outcome is reused for `ttlMs` after it settles, and callers arriving while it runs
 * share it: readiness probes and scrapes never pile requests onto a server that is slow to answer.
 */
export function cached(check: ReadyCheck, ttlMs = CACHE_MS): ReadyCheck {
  let last: { at: number; outcome: Promise<Record<string, unknown> | void> } | undefined;
  const timeoutMs = check.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS;
  return {
    name: check.name,
    timeoutMs,
    run: () => {
      if (!last || (last.at > 0 && Date.now() - last.at > ttlMs)) {
        const entry: { at: number; outcome: Promise<Record<string, unknown> | void> } = {
          at: 0,
          outcome: withTimeout(check.run(), timeoutMs),
        };
        entry.outcome.then(
          () => (entry.at = Date.now()),
          () => (entry.at = Date.now()),
        );
        last = entry;
      }
      return last.outcome;
    },
  };
}

/** Kafka answers a metadata request (the brokers of the cluster), without retries. */
export function kafkaCheck(kafka: Kafka, ttlMs = CACHE_MS): ReadyCheck {
  return cached(
    {
      name: 'kafka',
      run: async () => {
        const admin = kafka.admin({ retry: { retries: 0 } });
        try {
          await admin.connect();
          const { brokers } = await admin.describeCluster();
          return { brokers: brokers.length };
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
    },
    ttlMs,
  );
}

/** Neo4j answers `RETURN 1`. */
export function neo4jCheck(driver: Driver, database?: string, ttlMs = CACHE_MS): ReadyCheck {
  return cached(
    {
      name: 'neo4j',
      run: async () => {
        const s = driver.session({ database, defaultAccessMode: 'READ' });
        try {
          await s.run('RETURN 1');
        } finally {
          await s.close().catch(() => undefined);
        }
      },
    },
    ttlMs,
  );
}

export interface ReadyLimits {
  /** A partition retrying the same message for longer than this is stuck (seconds). */
  maxRetrySeconds: number;
  /** More messages than this behind a partition's end: not ready. */
  maxLag: number;
}

/** `CRATEWATCH_READY_MAX_RETRY_S` (default 30) and `CRATEWATCH_READY_MAX_LAG` (default 10000). */
export function readyLimitsFromEnv(env: Env = process.env): ReadyLimits {
  return {
    maxRetrySeconds: envDuration(env, 'CRATEWATCH_READY_MAX_RETRY_S', { unit: 's', fallback: 30_000 }) / 1000,
    maxLag: envInt(env, 'CRATEWATCH_READY_MAX_LAG', { fallback: 10_000 }),
  };
}

/** The consumer's partitions: none stuck retrying, none lagging, the consumer not crashed. */
export function consumerCheck(name: string, health: ConsumerHealth, limits: ReadyLimits, now: () => number = Date.now): ReadyCheck {
  return {
    name,
    run: async () => {
      const parts = health.partitions();
      const problems: string[] = [];
      if (!health.joinedAt) problems.push('not in its consumer group yet');
      if (health.crashed) problems.push(`consumer crashed (restarting): ${health.crashed.error}`);
      for (const p of parts) {
        const where = `${p.topic}/${p.partition}`;
        const retryS = p.retrying ? (now() - p.retrying.since) / 1000 : 0;
        if (p.retrying && retryS > limits.maxRetrySeconds) {
          problems.push(
            `${where} stuck retrying offset ${p.retrying.offset} for ${Math.round(retryS)} s (${p.retrying.kind}, attempt ${p.retrying.attempts}): ${p.retrying.error}`,
          );
        }
        const lag = ConsumerHealth.lag(p);
        if (lag > limits.maxLag) problems.push(`${where} lag ${lag} > ${limits.maxLag}`);
      }
      if (problems.length) throw new CheckFailed(problems.join('; '));
      return {
        group: health.group,
        partitions: parts.length,
        maxLag: Math.max(0, ...parts.map((p) => ConsumerHealth.lag(p))),
        retrying: parts.filter((p) => p.retrying).length,
      };
    },
  };
}
