/**
 * Issue 8 regression: a cargo-vet git audit (`version = "0.1.5@git:<commit>"`, the real mozilla pool
 * entry for `oneshot`) was written as a crates.io Version `oneshot@0.1.5@git:…`; the next advisory on
 * `oneshot` then threw from the SemVer parser and the scorer wedged on it. Now the audit keeps its
 * revision (`Audit.gitRev`) and certifies no Version, and advisories on the crate apply. Real Kafka,
 * real Neo4j, the real scorer process; the pool entries and the advisory are the real files in
 * ../shared/data, read by the code ingest uses (skipped when absent).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAdvisory, parseAuditsFile, parseLockfile, workspaceEvent, type AdvisoryEvent, type PoolEvent } from '@cratewatch/shared';
import { crateEntries } from '../services/ingest/src/sources/pools.js';
import {
  scorerProbe,
  sharedData,
  startService,
  tempDir,
  testAdvisory,
  unique,
  waitFor,
  type ScorerProbe,
  type Service,
} from './pipeline-harness.js';

const MOZILLA = join(sharedData, 'audit-pools/mozilla.audits.toml');
const ADVISORY = join(sharedData, 'rustsec/crates/oneshot/RUSTSEC-2026-0005.md');
const hasData = existsSync(MOZILLA) && existsSync(ADVISORY);
if (!hasData) console.warn(`scorer-git-audits: skipped, needs ${MOZILLA} and ${ADVISORY} (../shared/data)`);

const REV = '1f3c657c8073aec4f0b6ebac7be33b4851644745';
const run = unique('gitaudit');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('gitaudit-state'),
};
const now = '2026-02-01T00:00:00.000Z';
const pool = `mozilla-${run}`;

describe.skipIf(!hasData)('a git audit in a pool, then advisories on its crate (real mozilla pool, RUSTSEC-2026-0005)', () => {
  let scorer: Service;
  let probe: ScorerProbe;
  let poolEvent: PoolEvent;
  const count = async (cypher: string, params: Record<string, unknown> = {}) =>
    Number((await probe.q<{ n: number }>(cypher, params))[0]?.n ?? 0);
  const affected = async (id: string) =>
    (
      await probe.q<{ v: string }>('MATCH (:Advisory {id: $id})-[:AFFECTS]->(v:Version {crate: "oneshot"}) RETURN v.id AS v ORDER BY v', {
        id,
      })
    ).map((r) => r.v);
  const gitVersions = () => count('MATCH (v:Version) WHERE v.id CONTAINS "@git:" OR v.version CONTAINS "@git:" RETURN count(v) AS n');
  const sendPool = () => probe.send('audits.pool', [{ key: `${pool}/oneshot`, value: poolEvent }]);
  const sendAdvisories = (evs: AdvisoryEvent[]) =>
    probe.send(
      'rustsec.advisories',
      evs.map((e) => ({ key: e.advisory.id, value: e })),
    );
  const drained = () => probe.drained(['audits.pool', 'rustsec.advisories'], 60_000);

  beforeAll(async () => {
    const mozilla = parseAuditsFile(readFileSync(MOZILLA, 'utf8'), MOZILLA);
    poolEvent = {
      v: 1,
      pool,
      url: `https://example.test/${run}/audits.toml`,
      crate: 'oneshot',
      entries: crateEntries(mozilla, 'oneshot'),
      observedAt: now,
    };
    expect(poolEvent.entries.audits!.map((a) => a.version ?? a.delta)).toContain(`0.1.5@git:${REV}`); // the data this test is about
    scorer = await startService('scorer', env);
    probe = await scorerProbe({
      prefix,
      scorerGroup: env.SCORER_GROUP,
      dlqTopics: ['audits.pool.dlq', 'rustsec.advisories.dlq', 'org.workspaces.dlq'],
    });
    // Version ids are global (`oneshot@0.1.5`): a node an older scorer left in this Neo4j would
    // answer for this run, so the test starts from a graph without one.
    await probe.q('MATCH (v:Version {crate: "oneshot"}) WHERE v.id CONTAINS "@git:" DETACH DELETE v');
  });

  afterAll(async () => {
    await probe?.close();
    await scorer?.stop();
  });

  it('keeps the git audit on its Audit node (gitRev), certifying no Version; the other audits certify theirs', async () => {
    await sendPool();
    await drained();
    const audits = await probe.q<{ version: string | null; gitRev: string | null; certifies: string[] }>(
      'MATCH (a:Audit {pool: $pool, crate: "oneshot"}) OPTIONAL MATCH (a)-[:CERTIFIES]->(v:Version) RETURN a.version AS version, a.gitRev AS gitRev, collect(v.id) AS certifies',
      { pool },
    );
    expect(audits).toHaveLength(poolEvent.entries.audits!.length);
    expect(audits.find((a) => a.version === `0.1.5@git:${REV}`)).toEqual({ version: `0.1.5@git:${REV}`, gitRev: REV, certifies: [] });
    expect(audits.find((a) => a.version === '0.1.5')).toMatchObject({ gitRev: null, certifies: ['oneshot@0.1.5'] });
    expect(await gitVersions()).toBe(0);
  });

  it('then the real advisory on oneshot, then a valid one: both applied, neither wedges nor goes to a DLQ', async () => {
    const real = parseAdvisory(readFileSync(ADVISORY, 'utf8'), 'crates/oneshot/RUSTSEC-2026-0005.md');
    const rustsec: AdvisoryEvent = { v: 1, advisory: real, origin: { path: 'crates/oneshot/RUSTSEC-2026-0005.md' }, observedAt: now };
    await sendAdvisories([rustsec]);
    await drained();
    const next = testAdvisory(`RUSTSEC-2098-${run.slice(-5)}`, 'oneshot', now, { versions: { patched: ['>= 0.1.13'], unaffected: [] } });
    await sendAdvisories([next]);
    await drained();
    // patched >= 0.1.12, unaffected <= 0.1.1: of the audited releases 0.1.5 and 0.1.11 are affected, 0.1.13 is not.
    expect(await affected('RUSTSEC-2026-0005')).toEqual(['oneshot@0.1.11', 'oneshot@0.1.5']);
    expect(await affected(next.advisory.id)).toEqual(['oneshot@0.1.11', 'oneshot@0.1.5']);
    expect(await gitVersions()).toBe(0);
    expect(probe.dlq).toEqual([]);
  });

  it("a graph written by the old reading heals on the pool's replay; advisories meanwhile still apply", async () => {
    // What the scorer wrote before: the git audit certifying a crates.io-looking Version.
    await probe.q(
      `MATCH (a:Audit {pool: $pool, crate: 'oneshot', gitRev: $rev}), (c:Crate {name: 'oneshot'})
       MERGE (v:Version {id: $id}) SET v.crate = 'oneshot', v.version = $version, v.source = 'registry+https://github.com/rust-lang/crates.io-index'
       MERGE (c)-[:HAS_VERSION]->(v) MERGE (a)-[:CERTIFIES]->(v)`,
      { pool, rev: REV, id: `oneshot@0.1.5@git:${REV}`, version: `0.1.5@git:${REV}` },
    );
    expect(await gitVersions()).toBe(1);
    const edited = testAdvisory(`RUSTSEC-2098-${run.slice(-5)}`, 'oneshot', now, {
      title: 'edited',
      versions: { patched: ['>= 0.1.6'], unaffected: [] },
    });
    await sendAdvisories([edited]);
    await drained();
    expect(await count('MATCH (a:Advisory {id: $id, title: "edited"}) RETURN count(a) AS n', { id: edited.advisory.id })).toBe(1);
    expect(await affected(edited.advisory.id)).toEqual(['oneshot@0.1.5']); // the stale node is matched by nothing
    await sendPool();
    await drained();
    expect(await gitVersions()).toBe(0);
    expect(await count('MATCH (a:Audit {pool: $pool, gitRev: $rev})-[:CERTIFIES]->() RETURN count(a) AS n', { pool, rev: REV })).toBe(0);
    expect(
      await count('MATCH (a:Audit {pool: $pool, version: "0.1.5"})-[:CERTIFIES]->(:Version {id: "oneshot@0.1.5"}) RETURN count(a) AS n', {
        pool,
      }),
    ).toBe(1);
    expect(probe.dlq).toEqual([]);
  });

  it('a workspace event locking a version that is not SemVer is refused (DLQ); one locking oneshot 0.1.5 is exposed', async () => {
    const lock = parseLockfile(
      `version = 4\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["oneshot"]\n[[package]]\nname = "oneshot"\nversion = "0.1.5"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n`,
    );
    const good = workspaceEvent({ id: `ws-${run}`, org: 'acme', lock, origin: { path: 'Cargo.lock', checksum: 'c1' }, observedAt: now });
    const bad = {
      ...good,
      id: `bad-${run}`,
      packages: good.packages.map((p) => (p.name === 'oneshot' ? { ...p, version: `0.1.5@git:${REV}` } : p)),
    };
    const at = bad.packages.findIndex((p) => p.name === 'oneshot');
    await probe.send('org.workspaces', [
      { key: bad.id, value: bad },
      { key: good.id, value: good },
    ]);
    await probe.drained(['org.workspaces'], 60_000);
    await waitFor('the refusal in org.workspaces.dlq', () => probe.dlq.length >= 1, 30_000);
    expect(probe.dlq.map((d) => d.error)).toEqual([`workspace ${bad.id}: packages.${at}.version: "0.1.5@git:${REV}" is not SemVer`]);
    expect(await count('MATCH (w:Workspace {id: $id}) RETURN count(w) AS n', { id: bad.id })).toBe(0);
    expect(
      await count(
        'MATCH (:Workspace {id: $id})-[:LOCKS]->(:Version {id: "oneshot@0.1.5"})<-[:AFFECTS]-(:Advisory {id: "RUSTSEC-2026-0005"}) RETURN count(*) AS n',
        { id: good.id },
      ),
    ).toBe(1);
    expect(await gitVersions()).toBe(0);
  });
});
