import { describe, expect, it } from 'vitest';
import { versionRisk, versionRisks, workspaceRisk, findingDetail, type RiskFinding } from '../src/index.js';

const adv = (crate: string, version: string, id: string, score: number, severity: string, state = 'open'): RiskFinding => ({
  kind: 'advisory',
  state,
  score,
  severity,
  crate,
  version,
  advisory: id,
  why: [{ signal: 'advisory.vulnerability', contribution: score, detail: `${id}: ${crate} has a hole — no CVSS given` }],
});
const unv = (crate: string, version: string, score: number, severity: string, o: Partial<RiskFinding> = {}): RiskFinding => ({
  kind: 'unvetted',
  state: 'open',
  score,
  severity,
  crate,
  version,
  vet: { status: 'unvetted', missing: ['safe-to-deploy'], needs: ['safe-to-deploy'] },
  why: [
    { signal: 'vet.unvetted', contribution: 3, detail: 'no trusted audit or exemption gives it safe-to-deploy' },
    { signal: 'impact.build-time', contribution: 2, detail: 'runs at build time' },
    { signal: 'impact.direct', contribution: 1.5, detail: 'a direct dependency' },
  ],
  ...o,
});
const mnt = (crate: string, version: string, score: number, severity: string): RiskFinding => ({
  kind: 'maintainer',
  state: 'open',
  score,
  severity,
  crate,
  version,
  why: [
    { signal: 'maintainer.single-owner', contribution: 2, detail: 'one owner' },
    { signal: 'maintainer.owner-change', contribution: 3, detail: 'owners replaced' },
    { signal: 'repository.unsigned-commits', contribution: 1, detail: 'unsigned' },
  ],
});

describe('versionRisk', () => {
  it('one finding: its score and severity band, one why entry naming it', () => {
    const r = versionRisk([adv('smallvec', '1.0.0', 'RUSTSEC-2099-0001', 5, 'medium')]);
    expect(r).toEqual({
      crate: 'smallvec',
      version: '1.0.0',
      score: 5,
      severity: 'medium',
      why: [{ signal: 'finding.advisory', contribution: 5, detail: 'RUSTSEC-2099-0001: smallvec has a hole — no CVSS given' }],
    });
  });

  it('compound: an advisory and an unvetted finding on one version → the highest + 1, with a risk.compound entry', () => {
    const r = versionRisk([unv('smallvec', '1.0.0', 6.5, 'medium'), adv('smallvec', '1.0.0', 'RUSTSEC-2099-0001', 5, 'medium')]);
    expect(r.score).toBe(7.5);
    expect(r.severity).toBe('high');
    expect(r.why).toEqual([
      { signal: 'finding.unvetted', contribution: 6.5, detail: 'no audit for safe-to-deploy (build-time, direct)' },
      { signal: 'finding.advisory', contribution: 5, detail: 'RUSTSEC-2099-0001: smallvec has a hole — no CVSS given' },
      { signal: 'risk.compound', contribution: 1, detail: '2 kinds of finding on one version' },
    ]);
  });

  it('two findings of the same kind are not compound: the highest counts, nothing added', () => {
    const r = versionRisk([adv('a', '1.0.0', 'RUSTSEC-2099-0001', 5, 'medium'), adv('a', '1.0.0', 'RUSTSEC-2099-0002', 7.5, 'high')]);
    expect(r.score).toBe(7.5);
    expect(r.why.map((w) => w.signal)).toEqual(['finding.advisory', 'finding.advisory']);
  });

  it('is capped at 10 (9.8 + 1 compound), and three kinds still add 1', () => {
    const r = versionRisk([
      adv('a', '1.0.0', 'RUSTSEC-2099-0001', 9.8, 'critical'),
      unv('a', '1.0.0', 6.5, 'medium'),
      mnt('a', '1.0.0', 6, 'medium'),
    ]);
    expect(r.score).toBe(10);
    expect(r.severity).toBe('critical');
    expect(r.why.at(-1)).toEqual({ signal: 'risk.compound', contribution: 1, detail: '3 kinds of finding on one version' });
    expect(r.why.find((w) => w.signal === 'finding.maintainer')!.detail).toBe(
      'maintainer risk: maintainer.single-owner, maintainer.owner-change, repository.unsigned-commits',
    );
  });

  it('rounds to one decimal', () => {
    expect(versionRisk([adv('a', '1.0.0', 'R', 6.25, 'medium'), unv('a', '1.0.0', 0.01, 'info')]).score).toBe(7.3);
  });

  it('ignores resolved findings: no open one gives 0, info, no why; a resolved other kind does not compound', () => {
    expect(versionRisk([adv('a', '1.0.0', 'R', 8, 'high', 'resolved')])).toMatchObject({ score: 0, severity: 'info', why: [] });
    const r = versionRisk([adv('a', '1.0.0', 'R', 5, 'medium'), { ...unv('a', '1.0.0', 6.5, 'medium'), state: 'resolved' }]);
    expect(r.score).toBe(5);
    expect(r.why.map((w) => w.signal)).toEqual(['finding.advisory']);
  });

  it('severity is never milder than a finding it sums up: a violation (high at 6) keeps its version high', () => {
    const violation = unv('a', '1.0.0', 6, 'high', {
      vet: { status: 'violation', missing: [], needs: ['safe-to-deploy'] },
      why: [{ signal: 'vet.violation', contribution: 6, detail: 'violation' }],
    });
    const r = versionRisk([violation]);
    expect([r.score, r.severity]).toEqual([6, 'high']);
    expect(r.why[0]!.detail).toBe('a trusted audit records a violation');
  });

  it('why is in the same order whatever order the findings come in', () => {
    const fs = [
      mnt('a', '1.0.0', 6, 'medium'),
      adv('a', '1.0.0', 'RUSTSEC-2099-0002', 6, 'medium'),
      adv('a', '1.0.0', 'RUSTSEC-2099-0001', 6, 'medium'),
      unv('a', '1.0.0', 6.5, 'medium'),
    ];
    const a = versionRisk(fs);
    expect(versionRisk([...fs].reverse())).toEqual(a);
    expect(versionRisk([fs[2]!, fs[0]!, fs[3]!, fs[1]!])).toEqual(a);
    expect(a.why.map((w) => [w.signal, w.contribution])).toEqual([
      ['finding.unvetted', 6.5],
      ['finding.advisory', 6],
      ['finding.advisory', 6],
      ['finding.maintainer', 6],
      ['risk.compound', 1],
    ]);
    expect(a.why[1]!.detail).toMatch(/^RUSTSEC-2099-0001/);
  });
});

