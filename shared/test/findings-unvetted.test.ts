import { describe, expect, it } from 'vitest';
import {
  FindingEventSchema,
  advisoryFinding,
  advisorySeverity,
  findingMoved,
  maintainerRisk,
  auditsFileFromPoolEntries,
  failures,
  graphFromWorkspaceEvent,
  readStore,
  resolveVet,
  unvettedFinding,
  unvettedScore,
  workspaceImpact,
  FormatError,
  type Advisory,
  type FindingEvent,
  type PackageVerdict,
  type WorkspaceEvent,
} from '../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const pkg = (name: string, version: string, path = false) => ({
  id: `${name}@${version}`,
  name,
  version,
  ...(path ? {} : { source: CRATES }),
});

/** app (path) → foo (normal), bar (build); bar → baz (normal); app → tst (dev); foo → baz. */
const event: Pick<WorkspaceEvent, 'packages' | 'edges' | 'members'> = {
  packages: [pkg('app', '0.1.0', true), pkg('foo', '1.0.0'), pkg('bar', '2.0.0'), pkg('baz', '0.3.0'), pkg('tst', '1.1.0')],
  edges: [
    { from: 'app@0.1.0', to: 'foo@1.0.0', kind: 'normal' },
    { from: 'app@0.1.0', to: 'bar@2.0.0', kind: 'build' },
    { from: 'app@0.1.0', to: 'tst@1.1.0', kind: 'dev' },
    { from: 'bar@2.0.0', to: 'baz@0.3.0', kind: 'normal' },
    { from: 'foo@1.0.0', to: 'baz@0.3.0', kind: 'normal' },
    { from: 'foo@1.0.0', to: 'gone@9.9.9', kind: 'normal' },
  ],
  members: ['app@0.1.0'],
};

describe('the resolver graph of a workspace event', () => {
  it('keeps members, merges one edge per kind into one dependency with its kinds, ignores dangling edges', () => {
    const g = graphFromWorkspaceEvent({ ...event, edges: [...event.edges, { from: 'app@0.1.0', to: 'foo@1.0.0', kind: 'dev' }] });
    expect(g.kindsKnown).toBe(true);
    expect(g.nodes.get('app@0.1.0')!.workspaceMember).toBe(true);
    expect(g.nodes.get('foo@1.0.0')!.workspaceMember).toBe(false);
    expect(g.nodes.get('app@0.1.0')!.deps.find((d) => d.to === 'foo@1.0.0')!.kinds).toEqual(['normal', 'dev']);
    expect(g.nodes.get('foo@1.0.0')!.deps.map((d) => d.to)).toEqual(['baz@0.3.0']);
    expect(graphFromWorkspaceEvent({ ...event, edges: [{ from: 'app@0.1.0', to: 'foo@1.0.0', kind: 'unknown' }] }).kindsKnown).toBe(false);
  });

  it('a dev-only crate needs safe-to-run only, as with cargo metadata', () => {
    const r = resolveVet({ graph: graphFromWorkspaceEvent(event) });
    expect(r.packages.find((p) => p.name === 'tst')!.required).toEqual(['safe-to-run']);
    expect(r.packages.find((p) => p.name === 'bar')!.required).toEqual(['safe-to-deploy']);
  });
});

