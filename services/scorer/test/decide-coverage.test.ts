/** The coverage rules the scorer applies to a workspace event (pure: no Kafka, no Neo4j). */
import { describe, expect, it } from 'vitest';
import type { FindingEvent, WorkspaceEvent } from '@cratewatch/shared';
import { poolsFrom, prepareWorkspace, unvettedChanges, workspaceCoverage, type TrustedPoolData } from '../src/decide-coverage.js';
import type { StoredFinding } from '../src/graph/index.js';

/** The coverage of an event, prepared as the scorer prepares what it reads from the graph. */
const coverageOf = (e: WorkspaceEvent, ...rest: Parameters<typeof workspaceCoverage> extends [unknown, ...infer R] ? R : never) =>
  workspaceCoverage(prepareWorkspace(e), ...rest);

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const pkg = (name: string, version: string, path = false) => ({
  id: `${name}@${version}`,
  name,
  version,
  ...(path ? {} : { source: CRATES }),
});
const at = '2026-01-01T00:00:00.000Z';

/** app (path) → foo (normal), bar (build); foo → baz. */
function ev(store?: WorkspaceEvent['store']): WorkspaceEvent {
  return {
    v: 1,
    id: 'acme/app',
    org: 'acme',
    team: 'pay',
    packages: [pkg('app', '0.1.0', true), pkg('foo', '1.0.0'), pkg('bar', '2.0.0'), pkg('baz', '0.3.0')],
    edges: [
      { from: 'app@0.1.0', to: 'foo@1.0.0', kind: 'normal' },
      { from: 'app@0.1.0', to: 'bar@2.0.0', kind: 'build' },
      { from: 'foo@1.0.0', to: 'baz@0.3.0', kind: 'normal' },
    ],
    members: ['app@0.1.0'],
    ...(store ? { store } : {}),
    origin: { path: 'app/Cargo.lock', checksum: 'x' },
    observedAt: at,
  };
}
const STORE = {
  config: '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n',
  audits: '\n# cargo-vet audits file\n\n[[audits.foo]]\nwho = "A <a@example.com>"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n',
};
const none: TrustedPoolData = { entries: [], criteria: [] };
const opts = { trustedPools: [] as string[], minScore: 5 };

