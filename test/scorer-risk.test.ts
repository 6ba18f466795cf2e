/**
 * Risk in the scorer, end to end: the real scorer process on real Kafka and Neo4j. A workspace (with
 * its cargo-vet store, so unvetted findings open) locks a crate that is unvetted AND hit by an
 * advisory (compound risk) and another hit by a high advisory: the Workspace node and each LOCKS
 * edge carry `risk`, `riskSeverity` and `riskWhy` (shared `workspaceRisk` / `versionRisk`). A replay
 * writes nothing new and sends nothing; withdrawing an advisory clears its version's risk and the
 * workspace's drops; upgrading the lockfile moves the risk to the new version. Risk is never sent
 * on Kafka: the findings topic carries only the findings. Names are unique to this run (other test
 * files share and clear the graph).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Advisory, AdvisoryEvent, FindingEvent, WorkspaceEvent } from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, unique, waitFor, type ScorerProbe, type Service, testAdvisory } from './pipeline-harness.js';

const run = unique('risk');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('risk-state'),
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const NOW = '2026-03-01T00:00:00.000Z';
const stem = run.replace(/-/g, '');
const [app, bar, baz] = [`${stem}-app`, `${stem}-bar`, `${stem}-baz`];
const n = 1000 + Math.floor(Math.random() * 8000);
const [A, B] = [`RUSTSEC-2096-${n}`, `RUSTSEC-2096-${n + 1}`];
const HIGH = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N'; // 7.5
const wsId = `acme/${run}`;

let scorer: Service;
let probe: ScorerProbe;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

const advisory = (id: string, pkg: string, o: Partial<Advisory> = {}): AdvisoryEvent =>
  testAdvisory(id, pkg, NOW, { versions: { patched: ['>= 3.0.0'], unaffected: [] }, ...o });

/**
 * app → bar (build), baz (normal); a store with no audit: bar is unvetted, build-time and direct
 * (3 + 2 + 1.5 = 6.5, a finding); baz unvetted and direct (4.5, under the default 5: none).
 */
function workspace(barVersion = '2.0.0'): WorkspaceEvent {
  const pkg = (name: string, version: string) => ({ id: `${name}@${version}`, name, version, source: CRATES });
  return {
    v: 1,
    id: wsId,
    org: 'acme',
    team: 'payments',
    packages: [{ id: `${app}@0.1.0`, name: app, version: '0.1.0' }, pkg(bar, barVersion), pkg(baz, '1.0.0')],
    edges: [
      { from: `${app}@0.1.0`, to: `${bar}@${barVersion}`, kind: 'build' },
      { from: `${app}@0.1.0`, to: `${baz}@1.0.0`, kind: 'normal' },
    ],
    members: [`${app}@0.1.0`],
    store: { config: '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n' },
    origin: { path: `${wsId}/Cargo.lock`, checksum: `sha256:${barVersion}` },
    observedAt: NOW,
  };
}

const sendAdvisories = async (evs: AdvisoryEvent[]) => {
  await probe.send(
    'rustsec.advisories',
    evs.map((e) => ({ key: e.advisory.id, value: e })),
  );
  await probe.drained(['rustsec.advisories']);
  await probe.findingsSettled();
};
const sendWorkspace = async (ev: WorkspaceEvent) => {
  await probe.send('org.workspaces', [{ key: ev.id, value: ev }]);
  await probe.drained(['org.workspaces']);
  await probe.findingsSettled();
};
const mine = (): FindingEvent[] => probe.findings.filter((f) => f.workspace.id === wsId);
type Why = FindingEvent['why'];
const wsRisk = async () =>
  (
    await probe.q<{ risk: number | null; severity: string | null; why: string | null }>(
      `MATCH (w:Workspace {id: $wsId}) RETURN w.risk AS risk, w.riskSeverity AS severity, w.riskWhy AS why`,
      { wsId },
    )
  ).map((r) => ({
    risk: r.risk,
    severity: r.severity,
    why: r.why === null ? null : (JSON.parse(r.why) as Why),
  }))[0]!;
