/**
 * The scorer's own metrics, beside the shared ones (runtime `Metrics`): Neo4j transaction
 * durations (timed in `Graph.run`) and the finding events it produced, by kind, severity and state,
 * counted from the producer's acknowledged sends to `risk.findings` (so a send that failed and is
 * retried counts once, when it went through).
 */
import type { ProducerRecord } from 'kafkajs';
import { Counter, Histogram } from 'prom-client';
import { TOPICS } from '@cratewatch/shared';
import { DURATION_BUCKETS, type Metrics } from '@cratewatch/runtime';

export class ScorerMetrics {
  readonly txSeconds: Histogram<'mode' | 'outcome'>;
  readonly findings: Counter<'kind' | 'severity' | 'state'>;

  constructor(readonly shared: Metrics) {
    const registers = [shared.registry];
    this.txSeconds = new Histogram({
      name: 'cratewatch_scorer_neo4j_transaction_seconds',
      help: 'Neo4j transactions of the scorer (Graph.run), by mode (read, write) and outcome (ok, error), driver retries included',
      labelNames: ['mode', 'outcome'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.findings = new Counter({
      name: 'cratewatch_scorer_findings_total',
      help: 'Finding events produced to risk.findings, by kind, severity and state (open: opened, reopened or rescored; resolved)',
      labelNames: ['kind', 'severity', 'state'],
      registers,
    });
  }

  /** For `Graph`'s constructor. */
  readonly onTx = (mode: 'read' | 'write', seconds: number, ok: boolean): void => {
    this.txSeconds.observe({ mode, outcome: ok ? 'ok' : 'error' }, seconds);
  };

  /** For runtime `countProduced`: counts the finding events among what was sent. */
  readonly onSent = (topic: string, messages: ProducerRecord['messages']): void => {
    if (topic !== TOPICS.findings) return;
    for (const m of messages) {
      const f = findingLabels(m.value);
      if (f) this.findings.inc(f);
    }
  };
}

function findingLabels(value: ProducerRecord['messages'][number]['value']): { kind: string; severity: string; state: string } | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    const f = JSON.parse(value.toString()) as { kind?: unknown; severity?: unknown; state?: unknown };
    return typeof f.kind === 'string' && typeof f.severity === 'string' && typeof f.state === 'string'
      ? { kind: f.kind, severity: f.severity, state: f.state }
      : undefined;
  } catch {
    return undefined;
  }
}
