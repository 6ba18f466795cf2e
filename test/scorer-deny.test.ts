/**
 * cargo-deny findings in the scorer, end to end: the real scorer process on real Kafka and Neo4j.
 * Workspaces go in as `org.workspaces` events made by ingest's rule (shared `workspaceEvent`, which
 * carries the deny.toml and the packages its checks judge). A deny.toml that bans a crate the
 * workspace locks opens a `deny` finding (check, code, rule); a replay sends nothing; a new event
 * without the ban resolves it, repeating what it said; a deny.toml that does not read goes to the DLQ.
 * Crate names and workspace ids are unique to this run (other test files share the graph).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLockfile, workspaceEvent, type FindingEvent, type WorkspaceEvent } from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, unique, type ScorerProbe, type Service } from './pipeline-harness.js';

const run = unique('deny');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('deny-state'),
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const stem = run.replace(/-/g, '');
const [evil, good, app] = [`${stem}-evil`, `${stem}-good`, `${stem}-app`];
const NOW = '2026-03-01T00:00:00.000Z';
const LOCK = `version = 4

[[package]]
name = "${app}"
version = "0.1.0"
dependencies = ["${evil}", "${good}"]

[[package]]
name = "${evil}"
version = "1.2.3"
source = "${CRATES}"

[[package]]
name = "${good}"
version = "1.0.0"
source = "${CRATES}"
`;
const BANS = `[bans]\nmultiple-versions = "warn"\ndeny = [{ name = "${evil}", reason = "we replaced it" }]\n`;

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

const workspace = (id: string, deny?: string): WorkspaceEvent =>
  workspaceEvent({
    id,
    org: 'acme',
    lock: parseLockfile(LOCK, `${id}/Cargo.lock`),
    ...(deny !== undefined ? { deny: { file: `${id}/deny.toml`, text: deny } } : {}),
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${deny?.length ?? 0}` },
    observedAt: NOW,
  });

const sendWorkspaces = async (evs: WorkspaceEvent[]) => {
  await probe.send(
    'org.workspaces',
    evs.map((e) => ({ key: e.id, value: e })),
  );
  await probe.drained(['org.workspaces']);
  await probe.findingsSettled();
};
const of = (ws: string): FindingEvent[] => probe.findings.filter((f) => f.workspace.id === ws && f.kind === 'deny');

describe('cargo-deny findings in the scorer', () => {
  const ws = `acme/${run}-api`;

  it('a deny.toml banning a locked crate opens a deny finding with its check, crate-version and rule', async () => {
    await sendWorkspaces([workspace(ws, BANS)]);
    const [f, ...more] = of(ws);
    expect(more).toEqual([]);
    expect(f).toMatchObject({
      kind: 'deny',
      state: 'open',
      severity: 'high',
      score: 8,
      crate: evil,
      version: '1.2.3',
      deny: { check: 'bans', code: 'banned', rule: { file: `${ws}/deny.toml`, key: 'bans.deny[0]', line: 3 } },
    });
    expect(f!.deny!.message).toContain('we replaced it');
    expect(f!.why).toEqual([
      { signal: 'deny.bans.banned', contribution: 8, detail: `${f!.deny!.message} (${ws}/deny.toml:3 bans.deny[0])` },
    ]);
    const node = await probe.q<{ state: string; deny: string }>(
      `MATCH (f:Finding {workspace: $ws, kind: 'deny'})-[:ABOUT]->(:Version {id: $v}) RETURN f.state AS state, f.deny AS deny`,
      { ws, v: `${evil}@1.2.3` },
    );
    expect(node.map((n) => [n.state, JSON.parse(n.deny).code])).toEqual([['open', 'banned']]);
  });

  it('a replay of the workspace sends nothing', async () => {
    await sendWorkspaces([workspace(ws, BANS)]);
    expect(of(ws).map((f) => f.state)).toEqual(['open']);
  });

  it('a new event without the ban resolves it, repeating what it said', async () => {
    await sendWorkspaces([workspace(ws, '[bans]\nmultiple-versions = "warn"\n')]);
    const [opened, resolved, ...more] = of(ws);
    expect(more).toEqual([]);
    expect(resolved).toMatchObject({ id: opened!.id, state: 'resolved', deny: opened!.deny, why: opened!.why, severity: 'high' });
    const node = await probe.q<{ state: string }>(`MATCH (f:Finding {workspace: $ws, kind: 'deny'}) RETURN f.state AS state`, { ws });
    expect(node).toEqual([{ state: 'resolved' }]);
  });

  it('a workspace without a deny.toml opens no deny finding; a deny.toml that does not read goes to the DLQ', async () => {
    const plain = `acme/${run}-plain`;
    await sendWorkspaces([workspace(plain)]);
    expect(of(plain)).toEqual([]);
    const bad = `acme/${run}-bad`;
    const ev = { ...workspace(bad), deny: { config: { file: `${bad}/deny.toml`, text: '[bans]\nmultiple-versions = "sometimes"\n' } } };
    await sendWorkspaces([ev]);
    const dead = probe.dlq.filter((d) => d.key === bad);
    expect(dead).toHaveLength(1);
    expect(dead[0]!.error).toContain(`workspace ${bad}: ${bad}/deny.toml, line 2, field \`bans.multiple-versions\``);
    expect(of(bad)).toEqual([]);
  });
});