describe('workspaceRisk', () => {
  it('no open finding: 0, info, why []', () => {
    expect(workspaceRisk([])).toEqual({ score: 0, severity: 'info', why: [], versions: [] });
    expect(workspaceRisk([adv('a', '1.0.0', 'R', 9, 'critical', 'resolved')])).toEqual({
      score: 0,
      severity: 'info',
      why: [],
      versions: [],
    });
  });

  it('the top version, + 0.5 per further high/critical version; medium ones add nothing; counts by kind', () => {
    const r = workspaceRisk([
      adv('a', '1.0.0', 'RUSTSEC-2099-0001', 5, 'medium'),
      unv('a', '1.0.0', 6.5, 'medium'), // a@1.0.0: 7.5 high (compound)
      adv('b', '2.0.0', 'RUSTSEC-2099-0002', 7.1, 'high'), // high: +0.5
      unv('c', '0.1.0', 6.5, 'medium'), // medium: nothing
      adv('z', '1.0.0', 'RUSTSEC-2099-0003', 2, 'low', 'resolved'),
    ]);
    expect(r.score).toBe(8);
    expect(r.severity).toBe('high');
    expect(r.why).toEqual([
      {
        signal: 'risk.top',
        contribution: 7.5,
        detail: 'a 1.0.0: no audit for safe-to-deploy (build-time, direct) (+ finding.advisory, risk.compound)',
      },
      { signal: 'risk.breadth', contribution: 0.5, detail: '1 more high/critical version' },
      { signal: 'open.advisory', contribution: 0, detail: '2 open advisory findings' },
      { signal: 'open.unvetted', contribution: 0, detail: '2 open unvetted findings' },
    ]);
    expect(r.versions.map((v) => [v.crate, v.version, v.score, v.severity])).toEqual([
      ['a', '1.0.0', 7.5, 'high'],
      ['b', '2.0.0', 7.1, 'high'],
      ['c', '0.1.0', 6.5, 'medium'],
    ]);
  });

  it('breadth is at most +2 (six more high versions), and the total at most 10', () => {
    const highs = ['b', 'c', 'd', 'e', 'f', 'g'].map((c) => adv(c, '1.0.0', `RUSTSEC-2099-1${c}`, 7, 'high'));
    const r = workspaceRisk([adv('a', '1.0.0', 'RUSTSEC-2099-0001', 7.5, 'high'), ...highs]);
    expect(r.score).toBe(9.5);
    expect(r.severity).toBe('critical');
    expect(r.why[1]).toEqual({ signal: 'risk.breadth', contribution: 2, detail: '6 more high/critical versions (at most +2)' });
    const capped = workspaceRisk([adv('a', '1.0.0', 'RUSTSEC-2099-0001', 9.8, 'critical'), ...highs]);
    expect(capped.score).toBe(10);
  });

  it('the same findings in any order give the same risk (ties between versions by crate, then version)', () => {
    const fs = [
      adv('b', '1.0.0', 'R2', 7, 'high'),
      adv('a', '2.0.0', 'R1', 7, 'high'),
      adv('a', '1.0.0', 'R3', 7, 'high'),
      mnt('c', '1.0.0', 6, 'medium'),
    ];
    const r = workspaceRisk(fs);
    expect(workspaceRisk([...fs].reverse())).toEqual(r);
    expect(r.why[0]!.detail).toBe('a 1.0.0: R3: a has a hole — no CVSS given');
    expect(versionRisks(fs).map((v) => `${v.crate}@${v.version}`)).toEqual(['a@1.0.0', 'a@2.0.0', 'b@1.0.0', 'c@1.0.0']);
  });

  it('findingDetail names the advisory id even without a why', () => {
    expect(
      findingDetail({ kind: 'advisory', state: 'open', score: 5, crate: 'a', version: '1', advisory: { id: 'RUSTSEC-2099-0009' } }),
    ).toBe('RUSTSEC-2099-0009');
  });
});
