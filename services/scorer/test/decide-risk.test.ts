/** Risk as the scorer lays it out in the graph (pure: what it read in, what to write out). */
import { describe, expect, it } from 'vitest';
import type { RiskFinding } from '@cratewatch/shared';
import { riskRow, riskWrites, type RiskInput } from '../src/decide-risk.js';

const adv: RiskFinding = {
  kind: 'advisory',
  state: 'open',
  score: 5,
  severity: 'medium',
  crate: 'smallvec',
  version: '1.0.0',
  advisory: 'RUSTSEC-2099-0001',
  why: [{ signal: 'advisory.vulnerability', contribution: 5, detail: 'RUSTSEC-2099-0001: smallvec has a hole — no CVSS given' }],
};
const unv: RiskFinding = {
  kind: 'unvetted',
  state: 'open',
  score: 6.5,
  severity: 'medium',
  crate: 'smallvec',
  version: '1.0.0',
  vet: { status: 'unvetted', missing: ['safe-to-deploy'] },
  why: [{ signal: 'vet.unvetted', contribution: 3, detail: '…' }],
};
const none = { risk: null, severity: null, why: null };

describe('riskWrites', () => {
  it('writes a workspace with nothing stored: its risk and its version risk, why as JSON', () => {
    const [row, ...rest] = riskWrites([{ workspace: 'acme/app', findings: [adv, unv], stored: none, edges: [] }]);
    expect(rest).toEqual([]);
    expect(row).toMatchObject({
      id: 'acme/app',
      risk: 7.5,
      severity: 'high',
      versions: [{ crate: 'smallvec', version: '1.0.0', risk: 7.5, severity: 'high' }],
    });
    expect(JSON.parse(row!.versions[0]!.why).map((w: { signal: string }) => w.signal)).toEqual([
      'finding.unvetted',
      'finding.advisory',
      'risk.compound',
    ]);
    expect(JSON.parse(row!.why)[0]).toMatchObject({ signal: 'risk.top', contribution: 7.5 });
  });

  it('writes nothing when the stored risk reads the same (a replay)', () => {
    const row = riskRow({ workspace: 'acme/app', findings: [adv, unv] });
    const v = row.versions[0]!;
    const stored: RiskInput = {
      workspace: 'acme/app',
      findings: [unv, adv],
      stored: { risk: row.risk, severity: row.severity, why: row.why },
      edges: [{ crate: v.crate, version: v.version, risk: v.risk, severity: v.severity, why: v.why }],
    };
    expect(riskWrites([stored])).toEqual([]);
  });

  it('rewrites when a finding is gone: the workspace drops, and an edge left with a risk is to be cleared (not among the versions)', () => {
    const before = riskRow({ workspace: 'acme/app', findings: [adv, unv] });
    const v = before.versions[0]!;
    const stale = { crate: v.crate, version: v.version, risk: v.risk, severity: v.severity, why: v.why };
    const [row] = riskWrites([
      { workspace: 'acme/app', findings: [unv], stored: { risk: before.risk, severity: before.severity, why: before.why }, edges: [stale] },
    ]);
    expect(row).toMatchObject({ risk: 6.5, severity: 'medium' });
    const [empty] = riskWrites([
      { workspace: 'acme/app', findings: [], stored: { risk: 6.5, severity: 'medium', why: '[]' }, edges: [stale] },
    ]);
    expect(empty).toEqual({
      id: 'acme/app',
      risk: 0,
      severity: 'info',
      why: '[]',
      versions: [],
      cleared: [{ crate: 'smallvec', version: '1.0.0' }],
    });
    // No finding, nothing stored on any edge, 0 stored: nothing to write.
    expect(riskWrites([{ workspace: 'acme/app', findings: [], stored: { risk: 0, severity: 'info', why: '[]' }, edges: [] }])).toEqual([]);
  });

  it('writes only the edges that move: a new finding on one version leaves the others as stored', () => {
    const other: RiskFinding = { ...adv, crate: 'serde', version: '1.0.1', advisory: 'RUSTSEC-2099-0002' };
    const before = riskRow({ workspace: 'acme/app', findings: [adv, other] });
    const edges = before.versions.map((v) => ({ crate: v.crate, version: v.version, risk: v.risk, severity: v.severity, why: v.why }));
    const [row] = riskWrites([
      {
        workspace: 'acme/app',
        findings: [adv, unv, other],
        stored: { risk: before.risk, severity: before.severity, why: before.why },
        edges,
      },
    ]);
    expect(row!.versions.map((v) => v.crate)).toEqual(['smallvec']);
    expect(row!.cleared).toEqual([]);
  });
});
