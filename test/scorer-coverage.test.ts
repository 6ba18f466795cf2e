/**
 * Audit coverage in the scorer, end to end: the real scorer process on real Kafka and Neo4j, with a
 * trusted pool (SCORER_TRUSTED_POOLS). A workspace event with its cargo-vet store gets its verdicts
 * on LOCKS and unvetted findings; a trusted pool's audit resolves one, its withdrawal reopens it;
 * replays change nothing; a bad store goes to the DLQ. On real data (libprio-rs and its store) the
 * scorer's verdicts are exactly `cratewatch scan`'s. Names are unique to this run (other test files
 * clear the graph; crate names here are prefixed so no other workspace shares them).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseLockfile, workspaceEvent, type PoolEvent, type WorkspaceEvent } from '@cratewatch/shared';
import {
  repoRoot,
  scorerProbe,
  sharedData,
  startService,
  tempDir,
  unique,
  waitFor,
  type ScorerProbe,
  type Service,
} from './pipeline-harness.js';

const run = unique('cov');
const prefix = `${run}.`;
const pool = `${run}-pool`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  SCORER_TRUSTED_POOLS: `${pool},${run}-unused`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('cov-state'),
};
const now = '2026-01-02T03:04:05.000Z';
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const c = (name: string) => `${run.replace(/-/g, '')}-${name}`; // crate names no other workspace locks

let scorer: Service;
let probe: ScorerProbe;
const q: ScorerProbe['q'] = (cypher, params) => probe.q(cypher, params);
const send: ScorerProbe['send'] = (name, messages) => probe.send(name, messages);
const drained = (names: string[]) => probe.drained(names);
const findingsSettled = () => probe.findingsSettled();
const findings = () => probe.findings;
const dlq = () => probe.dlq;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP, dlqTopics: ['org.workspaces.dlq'] });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

describe('a workspace with its store, and a trusted pool', () => {
  const wsId = `acme/${run}`;
  const [app, foo, bar, baz] = [c('app'), c('foo'), c('bar'), c('baz')];
  const id = (n: string, v: string) => `${n}@${v}`;
  const store = {
    config: '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n',
    audits: `\n# cargo-vet audits file\n\n[[audits.${foo}]]\nwho = "A <a@example.com>"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n`,
  };
  // app → foo (normal), bar (build); foo → baz. bar runs at build time and is direct: 6.5 ≥ 5, a
  // finding; baz has one dependent and is not direct: 3, none; foo is audited by the store.
  const ws: WorkspaceEvent = {
    v: 1,
    id: wsId,
    org: 'acme',
    team: 'payments',
    packages: [
      { id: id(app, '0.1.0'), name: app, version: '0.1.0' },
      { id: id(foo, '1.0.0'), name: foo, version: '1.0.0', source: CRATES },
      { id: id(bar, '2.0.0'), name: bar, version: '2.0.0', source: CRATES },
      { id: id(baz, '0.3.0'), name: baz, version: '0.3.0', source: CRATES },
    ],
    edges: [
      { from: id(app, '0.1.0'), to: id(foo, '1.0.0'), kind: 'normal' },
      { from: id(app, '0.1.0'), to: id(bar, '2.0.0'), kind: 'build' },
      { from: id(foo, '1.0.0'), to: id(baz, '0.3.0'), kind: 'normal' },
    ],
    members: [id(app, '0.1.0')],
    store,
    origin: { path: 'app/Cargo.lock', checksum: 'sha256:1' },
    observedAt: now,
  };
  const poolEvent = (entries: PoolEvent['entries']): PoolEvent => ({
    v: 1,
    pool,
    url: `https://example.test/${run}/audits.toml`,
    crate: bar,
    entries,
    observedAt: now,
  });
  const locks = async () =>
    Object.fromEntries(
      (
        await q<{ crate: string; vetted: string; via: string[] }>(
          'MATCH (:Workspace {id: $wsId})-[l:LOCKS]->(v:Version) RETURN v.crate AS crate, l.vetted AS vetted, l.via AS via',
          { wsId },
        )
      ).map((r) => [r.crate, r]),
    );
  const mine = () => findings().filter((f) => f.workspace.id === wsId && f.kind === 'unvetted');

  it('writes each locked version verdict and raises one unvetted finding, for the high-impact version only', async () => {
    await send('org.workspaces', [{ key: wsId, value: ws }]);
    await drained(['org.workspaces']);
    await findingsSettled();
    const l = await locks();
    expect(Object.fromEntries(Object.entries(l).map(([k, v]) => [k, v.vetted]))).toEqual({
      [app]: 'first-party',
      [foo]: 'vetted',
      [bar]: 'unvetted',
      [baz]: 'unvetted',
    });
    expect(l[foo]!.via).toEqual([`local audits.${foo}[0]`]);
    const [w] = await q(
      'MATCH (w:Workspace {id: $wsId}) RETURN w.vetThirdParty AS third, w.vetVetted AS vetted, w.vetUnvetted AS unvetted, w.vetConclusion AS conclusion, w.vetTrustedPools AS pools',
      { wsId },
    );
    expect(w).toEqual({ third: 3, vetted: 1, unvetted: 2, conclusion: 'fail (vet)', pools: [pool, `${run}-unused`] });
    expect(mine().map((f) => [f.crate, f.state, f.severity, f.score])).toEqual([[bar, 'open', 'medium', 6.5]]);
    expect(mine()[0]!.vet).toMatchObject({
      status: 'unvetted',
      needs: ['safe-to-deploy'],
      suggestion: { command: `cargo vet certify ${bar} 2.0.0 --criteria safe-to-deploy`, kind: 'full' },
    });
    const [node] = await q('MATCH (f:Finding {id: $id})-[:ABOUT]->(v:Version) RETURN f.state AS state, v.id AS v', {
      id: `${wsId}|${bar}|2.0.0|unvetted`,
    });
    expect(node).toEqual({ state: 'open', v: id(bar, '2.0.0') });
  });

  it('a replayed workspace event changes nothing and sends nothing', async () => {
    await send('org.workspaces', [{ key: wsId, value: ws }]);
    await drained(['org.workspaces']);
    await findingsSettled();
    expect(mine()).toHaveLength(1);
  });

  it("the trusted pool's audit of bar resolves its finding; withdrawing it reopens the finding", async () => {
    await send('audits.pool', [
      { key: `${pool}/${bar}`, value: poolEvent({ audits: [{ who: 'Pool Auditor', criteria: 'safe-to-deploy', version: '2.0.0' }] }) },
    ]);
    await drained(['audits.pool']);
    await findingsSettled();
    await waitFor('bar resolved', () => mine().length === 2);
    expect(mine().map((f) => [f.crate, f.state])).toEqual([
      [bar, 'open'],
      [bar, 'resolved'],
    ]);
    const l = await locks();
    expect(l[bar]).toMatchObject({ vetted: 'vetted', via: [`pool ${pool} audits.${bar}[0]`] });

    await send('audits.pool', [{ key: `${pool}/${bar}`, value: poolEvent({}) }]);
    await drained(['audits.pool']);
    await findingsSettled();
    await waitFor('bar reopened', () => mine().length === 3);
    expect(mine()[2]).toMatchObject({ crate: bar, state: 'open' });
    expect((await locks())[bar]!.vetted).toBe('unvetted');
  });

  it('an audit the store adds (a new workspace event) resolves the finding; the same event again sends nothing', async () => {
    const audited = {
      ...ws,
      store: {
        ...store,
        audits: `${store.audits}\n[[audits.${bar}]]\nwho = "A <a@example.com>"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\n`,
      },
    };
    await send('org.workspaces', [
      { key: wsId, value: audited },
      { key: wsId, value: audited },
    ]);
    await drained(['org.workspaces']);
    await findingsSettled();
    expect(mine().map((f) => f.state)).toEqual(['open', 'resolved', 'open', 'resolved']);
    expect(mine()[3]!.vet?.suggestion?.command).toBe(`cargo vet certify ${bar} 2.0.0 --criteria safe-to-deploy`); // what it said when open
  });

  it('a store cargo-vet could not read goes to org.workspaces.dlq naming the file, and the scorer goes on', async () => {
    const badId = `acme/${run}-bad`;
    await send('org.workspaces', [
      {
        key: badId,
        value: { ...ws, id: badId, store: { ...store, config: '[cargo-vet]\nversion = "0.10"\n\n[policy.x]\ncriteria = 3\n' } },
      },
    ]);
    await send('org.workspaces', [{ key: `${wsId}-after`, value: { ...ws, id: `${wsId}-after` } }]);
    await drained(['org.workspaces']);
    await waitFor('the refusal in the DLQ', () => dlq().some((d) => d.key === badId), 30_000);
    expect(dlq().find((d) => d.key === badId)!.error).toMatch(
      new RegExp(`workspace ${badId}: .*${badId}/supply-chain/config\\.toml.*policy\\.x`),
    );
    expect(await q('MATCH (w:Workspace {id: $id}) RETURN w.id AS id', { id: badId })).toEqual([]);
    expect((await q('MATCH (w:Workspace {id: $id}) RETURN w.vetUnvetted AS n', { id: `${wsId}-after` }))[0]).toEqual({ n: 2 });
  });
});

const LIBPRIO = join(sharedData, 'projects/libprio-rs');
describe.skipIf(!existsSync(LIBPRIO))('real data: libprio-rs with its own store (needs ../shared/data)', () => {
  it("the scorer's verdict for every locked package is the one `cratewatch scan` gives", async () => {
    const wsId = `real/${run}/libprio-rs`;
    const r = (f: string) => readFileSync(join(LIBPRIO, f), 'utf8');
    const ev = workspaceEvent({
      id: wsId,
      org: 'real',
      lock: parseLockfile(r('Cargo.lock')),
      store: { config: r('supply-chain/config.toml'), audits: r('supply-chain/audits.toml'), importsLock: r('supply-chain/imports.lock') },
      origin: { path: 'libprio-rs/Cargo.lock', checksum: 'sha256:x' },
      observedAt: now,
    });
    await send('org.workspaces', [{ key: wsId, value: ev }]);
    await drained(['org.workspaces']);
    await findingsSettled();
    const cli = spawnSync(process.execPath, [join(repoRoot, 'cli/dist/main.js'), 'scan', LIBPRIO, '--json'], { encoding: 'utf8' });
    expect(cli.status).toBe(1); // documented: 1 = something is not vetted
    const scan = JSON.parse(cli.stdout) as {
      summary: Record<string, number>;
      conclusion: string;
      unvetted: { id: string }[];
    };
    const rows = await q<{ id: string; vetted: string }>(
      'MATCH (:Workspace {id: $wsId})-[l:LOCKS]->(v:Version) RETURN v.id AS id, l.vetted AS vetted',
      { wsId },
    );
    const by = (s: string[]) => rows.filter((x) => s.includes(x.vetted)).length;
    expect(rows).toHaveLength(scan.summary.thirdParty! + scan.summary.firstParty!);
    expect({
      vetted: by(['vetted', 'not-required']),
      exempted: by(['exempted']),
      unvetted: by(['unvetted']),
      firstParty: by(['first-party']),
    }).toEqual({
      vetted: scan.summary.vetted,
      exempted: scan.summary.exempted,
      unvetted: scan.summary.unvetted,
      firstParty: scan.summary.firstParty,
    });
    expect(
      rows
        .filter((x) => x.vetted === 'unvetted')
        .map((x) => x.id)
        .sort(),
    ).toEqual(scan.unvetted.map((u) => u.id).sort());
    const [w] = await q('MATCH (w:Workspace {id: $wsId}) RETURN w.vetConclusion AS conclusion, w.vetKindDependent AS kd', { wsId });
    expect(w).toEqual({ conclusion: scan.conclusion, kd: scan.summary.kindDependent });
    // Findings: unvetted versions from the minimum score up, each naming a fix.
    const mine = findings().filter((f) => f.workspace.id === wsId && f.kind === 'unvetted');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.length).toBeLessThanOrEqual(scan.summary.unvetted!);
    for (const f of mine) {
      expect(f.score, JSON.stringify(f)).toBeGreaterThanOrEqual(5);
      expect(f.vet?.suggestion?.command).toMatch(new RegExp(`^cargo vet certify ${f.crate} `));
    }
    console.log(`libprio-rs in the scorer: ${rows.length} locked, ${by(['unvetted'])} unvetted, ${mine.length} findings from score 5 up`);
  });
});