describe('impact of an unvetted version', () => {
  const impact = workspaceImpact(graphFromWorkspaceEvent(event));

  it('build time: a build-dependency and what it pulls in; direct: a non-dev dependency of a member; fan-in', () => {
    expect(impact.get('bar@2.0.0')).toEqual({ buildTime: true, direct: true, fanIn: 1 });
    expect(impact.get('baz@0.3.0')).toEqual({ buildTime: true, direct: false, fanIn: 2 });
    expect(impact.get('foo@1.0.0')).toEqual({ buildTime: false, direct: true, fanIn: 1 });
    expect(impact.get('tst@1.1.0')).toEqual({ buildTime: false, direct: false, fanIn: 1 });
  });

  it('the score adds each signal and says why; missing safe-to-run weighs less than safe-to-deploy; a violation is high', () => {
    const v = { status: 'unvetted' as const, missing: ['safe-to-deploy'], required: ['safe-to-deploy'] };
    const s = unvettedScore(v, { buildTime: true, direct: true, fanIn: 8 });
    expect(s.why.map((w) => [w.signal, w.contribution])).toEqual([
      ['vet.unvetted', 3],
      ['impact.build-time', 2],
      ['impact.direct', 1.5],
      ['impact.fan-in', 2],
    ]);
    expect(s.score).toBe(8.5);
    expect(s.severity).toBe('high');
    const run = unvettedScore(
      { status: 'unvetted', missing: ['safe-to-run'], required: ['safe-to-run'] },
      { buildTime: false, direct: false, fanIn: 1 },
    );
    expect(run).toMatchObject({ score: 2, severity: 'info' });
    const viol = unvettedScore(
      { status: 'violation', missing: [], required: ['safe-to-deploy'] },
      { buildTime: false, direct: false, fanIn: 1 },
    );
    expect(viol).toMatchObject({ score: 6, severity: 'high' });
    expect(
      unvettedScore({ status: 'violation', missing: [], required: ['safe-to-deploy'] }, { buildTime: true, direct: true, fanIn: 40 }).score,
    ).toBe(10);
  });

  it('the finding names what is missing, who asks and the suggested audit, and passes the topic schema', () => {
    const store = readStore(
      { config: '[cargo-vet]\nversion = "0.10"\n', audits: '[[audits.bar]]\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n' },
      'ws/supply-chain',
    );
    const r = resolveVet({ graph: graphFromWorkspaceEvent(event), store }, { checkStore: false });
    const bar = failures(r).find((p) => p.name === 'bar') as PackageVerdict;
    const f = unvettedFinding({ id: 'ws', org: 'acme', team: 'pay' }, bar, impact.get(bar.id)!, 'open', '2026-01-01T00:00:00.000Z');
    expect(FindingEventSchema.parse(f)).toEqual(f);
    expect(f).toMatchObject({
      id: 'ws|bar|2.0.0|unvetted',
      kind: 'unvetted',
      crate: 'bar',
      version: '2.0.0',
      score: 6.5,
      severity: 'medium',
    });
    expect(f.vet).toEqual({
      status: 'unvetted',
      needs: ['safe-to-deploy'],
      missing: ['safe-to-deploy'],
      requiredBy: ['app@0.1.0 (default-criteria)'],
      suggestion: { command: 'cargo vet certify bar 1.0.0 2.0.0 --criteria safe-to-deploy', kind: 'delta', from: '1.0.0', to: '2.0.0' },
    });
  });
});

describe('stores and pools read from events', () => {
  it('readStore names the file of a bad store; no config.toml is refused', () => {
    expect(() => readStore({ config: '[cargo-vet]\nversion = "0.10"\n[policy.x]\ncriteria = 3\n' }, 'ws/supply-chain')).toThrow(
      /ws\/supply-chain\/config\.toml/,
    );
    expect(() => readStore({ audits: '' }, 'ws/supply-chain')).toThrow(FormatError);
    expect(readStore({ config: '[cargo-vet]\nversion = "0.10"\n' }, 'd').imports).toBeUndefined();
  });

  it('a pool from its per-crate entries and criteria: same audits as the file, errors name the pool and entry', () => {
    const a = auditsFileFromPoolEntries(
      [
        {
          crate: 'foo',
          entries: {
            audits: [
              { who: 'A', criteria: 'strong', version: '1.0.0' },
              { criteria: 'safe-to-run', delta: '1.0.0 -> 1.1.0' },
            ],
          },
        },
        {
          crate: 'bar',
          entries: { 'wildcard-audits': [{ criteria: 'safe-to-deploy', 'user-id': 7, start: '2020-01-01', end: '2030-01-01' }] },
        },
      ],
      [{ name: 'strong', description: 'strong review', implies: ['safe-to-deploy'] }],
      'pool google',
    );
    expect(a.audits.get('foo')!.map((e) => [e.version, e.delta])).toEqual([
      ['1.0.0', undefined],
      [undefined, { from: '1.0.0', to: '1.1.0' }],
    ]);
    expect(a.criteria.get('strong')!.implies).toEqual(['safe-to-deploy']);
    expect(a.wildcardAudits.get('bar')![0]!.userId).toBe(7);
    expect(() => auditsFileFromPoolEntries([{ crate: 'foo', entries: { audits: [{ version: '1.0.0' }] } }], [], 'pool google')).toThrow(
      /pool google.*audits\.foo\[0\]/,
    );
  });
});