const edgeRisk = async () =>
  Object.fromEntries(
    (
      await probe.q<{ crate: string; version: string; risk: number | null; severity: string | null; why: string | null }>(
        `MATCH (:Workspace {id: $wsId})-[l:LOCKS]->(v:Version) RETURN v.crate AS crate, v.version AS version, l.risk AS risk, l.riskSeverity AS severity, l.riskWhy AS why`,
        { wsId },
      )
    ).map((r) => [
      `${r.crate}@${r.version}`,
      { risk: r.risk, severity: r.severity, why: r.why === null ? null : (JSON.parse(r.why) as Why) },
    ]),
  );
const riskLogs = () =>
  scorer
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"risk applied"'))
    .map((l) => JSON.parse(l) as { workspaces: number; written: number });

describe('risk per crate-version and per workspace, in the graph', () => {
  const barWhy = (v: string) =>
    [
      { signal: 'finding.unvetted', contribution: 6.5, detail: 'no audit for safe-to-deploy (build-time, direct)' },
      { signal: 'finding.advisory', contribution: 5, detail: `${A}: ${bar} has a hole — no CVSS given` },
      { signal: 'risk.compound', contribution: 1, detail: '2 kinds of finding on one version' },
    ].filter((w) => v === '2.0.0' || w.signal === 'finding.unvetted');

  it('an advisory hit and an unvetted finding on one version: that LOCKS edge shows the compound 7.5 high and why; the workspace its top version + breadth', async () => {
    await sendAdvisories([advisory(A, bar), advisory(B, baz, { cvss: HIGH })]);
    await sendWorkspace(workspace());
    await waitFor('the three findings', () => mine().length === 3);
    expect(
      mine()
        .map((f) => [f.kind, f.crate, f.state, f.score])
        .sort(),
    ).toEqual([
      ['advisory', bar, 'open', 5],
      ['advisory', baz, 'open', 7.5],
      ['unvetted', bar, 'open', 6.5],
    ]);
    const edges = await waitFor('risk on the LOCKS edges', async () => {
      const e = await edgeRisk();
      return e[`${bar}@2.0.0`]?.risk != null && e[`${baz}@1.0.0`]?.risk != null ? e : undefined;
    });
    expect(edges[`${bar}@2.0.0`]).toEqual({ risk: 7.5, severity: 'high', why: barWhy('2.0.0') });
    expect(edges[`${baz}@1.0.0`]).toEqual({
      risk: 7.5,
      severity: 'high',
      why: [{ signal: 'finding.advisory', contribution: 7.5, detail: `${B}: ${baz} has a hole — CVSS 3.1 7.5` }],
    });
    expect(edges[`${app}@0.1.0`]).toEqual({ risk: null, severity: null, why: null });
    // 7.5 (bar: ties with baz at 7.5, the crate name decides) + 0.5 (baz, one more high version)
    expect(await wsRisk()).toEqual({
      risk: 8,
      severity: 'high',
      why: [
        {
          signal: 'risk.top',
          contribution: 7.5,
          detail: `${bar} 2.0.0: no audit for safe-to-deploy (build-time, direct) (+ finding.advisory, risk.compound)`,
        },
        { signal: 'risk.breadth', contribution: 0.5, detail: '1 more high/critical version' },
        { signal: 'open.advisory', contribution: 0, detail: '2 open advisory findings' },
        { signal: 'open.unvetted', contribution: 0, detail: '1 open unvetted finding' },
      ],
    });
  });

  it('a replay of the workspace and the advisories writes the same values (nothing, as the log says) and sends nothing', async () => {
    const [ws, edges, events, logs] = [await wsRisk(), await edgeRisk(), probe.findings.length, riskLogs().length];
    await sendWorkspace(workspace());
    await sendAdvisories([advisory(A, bar), advisory(B, baz, { cvss: HIGH })]);
    expect(await wsRisk()).toEqual(ws);
    expect(await edgeRisk()).toEqual(edges);
    expect(probe.findings.length).toBe(events);
    const after = riskLogs().slice(logs);
    expect(after.length).toBeGreaterThan(0); // the workspace event makes its risk due ...
    expect(after.every((l) => l.written === 0)).toBe(true); // ... and finds it already written
  });

  it("the advisory withdrawn: its finding resolves, that edge's risk is cleared, the workspace's drops", async () => {
    await sendAdvisories([advisory(B, baz, { cvss: HIGH, withdrawn: '2096-02-01' })]);
    await waitFor('B resolved', () => mine().some((f) => f.crate === baz && f.state === 'resolved'));
    const edges = await waitFor('baz risk cleared', async () => {
      const e = await edgeRisk();
      return e[`${baz}@1.0.0`]?.risk === null ? e : undefined;
    });
    expect(edges[`${baz}@1.0.0`]).toEqual({ risk: null, severity: null, why: null });
    expect(edges[`${bar}@2.0.0`]).toMatchObject({ risk: 7.5, severity: 'high' });
    const ws = await wsRisk();
    expect([ws.risk, ws.severity]).toEqual([7.5, 'high']);
    expect(ws.why!.map((w) => [w.signal, w.contribution])).toEqual([
      ['risk.top', 7.5],
      ['risk.breadth', 0],
      ['open.advisory', 0],
      ['open.unvetted', 0],
    ]);
    expect(ws.why![2]!.detail).toBe('1 open advisory finding');
  });

  it('the lockfile upgraded past the advisory: the old edge is gone, the new version carries its unvetted risk alone; no risk event on Kafka', async () => {
    await sendWorkspace(workspace('3.0.0'));
    await waitFor('bar 3.0.0 opened', () => mine().some((f) => f.version === '3.0.0' && f.state === 'open'));
    const edges = await waitFor('risk on bar 3.0.0', async () => {
      const e = await edgeRisk();
      return e[`${bar}@3.0.0`]?.risk != null ? e : undefined;
    });
    expect(Object.keys(edges).sort()).toEqual([`${app}@0.1.0`, `${bar}@3.0.0`, `${baz}@1.0.0`]);
    expect(edges[`${bar}@3.0.0`]).toEqual({ risk: 6.5, severity: 'medium', why: barWhy('3.0.0') });
    expect(edges[`${baz}@1.0.0`]!.risk).toBeNull();
    const ws = await wsRisk();
    expect([ws.risk, ws.severity, ws.why![0]!.detail]).toEqual([
      6.5,
      'medium',
      `${bar} 3.0.0: no audit for safe-to-deploy (build-time, direct)`,
    ]);
    // Every message the run produced is a finding: 3 opened, B resolved, A and the unvetted bar 2.0.0 resolved, bar 3.0.0 opened.
    expect(mine()).toHaveLength(7);
    expect(mine()[3]!).toMatchObject({ kind: 'advisory', crate: baz, state: 'resolved' });
    expect(
      mine()
        .slice(4)
        .map((f) => `${f.kind} ${f.version} ${f.state}`)
        .sort(),
    ).toEqual(['advisory 2.0.0 resolved', 'unvetted 2.0.0 resolved', 'unvetted 3.0.0 open']);
    expect(probe.findings.every((f) => f.v === 1 && ['advisory', 'unvetted', 'maintainer'].includes(f.kind))).toBe(true);
  });

  it('a workspace left with no open finding: risk 0, info, why []', async () => {
    // Everything vetted now: the store exempts bar 3.0.0.
    const ev = workspace('3.0.0');
    ev.store = {
      config: `\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n\n[[exemptions.${bar}]]\nversion = "3.0.0"\ncriteria = "safe-to-deploy"\n`,
    };
    ev.origin.checksum = 'sha256:exempted';
    await sendWorkspace(ev);
    await waitFor('bar 3.0.0 resolved', () => mine().some((f) => f.version === '3.0.0' && f.state === 'resolved'));
    const ws = await waitFor('risk 0', async () => {
      const w = await wsRisk();
      return w.risk === 0 ? w : undefined;
    });
    expect(ws).toEqual({ risk: 0, severity: 'info', why: [] });
    expect(Object.values(await edgeRisk()).every((e) => e.risk === null)).toBe(true);
  });
});
