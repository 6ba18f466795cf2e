/**
 * Ingest's health and metrics: it only produces, so it is ready when Kafka answers; beside the
 * shared metrics (messages produced per topic) it counts each source's polls and the time of its
 * last good one, which is what tells a source that quietly stopped getting anything.
 *
 * `INGEST_HTTP_LISTEN` (default 127.0.0.1:8423, or off) serves /healthz, /readyz and /metrics
 * (runtime ops.ts) while a long-running command runs (`run`, `endpoint`, or any --interval).
 */
import type { Kafka } from 'kafkajs';
import { Counter, Gauge } from 'prom-client';
import { Metrics, envListen, kafkaCheck, startOpsServer, type Env, type Listen, type Logger, type OpsServer } from '@cratewatch/runtime';

export const DEFAULT_INGEST_HTTP_LISTEN = '127.0.0.1:8423';

export const httpListenFromEnv = (env: Env = process.env): Listen | undefined =>
  envListen(env, 'INGEST_HTTP_LISTEN', DEFAULT_INGEST_HTTP_LISTEN);

export class IngestMetrics {
  readonly shared = new Metrics('ingest');
  readonly polls: Counter<'source' | 'outcome'>;
  readonly lastSuccess: Gauge<'source'>;

  constructor() {
    const registers = [this.shared.registry];
    this.polls = new Counter({
      name: 'cratewatch_ingest_polls_total',
      help: 'Polls of a source, by outcome (ok, failed: logged and retried at the next interval)',
      labelNames: ['source', 'outcome'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'cratewatch_ingest_last_poll_success_timestamp_seconds',
      help: 'Unix time of the last poll of a source that succeeded',
      labelNames: ['source'],
      registers,
    });
  }

  /** For each poll's end. */
  readonly poll = (source: string, ok: boolean): void => {
    this.polls.inc({ source, outcome: ok ? 'ok' : 'failed' });
    if (ok) this.lastSuccess.set({ source }, Date.now() / 1000);
  };

  /** The ops server, ready when Kafka answers; undefined when `listen` is off. */
  serve(listen: Listen | undefined, kafka: Kafka, log: Logger): Promise<OpsServer | undefined> {
    return listen ? startOpsServer(listen, { metrics: this.shared, log, checks: [kafkaCheck(kafka)] }) : Promise.resolve(undefined);
  }
}
