/**
 * Maintainer-risk findings in the scorer, end to end: the real scorer process on real Kafka and
 * Neo4j. A workspace locks a crate whose maintainers and releases look risky (one owner, archived
 * repository, unsigned commits, a release after a year of silence) → one maintainer finding, opened
 * whether the facts or the workspace came first; the same events again → nothing; the signals
 * improve (an owner added, the repository unarchived) → resolved; a malformed maintainers event →
 * `maintainers.signals.dlq` and the scorer goes on; a workspace that stops locking the crate →
 * its finding resolves. Names are unique to this run (other test files share and clear the graph).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FindingEvent, MaintainerEvent, ReleaseEvent, WorkspaceEvent } from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, unique, waitFor, type ScorerProbe, type Service } from './pipeline-harness.js';

const run = unique('mnt');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('mnt-state'),
  // SCORER_MAINTAINER_MIN_SCORE left to its default (5)
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const stem = run.replace(/-/g, '');
const [risky, healthy, app] = [`${stem}-leftpad`, `${stem}-sturdy`, `${stem}-app`];
const [alice, bob, carol] = [`${run}-alice`, `${run}-bob`, `${run}-carol`];
const OBSERVED = '2026-03-01T00:00:00.000Z';

let scorer: Service;
let probe: ScorerProbe;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP, dlqTopics: ['maintainers.signals.dlq'] });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

/** A `maintainers.signals` event as the maintainers source emits it. */
function maintainers(
  crate: string,
  o: { owners: string[]; archived: boolean; signed: number; change?: { added: string[]; removed: string[]; previous: string[] } },
): MaintainerEvent {
  const url = `https://github.com/${run}/${crate}`;
  const sig = (value: unknown) => ({ value, observedAt: OBSERVED });
  return {
    v: 1,
    crate,
    owners: o.owners.map((login) => ({ login, kind: 'user' as const, observedAt: '2024-01-01T00:00:00.000Z' })),
    repository: url,
    signals: {
      repository: sig({ url, host: 'github.com' }),
      ownerCount: sig(o.owners.length),
      ...(o.change ? { ownershipChange: sig(o.change) } : {}),
      archived: sig(o.archived),
      disabled: sig(false),
      pushedAt: sig('2026-02-15T00:00:00Z'),
      signedCommits: sig({ signed: o.signed, total: 20, ratio: o.signed / 20 }),
    },
    observedAt: OBSERVED,
  };
}
const release = (crate: string, version: string, publishedAt: string, publisher: string): ReleaseEvent => ({
  v: 1,
  crate,
  version,
  yanked: false,
  features: {},
  dependencies: [],
  publishedAt,
  publisher,
  observedAt: OBSERVED,
});
function workspace(id: string, locks: string[]): WorkspaceEvent {
  const pkg = (name: string, version: string) => ({ id: `${name}@${version}`, name, version, source: CRATES });
  const versions: Record<string, string> = { [risky]: '1.1.0', [healthy]: '2.0.0' };
  return {
    v: 1,
    id,
    org: 'acme',
    team: 'payments',
    packages: [{ id: `${app}@0.1.0`, name: app, version: '0.1.0' }, ...locks.map((c) => pkg(c, versions[c]!))],
    edges: locks.map((c) => ({ from: `${app}@0.1.0`, to: `${c}@${versions[c]}`, kind: 'normal' as const })),
    members: [`${app}@0.1.0`],
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${locks.join(',')}` },
    observedAt: OBSERVED,
  };
}

const ws1 = `acme/${run}/one`;
const ws2 = `acme/${run}/two`;
const riskyNow = maintainers(risky, { owners: [alice], archived: true, signed: 0 });
const releases = [release(risky, '1.0.0', '2024-11-01T00:00:00.000Z', alice), release(risky, '1.1.0', '2026-02-15T00:00:00.000Z', alice)];
const mine = () => probe.findings.filter((f) => f.kind === 'maintainer' && f.crate === risky);
/** Finding ids are keys on several partitions: only each finding's own events come in order. */
const byWorkspace = (fs: FindingEvent[]) => [...fs].sort((a, b) => (a.workspace.id < b.workspace.id ? -1 : 1));
const history = () => {
  const h: Record<string, string[]> = {};
  for (const f of mine()) (h[f.workspace.id] ??= []).push(f.state);
  return h;
};
const settle = async (topics: string[]) => {
  await probe.drained(topics);
  await probe.findingsSettled();
};

describe('maintainer findings', () => {
  it('facts after the workspace: the workspace locking the risky crate gets one finding (6.5, medium), the healthy crate none', async () => {
    await probe.send('org.workspaces', [{ key: ws1, value: workspace(ws1, [risky, healthy]) }]);
    await settle(['org.workspaces']);
    expect(mine()).toEqual([]); // nothing known about the crate yet
    await probe.send(
      'crates.releases',
      releases.map((r) => ({ key: r.crate, value: r })),
    );
    await probe.send('maintainers.signals', [
      { key: risky, value: riskyNow },
      { key: healthy, value: maintainers(healthy, { owners: [alice, bob], archived: false, signed: 18 }) },
    ]);
    await settle(['crates.releases', 'maintainers.signals']);
    await waitFor('the finding', () => mine().length >= 1, 30_000);
    expect(mine().map((f) => [f.id, f.state, f.score, f.severity])).toEqual([[`${ws1}|${risky}|1.1.0|maintainer`, 'open', 6.5, 'medium']]);
    expect(mine()[0]!.why.map((w) => [w.signal, w.contribution])).toEqual([
      ['maintainer.single-owner', 2],
      ['release.after-dormancy', 2],
      ['repository.archived', 1.5],
      ['repository.unsigned-commits', 1],
    ]);
    expect(mine()[0]!.maintainer).toEqual({
      owners: [alice],
      repository: `https://github.com/${run}/${risky}`,
      latestRelease: { version: '1.1.0', publishedAt: '2026-02-15T00:00:00.000Z', publisher: alice },
    });
    expect(mine()[0]!.workspace).toEqual({ id: ws1, org: 'acme', team: 'payments' });
    expect(probe.findings.filter((f) => f.crate === healthy)).toEqual([]);
  });

  it('facts before the workspace: a second workspace gets the same finding when it arrives; an analyst finds both with Cypher', async () => {
    await probe.send('org.workspaces', [{ key: ws2, value: workspace(ws2, [risky]) }]);
    await settle(['org.workspaces']);
    expect(byWorkspace(mine()).map((f) => [f.workspace.id, f.state, f.score])).toEqual([
      [ws1, 'open', 6.5],
      [ws2, 'open', 6.5],
    ]);
    // What README/the report give analysts: open maintainer findings with their workspace and version.
    const rows = await probe.q<{ ws: string; crate: string; version: string; severity: string; score: number; why: string }>(
      `MATCH (f:Finding {kind: 'maintainer', state: 'open'})-[:IN]->(w:Workspace), (f)-[:ABOUT]->(v:Version)
       WHERE v.crate = $crate
       RETURN w.id AS ws, v.crate AS crate, v.version AS version, f.severity AS severity, f.score AS score, f.why AS why
       ORDER BY f.score DESC, ws`,
      { crate: risky },
    );
    expect(JSON.parse(rows[0]!.why)).toEqual(mine()[0]!.why);
    expect(rows.map((r) => [r.ws, r.crate, r.version, r.severity, r.score])).toEqual([
      [ws1, risky, '1.1.0', 'medium', 6.5],
      [ws2, risky, '1.1.0', 'medium', 6.5],
    ]);
  });

  it('replaying every event changes nothing and sends nothing', async () => {
    await probe.send(
      'crates.releases',
      releases.map((r) => ({ key: r.crate, value: r })),
    );
    await probe.send('maintainers.signals', [{ key: risky, value: riskyNow }]);
    await probe.send('org.workspaces', [
      { key: ws1, value: workspace(ws1, [risky, healthy]) },
      { key: ws2, value: workspace(ws2, [risky]) },
    ]);
    await settle(['crates.releases', 'maintainers.signals', 'org.workspaces']);
    expect(mine()).toHaveLength(2);
    const [n] = await probe.q<{ n: number }>(`MATCH (f:Finding {kind: 'maintainer', crate: $crate}) RETURN count(f) AS n`, {
      crate: risky,
    });
    expect(n!.n).toBe(2);
  });

  it('the signals improve (an owner added, the repository unarchived: 4) → both findings resolve, saying what they said when open', async () => {
    const improved = maintainers(risky, {
      owners: [alice, bob],
      archived: false,
      signed: 0,
      change: { added: [bob], removed: [], previous: [alice] },
    });
    await probe.send('maintainers.signals', [{ key: risky, value: improved }]);
    await settle(['maintainers.signals']);
    await waitFor('two resolutions', () => mine().length >= 4, 30_000);
    expect(history()).toEqual({ [ws1]: ['open', 'resolved'], [ws2]: ['open', 'resolved'] });
    const [opened, resolved] = mine().filter((f) => f.workspace.id === ws1);
    const { observedAt: _o, state: _s, ...said } = opened!;
    expect(resolved).toMatchObject(said);
    const states = await probe.q<{ state: string }>(`MATCH (f:Finding {kind: 'maintainer', crate: $crate}) RETURN f.state AS state`, {
      crate: risky,
    });
    expect(states.map((s) => s.state)).toEqual(['resolved', 'resolved']);
  });

  it('a malformed maintainers event goes to maintainers.signals.dlq; the scorer goes on with the next one (owners replaced: both reopen)', async () => {
    const takeover = maintainers(risky, {
      owners: [carol],
      archived: false,
      signed: 0,
      change: { added: [carol], removed: [alice, bob], previous: [alice, bob] },
    });
    await probe.send('maintainers.signals', [
      { key: risky, value: { ...takeover, owners: [{ login: 5, kind: 'user', observedAt: OBSERVED }] } },
      { key: risky, value: takeover },
    ]);
    await settle(['maintainers.signals']);
    await waitFor('the refusal in the DLQ', () => probe.dlq.some((d) => d.key === risky), 30_000);
    const refused = probe.dlq.find((d) => d.key === risky)!;
    expect(refused).toMatchObject({ topic: `${prefix}maintainers.signals`, service: 'scorer' });
    expect(refused.error).toMatch(/owners\.0\.login/);
    await waitFor('two reopenings', () => mine().length >= 6, 30_000);
    // one owner (2) + owners replaced (3) + dormancy (2) + unsigned (1) = 8: high
    expect(byWorkspace(mine().slice(4)).map((f) => [f.workspace.id, f.state, f.score, f.severity])).toEqual([
      [ws1, 'open', 8, 'high'],
      [ws2, 'open', 8, 'high'],
    ]);
    expect(mine()[5]!.why.find((w) => w.signal === 'maintainer.owner-change')).toEqual({
      signal: 'maintainer.owner-change',
      contribution: 3,
      detail: `owners replaced 2026-03-01: added ${carol}; removed ${alice}, ${bob}`,
    });
  });

  it('a workspace that no longer locks the crate: its finding resolves, the other stays open', async () => {
    await probe.send('org.workspaces', [{ key: ws2, value: workspace(ws2, [healthy]) }]);
    await settle(['org.workspaces']);
    await waitFor('the resolution', () => mine().length >= 7, 30_000);
    expect(
      mine()
        .slice(6)
        .map((f) => [f.workspace.id, f.state]),
    ).toEqual([[ws2, 'resolved']]);
    const open = await probe.q<{ ws: string }>(
      `MATCH (f:Finding {kind: 'maintainer', crate: $crate, state: 'open'}) RETURN f.workspace AS ws`,
      { crate: risky },
    );
    expect(open).toEqual([{ ws: ws1 }]);
  });
});