describe('workspace coverage in the scorer', () => {
  it('writes a verdict per locked version (first-party path crates keyed by workspace) and a summary', () => {
    const c = coverageOf(ev(STORE), none, opts, at);
    expect(Object.fromEntries(c.rows.map((r) => [r.id, r.vetted]))).toEqual({
      'acme/app:app@0.1.0': 'first-party',
      'foo@1.0.0': 'vetted',
      'bar@2.0.0': 'unvetted',
      'baz@0.3.0': 'unvetted',
    });
    expect(c.rows.find((r) => r.id === 'foo@1.0.0')!.via).toEqual(['local audits.foo[0]']);
    expect(c.summary).toMatchObject({
      vetStore: true,
      vetThirdParty: 3,
      vetVetted: 1,
      vetUnvetted: 2,
      vetConclusion: 'fail (vet)',
      vetKindsKnown: true,
    });
  });

  it('raises a finding only from the minimum score up: bar (build time, direct: 6.5), not baz (3: one dependent, not direct, not at build time)', () => {
    const c = coverageOf(ev(STORE), none, opts, at);
    expect(c.findings.map((f) => [f.crate, f.score, f.severity])).toEqual([['bar', 6.5, 'medium']]);
    const all = coverageOf(ev(STORE), none, { ...opts, minScore: 0 }, at);
    expect(all.findings.map((f) => f.crate).sort()).toEqual(['bar', 'baz']);
  });

  it('with neither a store nor a trusted pool there is nothing to trust: coverage written, no finding', () => {
    const c = coverageOf(ev(), none, opts, at);
    expect(c.summary).toMatchObject({ vetStore: false, vetUnvetted: 3 });
    expect(c.findings).toEqual([]);
  });

  it('a trusted pool vets what the store does not; an untrusted one is not read; an unreadable one is left out and named', () => {
    const data: TrustedPoolData = {
      entries: [
        {
          pool: 'google',
          crate: 'bar',
          table: 'audits',
          entry: JSON.stringify({ who: 'G', criteria: 'safe-to-deploy', version: '2.0.0' }),
        },
        { pool: 'broken', crate: 'baz', table: 'audits', entry: JSON.stringify({ who: 'B', version: '0.3.0' }) },
      ],
      criteria: [],
    };
    const c = coverageOf(ev(STORE), data, { trustedPools: ['google', 'broken'], minScore: 0 }, at);
    expect(c.rows.find((r) => r.id === 'bar@2.0.0')).toMatchObject({ vetted: 'vetted', via: ['pool google audits.bar[0]'] });
    expect(c.findings.map((f) => f.crate)).toEqual(['baz']);
    expect([...c.poolErrors.keys()]).toEqual(['broken']);
    expect(c.poolErrors.get('broken')).toMatch(/pool broken.*audits\.baz\[0\].*criteria/);
    expect(c.summary.vetTrustedPools).toEqual(['google']);
    // Without a store, a trusted pool alone is enough to raise findings.
    expect(
      coverageOf(ev(), data, { trustedPools: ['google'], minScore: 0 }, at)
        .findings.map((f) => f.crate)
        .sort(),
    ).toEqual(['baz', 'foo']);
  });

  it("again after a pool audit of one crate: the same report as a full resolve, and only that crate's rows and findings", () => {
    const google = (entries: TrustedPoolData['entries']): TrustedPoolData => ({ entries, criteria: [] });
    const barAudit = {
      pool: 'google',
      crate: 'bar',
      table: 'audits',
      entry: JSON.stringify({ who: 'G', criteria: 'safe-to-deploy', version: '2.0.0' }),
    };
    const w = prepareWorkspace(ev(STORE));
    const before = workspaceCoverage(w, google([]), { trustedPools: ['google'], minScore: 0 }, at);
    const again = workspaceCoverage(w, google([barAudit]), { trustedPools: ['google'], minScore: 0 }, at, {
      report: before.report,
      crates: new Set(['bar']),
    });
    const full = coverageOf(ev(STORE), google([barAudit]), { trustedPools: ['google'], minScore: 0 }, at);
    expect(again.report).toEqual(full.report);
    expect(again.findings).toEqual(full.findings.filter((f) => f.crate === 'bar'));
    expect(full.findings.length).toBeGreaterThan(again.findings.length); // the others' stand as written
    expect(again.summary).toEqual(full.summary);
    expect(again.rows).toEqual(full.rows.filter((r) => r.id.startsWith('bar@')));
    expect(again.rows).toEqual([{ id: 'bar@2.0.0', vetted: 'vetted', needs: ['safe-to-deploy'], via: ['pool google audits.bar[0]'] }]);
  });

  it("a pool's criteria come back with what they imply", () => {
    const { pools } = poolsFrom(
      {
        entries: [{ pool: 'g', crate: 'bar', table: 'audits', entry: JSON.stringify({ criteria: 'strong', version: '2.0.0' }) }],
        criteria: [{ pool: 'g', name: 'strong', description: 'two reviewers', descriptionUrl: null, implies: ['safe-to-deploy'] }],
      },
      ['g'],
    );
    const c = coverageOf(ev(STORE), { entries: [], criteria: [] }, opts, at);
    expect(c.rows.find((r) => r.id === 'bar@2.0.0')!.vetted).toBe('unvetted');
    expect(pools.get('g')!.criteria.get('strong')).toMatchObject({ description: 'two reviewers', implies: ['safe-to-deploy'] });
    const withG = coverageOf(
      ev(STORE),
      {
        entries: [{ pool: 'g', crate: 'bar', table: 'audits', entry: JSON.stringify({ criteria: 'strong', version: '2.0.0' }) }],
        criteria: [{ pool: 'g', name: 'strong', description: 'two reviewers', descriptionUrl: null, implies: ['safe-to-deploy'] }],
      },
      { trustedPools: ['g'], minScore: 5 },
      at,
    );
    expect(withG.rows.find((r) => r.id === 'bar@2.0.0')!.vetted).toBe('vetted');
  });

  it('unvettedChanges: opens, rescores when a version starts to matter more, resolves; the same coverage again sends nothing', () => {
    const ws = { id: 'acme/app', org: 'acme', team: 'pay' };
    const stored = (fs: FindingEvent[]): StoredFinding[] =>
      fs.map((f) => ({
        id: f.id,
        state: f.state,
        crate: f.crate,
        version: f.version,
        severity: f.severity,
        score: f.score,
        why: f.why,
        ...(f.vet ? { vet: f.vet } : {}),
      }));
    const first = coverageOf(ev(STORE), none, opts, at).findings;
    expect(unvettedChanges(ws, first, [], at).map((f) => [f.crate, f.state, f.score])).toEqual([['bar', 'open', 6.5]]);
    expect(unvettedChanges(ws, first, stored(first), at)).toEqual([]);

    // baz becomes a direct dependency too: it now scores over the minimum (opens); bar's score is unchanged (nothing).
    const direct = ev(STORE);
    direct.edges.push({ from: 'app@0.1.0', to: 'baz@0.3.0', kind: 'normal' });
    const second = coverageOf(direct, none, opts, at).findings;
    expect(unvettedChanges(ws, second, stored(first), at).map((f) => [f.crate, f.state])).toEqual([['baz', 'open']]);

    // bar gains a second dependent (fan-in 2): the open finding is re-sent with its new score.
    const fanIn = ev(STORE);
    fanIn.edges.push({ from: 'foo@1.0.0', to: 'bar@2.0.0', kind: 'normal' });
    const third = coverageOf(fanIn, none, opts, at).findings;
    const rescored = unvettedChanges(ws, third, stored(first), at);
    expect(rescored.map((f) => [f.crate, f.state])).toEqual([['bar', 'open']]);
    expect(rescored[0]!.score).toBeGreaterThan(6.5);
    expect(rescored[0]!.why.map((w) => w.signal)).toContain('impact.fan-in');

    // Audited now: the open finding resolves, repeating what it said when it opened.
    const audited = coverageOf(
      ev({
        ...STORE,
        audits: `${STORE.audits}\n[[audits.bar]]\nwho = "B <b@example.com>"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\n`,
      }),
      none,
      opts,
      at,
    ).findings;
    const resolved = unvettedChanges(ws, audited, stored(first), '2026-02-01T00:00:00.000Z');
    expect(resolved).toEqual([{ ...first[0]!, state: 'resolved', observedAt: '2026-02-01T00:00:00.000Z' }]);
  });
});
