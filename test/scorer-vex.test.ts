/**
 * VEX statements in the scorer, end to end: the real scorer process on real Kafka and Neo4j.
 * Advisories go in as `rustsec.advisories` events, workspaces as `org.workspaces` events carrying
 * their OpenVEX documents (as ingest reads them, shared `parseVexDocument`). A hit a `not_affected`
 * or `fixed` statement covers opens no finding, whether the advisory or the workspace came first;
 * an open finding resolves when a new workspace event brings such a statement (`why`:
 * `vex.not_affected: …`), and reopens when the statement is removed; replays send nothing; a
 * malformed `vex` goes to the DLQ. And an advisory edited to carry a CVSS that raises it re-sends
 * the open finding once with the new severity and score (and the Finding node has them). Advisory
 * ids, crate names and workspace ids are unique to this run (other test files share and clear the
 * graph).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  parseVexDocument,
  type Advisory,
  type AdvisoryEvent,
  type FindingEvent,
  type VexDocument,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, unique, waitFor, type ScorerProbe, type Service, testAdvisory } from './pipeline-harness.js';

const run = unique('vex');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('vex-state'),
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const stem = run.replace(/-/g, '');
const [vecCrate, serdeCrate, app] = [`${stem}-smallvec`, `${stem}-serde`, `${stem}-app`];
const n = 1000 + Math.floor(Math.random() * 8000);
const [A, B, C, D, E] = [0, 1, 2, 3, 4].map((i) => `RUSTSEC-2098-${n + i}`) as [string, string, string, string, string];
const cve = (i: number) => `CVE-2098-${String(n).padStart(5, '0')}${i}`;
const NOW = '2026-03-01T00:00:00.000Z';

let scorer: Service;
let probe: ScorerProbe;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP, dlqTopics: ['org.workspaces.dlq'] });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

const advisory = (id: string, pkg: string, o: Partial<Advisory> = {}): AdvisoryEvent => testAdvisory(id, pkg, NOW, o);

/** An OpenVEX document, read as ingest reads it. */
function vex(file: string, statements: Record<string, unknown>[]): VexDocument {
  return parseVexDocument(
    JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      author: 'security@acme.test',
      timestamp: '2026-02-01T00:00:00Z',
      statements,
    }),
    file,
  );
}

