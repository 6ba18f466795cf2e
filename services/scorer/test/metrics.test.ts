/** The scorer's own metrics: finding events counted from what was sent to risk.findings, and Graph.run's timing. */
import { describe, expect, it } from 'vitest';
import { TOPICS } from '@cratewatch/shared';
import { Metrics } from '@cratewatch/runtime';
import { ScorerMetrics } from '../src/metrics.js';

describe('ScorerMetrics', () => {
  it('counts finding events by kind, severity and state, ignoring other topics and unreadable values', async () => {
    const m = new ScorerMetrics(new Metrics('scorer'));
    const f = (kind: string, severity: string, state: string) => ({
      key: 'k',
      value: JSON.stringify({ kind, severity, state, id: 'secret-ws|crate|1.0.0|advisory' }),
    });
    m.onSent(TOPICS.findings, [
      f('advisory', 'high', 'open'),
      f('advisory', 'high', 'open'),
      f('unvetted', 'low', 'resolved'),
      { key: 'x', value: 'not json' },
    ]);
    m.onSent(TOPICS.workspaces, [f('advisory', 'critical', 'open')]);
    m.onTx('write', 0.02, true);
    m.onTx('read', 0.5, false);
    const text = await m.shared.text();
    expect(text).toContain('cratewatch_scorer_findings_total{kind="advisory",severity="high",state="open",service="scorer"} 2');
    expect(text).toContain('cratewatch_scorer_findings_total{kind="unvetted",severity="low",state="resolved",service="scorer"} 1');
    expect(text).not.toContain('severity="critical"');
    expect(text).not.toContain('secret-ws');
    expect(text).toContain('cratewatch_scorer_neo4j_transaction_seconds_count{service="scorer",mode="write",outcome="ok"} 1');
    expect(text).toContain('cratewatch_scorer_neo4j_transaction_seconds_count{service="scorer",mode="read",outcome="error"} 1');
  });
});
