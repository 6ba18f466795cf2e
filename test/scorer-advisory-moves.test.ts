/**
 * An advisory whose new value names another crate (RustSec moved it, or a bad edit did): the
 * findings it opened on the old crate resolve, and the workspaces locking the new crate get theirs.
 * Found by test/fuzz-scorer.test.ts (CI, seed 955231996): the scorer recomputed only the workspaces
 * locking the advisory's NEW crate, so the old crate's finding stayed open, or not, depending on
 * whether the workspace's own event happened to arrive after the advisory's change.
 * The real scorer process on real Kafka and Neo4j; ids unique to this run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdvisoryEvent, FindingEvent, WorkspaceEvent } from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, testAdvisory, unique, type ScorerProbe, type Service } from './pipeline-harness.js';

const run = unique('advmove');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('advmove-state'),
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const NOW = '2026-03-01T00:00:00.000Z';
const stem = run.replace(/-/g, '');
const [oldCrate, newCrate] = [`${stem}-wasm`, `${stem}-wasm-core`];
const ADV = `RUSTSEC-2098-${1000 + Math.floor(Math.random() * 8000)}`;

function workspace(id: string, crate: string): WorkspaceEvent {
  const app = `${stem}-app`;
  return {
    v: 1,
    id,
    org: 'acme',
    packages: [
      { id: `${app}@0.1.0`, name: app, version: '0.1.0' },
      { id: `${crate}@1.0.0`, name: crate, version: '1.0.0', source: CRATES },
    ],
    edges: [{ from: `${app}@0.1.0`, to: `${crate}@1.0.0`, kind: 'normal' }],
    members: [`${app}@0.1.0`],
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${crate}` },
    observedAt: NOW,
  };
}

let scorer: Service;
let probe: ScorerProbe;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP, dlqTopics: ['rustsec.advisories.dlq'] });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

const send = async (topic: 'rustsec.advisories' | 'org.workspaces', msgs: { key: string; value: AdvisoryEvent | WorkspaceEvent }[]) => {
  await probe.send(topic, msgs);
  await probe.drained([topic]);
  await probe.findingsSettled();
};
const told = (ws: string): [string, FindingEvent['state']][] =>
  probe.findings.filter((f) => f.workspace.id === ws && f.kind === 'advisory').map((f) => [f.advisory!.id, f.state]);
const open = async () =>
  (
    await probe.q<{ ws: string }>(
      `MATCH (f:Finding {kind: 'advisory', advisory: $id, state: 'open'}) RETURN f.workspace AS ws ORDER BY ws`,
      { id: ADV },
    )
  ).map((r) => r.ws);

describe('an advisory moved to another crate', () => {
  const [wsOld, wsNew] = [`acme/${run}-old`, `acme/${run}-new`];

  it('opens on the workspace locking its crate', async () => {
    await send(
      'org.workspaces',
      [workspace(wsOld, oldCrate), workspace(wsNew, newCrate)].map((w) => ({ key: w.id, value: w })),
    );
    await send('rustsec.advisories', [{ key: ADV, value: testAdvisory(ADV, oldCrate, NOW) }]);
    expect(told(wsOld)).toEqual([[ADV, 'open']]);
    expect(told(wsNew)).toEqual([]);
  });

  it('then names another crate: the old finding resolves, the new crate’s workspace gets one, with no workspace event between', async () => {
    await send('rustsec.advisories', [{ key: ADV, value: testAdvisory(ADV, newCrate, NOW) }]);
    expect(told(wsOld)).toEqual([
      [ADV, 'open'],
      [ADV, 'resolved'],
    ]);
    expect(told(wsNew)).toEqual([[ADV, 'open']]);
    expect(await open()).toEqual([wsNew]);
    const edges = await probe.q<{ v: string }>(`MATCH (:Advisory {id: $id})-[:AFFECTS]->(v:Version) RETURN v.id AS v`, { id: ADV });
    expect(edges.map((e) => e.v)).toEqual([`${newCrate}@1.0.0`]);
  });

  it('a replay of the move changes nothing', async () => {
    const before = probe.findings.length;
    await send('rustsec.advisories', [{ key: ADV, value: testAdvisory(ADV, newCrate, NOW) }]);
    expect(probe.findings.length).toBe(before);
    expect(probe.dlq).toEqual([]);
  });
});