describe('findingMoved: whether an open finding is sent again', () => {
  const ws = { id: 'acme/app', org: 'acme', team: 'pay' };
  const at = '2026-03-01T00:00:00.000Z';
  const adv: Advisory = {
    id: 'RUSTSEC-2098-0001',
    package: 'smallvec',
    collection: 'crates',
    title: 'smallvec is broken',
    description: '',
    date: '2098-01-01',
    aliases: [],
    related: [],
    categories: [],
    keywords: [],
    references: [],
    affected: { arch: [], os: [], functions: {} },
    versions: { patched: ['>= 2.0.0'], unaffected: [] },
  };
  const critical = { ...adv, cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' };
  /** As the scorer stores a sent finding and reads it back. */
  const stored = (f: FindingEvent) => ({ state: f.state, severity: f.severity, score: f.score });

  it('no stored finding, or a resolved one: sent (opens, reopens)', () => {
    const f = advisoryFinding(ws, adv, '1.0.0', 'open', at);
    expect(findingMoved(f, undefined)).toBe(true);
    expect(findingMoved(f, { ...stored(f), state: 'resolved' })).toBe(true);
  });

  it('an advisory whose CVSS is raised (medium 5 → critical 9.8): the open finding moves; once stored, the same inputs do not', () => {
    const before = advisoryFinding(ws, adv, '1.0.0', 'open', at);
    const after = advisoryFinding(ws, critical, '1.0.0', 'open', at);
    expect([before.severity, before.score, after.severity, after.score]).toEqual(['medium', 5, 'critical', 9.8]);
    expect(findingMoved(after, stored(before))).toBe(true);
    expect(findingMoved(after, stored(after))).toBe(false);
    expect(findingMoved(advisoryFinding(ws, critical, '1.0.0', 'open', '2026-04-01T00:00:00.000Z'), stored(after))).toBe(false);
  });

  it('severity alone or score alone moving is enough', () => {
    expect(findingMoved({ severity: 'high', score: 7.2 }, { state: 'open', severity: 'high', score: 8.8 })).toBe(true);
    expect(findingMoved({ severity: 'high', score: 8 }, { state: 'open', severity: 'medium', score: 8 })).toBe(true);
    // A score never stored (an older node) is a move: sent once, then stored.
    expect(findingMoved({ severity: 'high', score: 8 }, { state: 'open', severity: 'high', score: null })).toBe(true);
  });

  it('a why-only change (a re-worded title, a VEX text, vet or maintainer details) does not move it', () => {
    const f = advisoryFinding(ws, critical, '1.0.0', 'open', at);
    const retitled = advisoryFinding(ws, { ...critical, title: 'smallvec is broken (details)' }, '1.0.0', 'open', at);
    expect(retitled.why).not.toEqual(f.why);
    expect(findingMoved(retitled, stored(f))).toBe(false);
  });

  it('scores are compared exactly, which holds because every finding score has one decimal at most', () => {
    const oneDecimal = (x: number) => Math.round(x * 10) / 10 === x;
    for (const cvss of [
      'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H',
      'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:C/C:L/I:N/A:L',
      'CVSS:3.0/AV:A/AC:L/PR:L/UI:N/S:C/C:H/I:L/A:N',
      'CVSS:3.1/AV:P/AC:H/PR:L/UI:R/S:U/C:L/I:L/A:L',
      'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N',
    ]) {
      expect(oneDecimal(advisorySeverity({ cvss }).score), cvss).toBe(true);
    }
    for (const impact of [
      { buildTime: true, direct: true, fanIn: 3 },
      { buildTime: false, direct: true, fanIn: 7 },
    ]) {
      expect(
        oneDecimal(unvettedScore({ status: 'unvetted', missing: ['safe-to-deploy'], required: ['safe-to-deploy'] }, impact).score),
      ).toBe(true);
    }
    expect(oneDecimal(maintainerRisk({ crate: 'serde-jsonx', releases: [] }).score)).toBe(true);
  });
});