function workspace(id: string, docs?: VexDocument[]): WorkspaceEvent {
  const pkg = (name: string, version: string) => ({ id: `${name}@${version}`, name, version, source: CRATES });
  return {
    v: 1,
    id,
    org: 'acme',
    team: 'payments',
    packages: [{ id: `${app}@0.1.0`, name: app, version: '0.1.0' }, pkg(vecCrate, '1.0.0'), pkg(serdeCrate, '1.0.0')],
    edges: [
      { from: `${app}@0.1.0`, to: `${vecCrate}@1.0.0`, kind: 'normal' },
      { from: `${app}@0.1.0`, to: `${serdeCrate}@1.0.0`, kind: 'normal' },
    ],
    members: [`${app}@0.1.0`],
    ...(docs ? { vex: docs } : {}),
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${docs?.length ?? 0}` },
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
const sendWorkspaces = async (evs: WorkspaceEvent[]) => {
  await probe.send(
    'org.workspaces',
    evs.map((e) => ({ key: e.id, value: e })),
  );
  await probe.drained(['org.workspaces']);
  await probe.findingsSettled();
};
const of = (ws: string): FindingEvent[] => probe.findings.filter((f) => f.workspace.id === ws && f.kind === 'advisory');
const told = (ws: string) => of(ws).map((f) => [f.advisory!.id, f.state]);
const stored = async (ws: string) =>
  Object.fromEntries(
    (
      await probe.q<{ advisory: string; state: string; why: string }>(
        `MATCH (f:Finding {workspace: $ws, kind: 'advisory'}) RETURN f.advisory AS advisory, f.state AS state, f.why AS why`,
        { ws },
      )
    ).map((r) => [r.advisory, { state: r.state, why: JSON.parse(r.why) as FindingEvent['why'] }]),
  );

describe('VEX statements honoured by the scorer', () => {
  const ws1 = `acme/${run}-api`;
  // A's CVE alias, a purl without version: every version of the crate; the statement's text.
  const notAffectedA = {
    vulnerability: { name: cve(0) },
    products: [{ '@id': `pkg:cargo/${app}@0.1.0`, subcomponents: [{ '@id': `pkg:cargo/${vecCrate}` }] }],
    status: 'not_affected',
    justification: 'vulnerable_code_not_in_execute_path',
    impact_statement: 'we never call insert_many',
  };
  const investigatingB = {
    vulnerability: { name: B },
    products: [{ '@id': `pkg:cargo/${serdeCrate}@1.0.0` }],
    status: 'under_investigation',
    status_notes: 'asked upstream',
  };
  const withA = () => workspace(ws1, [vex(`${ws1}/vex.json`, [notAffectedA, investigatingB])]);
  const withoutA = () => workspace(ws1, [vex(`${ws1}/vex.json`, [investigatingB])]);

  it('without VEX, each hit opens a finding', async () => {
    await sendAdvisories([advisory(A, vecCrate, { aliases: [cve(0), 'GHSA-xxxx-yyyy-zzzz'] }), advisory(B, serdeCrate)]);
    await sendWorkspaces([workspace(ws1)]);
    expect(told(ws1).sort()).toEqual([
      [A, 'open'],
      [B, 'open'],
    ]);
  });

  it('a new workspace event with a not_affected statement resolves the open finding, saying vex.not_affected and why; the under_investigation one stays open (nothing sent)', async () => {
    await sendWorkspaces([withA()]);
    await waitFor('A resolved', () => of(ws1).length === 3);
    expect(told(ws1).slice(2)).toEqual([[A, 'resolved']]);
    const resolved = of(ws1)[2]!;
    expect(resolved.why.find((w) => w.signal === 'vex.not_affected')).toEqual({
      signal: 'vex.not_affected',
      contribution: 0,
      detail: `vulnerable_code_not_in_execute_path: we never call insert_many (${ws1}/vex.json statements[0], 2026-02-01T00:00:00Z)`,
    });
    const graph = await stored(ws1);
    expect(graph[A]!.state).toBe('resolved');
    expect(graph[A]!.why.map((w) => w.signal)).toEqual(['advisory.vulnerability', 'vex.not_affected']);
    expect(graph[B]!.state).toBe('open');
    expect((await probe.q(`MATCH (w:Workspace {id: $ws}) RETURN w.vex IS NOT NULL AS has`, { ws: ws1 }))[0]).toEqual({ has: true });
  });

  it('replays change nothing: the same workspace event twice, the advisories again, an advisory update', async () => {
    const before = of(ws1).length;
    await sendWorkspaces([withA(), withA()]);
    await sendAdvisories([advisory(A, vecCrate, { aliases: [cve(0), 'GHSA-xxxx-yyyy-zzzz'] }), advisory(B, serdeCrate)]);
    await sendAdvisories([advisory(A, vecCrate, { aliases: [cve(0), 'GHSA-xxxx-yyyy-zzzz'], title: `${vecCrate} has a hole (updated)` })]);
    expect(of(ws1)).toHaveLength(before);
    expect((await stored(ws1))[A]!.state).toBe('resolved');
  });

  it('removing the statement reopens the finding', async () => {
    await sendWorkspaces([withoutA()]);
    await waitFor('A reopened', () => of(ws1).length === 4);
    expect(told(ws1)[3]).toEqual([A, 'open']);
    expect(of(ws1)[3]!.why.map((w) => w.signal)).toEqual(['advisory.vulnerability']);
    await sendWorkspaces([withoutA()]);
    expect(of(ws1)).toHaveLength(4);
  });

  it('a later affected statement outweighs an earlier not_affected one: the finding stays open; a later fixed one resolves it', async () => {
    const affected = {
      ...notAffectedA,
      status: 'affected',
      justification: undefined,
      impact_statement: undefined,
      action_statement: 'upgrade to 2.0',
      timestamp: '2026-02-10T00:00:00Z',
    };
    await sendWorkspaces([
      workspace(ws1, [vex(`${ws1}/a.openvex.json`, [affected]), vex(`${ws1}/vex.json`, [notAffectedA, investigatingB])]),
    ]);
    expect(of(ws1)).toHaveLength(4); // still open: nothing to send
    const fixed = {
      ...notAffectedA,
      status: 'fixed',
      justification: undefined,
      impact_statement: 'patched in our fork of the call site',
      timestamp: '2026-02-20T00:00:00Z',
    };
    await sendWorkspaces([workspace(ws1, [vex(`${ws1}/a.openvex.json`, [affected]), vex(`${ws1}/b.openvex.json`, [fixed])])]);
    await waitFor('A resolved by fixed', () => of(ws1).length === 5);
    expect(of(ws1)[4]!.state).toBe('resolved');
    expect(of(ws1)[4]!.why[1]).toEqual({
      signal: 'vex.fixed',
      contribution: 0,
      detail: `patched in our fork of the call site (${ws1}/b.openvex.json statements[0], 2026-02-20T00:00:00Z)`,
    });
  });

  it('a workspace whose VEX covers a hit from the start never opens it, whichever arrives first: the workspace, or the advisory', async () => {
    const ws2 = `acme/${run}-batch`;
    const docs = [
      vex(`${ws2}/vex.json`, [
        { vulnerability: { name: A }, products: [{ '@id': `pkg:cargo/${vecCrate}@1.0.0` }], status: 'fixed' },
        // D does not exist yet: its GHSA alias is named before the advisory arrives
        {
          vulnerability: { name: 'GHSA-dddd-eeee-ffff' },
          products: [{ '@id': `pkg:cargo/${serdeCrate}` }],
          status: 'not_affected',
          justification: 'component_not_present',
        },
      ]),
    ];
    await sendWorkspaces([workspace(ws2, docs)]);
    expect(told(ws2)).toEqual([[B, 'open']]); // A is covered, B is not
    await sendAdvisories([advisory(C, vecCrate), advisory(D, serdeCrate, { aliases: ['GHSA-dddd-eeee-ffff'] })]);
    await waitFor('C opened', () => of(ws2).length === 2);
    expect(told(ws2)).toEqual([
      [B, 'open'],
      [C, 'open'],
    ]);
    expect((await stored(ws2))[D]).toBeUndefined();
    expect((await stored(ws2))[A]).toBeUndefined();
    // ws1 has no statement on C nor D: both open there.
    expect(told(ws1).slice(5).sort()).toEqual([
      [C, 'open'],
      [D, 'open'],
    ]);
  });

  it('a workspace event with a malformed vex field goes to org.workspaces.dlq naming the path; its findings stay as they were', async () => {
    const bad = JSON.parse(JSON.stringify(withA()));
    bad.vex[0].statements[0].status = 'probably_fine';
    const before = of(ws1).length;
    await probe.send('org.workspaces', [{ key: ws1, value: bad }]);
    await probe.drained(['org.workspaces']);
    await waitFor('the refusal in the DLQ', () => probe.dlq.some((d) => d.key === ws1), 30_000);
    expect(probe.dlq.find((d) => d.key === ws1)!.error).toMatch(/vex\.0\.statements\.0\.status: Invalid enum value/);
    await probe.findingsSettled();
    expect(of(ws1)).toHaveLength(before);
  });
});

describe('an open advisory finding whose severity moves', () => {
  // A crate of its own, so the findings of the VEX tests above are not touched.
  const ws3 = `acme/${run}-rescore`;
  const rsCrate = `${stem}-rescored`;
  const critical = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'; // 9.8
  const ws = (): WorkspaceEvent => ({
    ...workspace(ws3),
    packages: [
      { id: `${app}@0.1.0`, name: app, version: '0.1.0' },
      { id: `${rsCrate}@1.0.0`, name: rsCrate, version: '1.0.0', source: CRATES },
    ],
    edges: [{ from: `${app}@0.1.0`, to: `${rsCrate}@1.0.0`, kind: 'normal' }],
  });
  const node = async () =>
    (
      await probe.q<{ state: string; severity: string; score: number }>(
        `MATCH (f:Finding {workspace: $ws, kind: 'advisory', advisory: $id}) RETURN f.state AS state, f.severity AS severity, f.score AS score`,
        { ws: ws3, id: E },
      )
    )[0];
  /** The scorer's `findings changed` log lines for ws3. */
  const logged = () =>
    scorer
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"findings changed"') && l.includes(JSON.stringify(ws3)))
      .map((l) => JSON.parse(l) as { opened: number; rescored: number; resolved: number });

  it('an advisory re-sent with a CVSS vector that raises it: one new open event with the new severity and score, the Finding node has them; the same advisory again sends nothing', async () => {
    await sendWorkspaces([ws()]);
    await sendAdvisories([advisory(E, rsCrate)]); // no CVSS: medium, 5
    await waitFor('E opened', () => of(ws3).length === 1);
    expect(of(ws3).map((f) => [f.advisory!.id, f.state, f.severity, f.score])).toEqual([[E, 'open', 'medium', 5]]);
    expect(await node()).toEqual({ state: 'open', severity: 'medium', score: 5 });

    await sendAdvisories([advisory(E, rsCrate, { cvss: critical })]);
    await waitFor('E re-sent', () => of(ws3).length === 2);
    const rescored = of(ws3)[1]!;
    expect([rescored.id, rescored.state, rescored.severity, rescored.score]).toEqual([of(ws3)[0]!.id, 'open', 'critical', 9.8]);
    expect(rescored.why[0]!.detail).toMatch(/CVSS 3\.1 9\.8$/);
    expect(await node()).toEqual({ state: 'open', severity: 'critical', score: 9.8 });
    expect(logged().at(-1)).toMatchObject({ opened: 0, rescored: 1, resolved: 0 });

    // The same advisory again, and the workspace again: nothing more.
    await sendAdvisories([advisory(E, rsCrate, { cvss: critical })]);
    await sendWorkspaces([ws()]);
    expect(of(ws3)).toHaveLength(2);
    expect(await node()).toEqual({ state: 'open', severity: 'critical', score: 9.8 });
  });
});
