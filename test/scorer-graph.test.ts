/**
 * The scorer keeps the graph of the fact topics other than advisories and workspaces: audits.pool
 * (pools, audits, criteria), maintainers.signals (owners, repositories) and crates.releases
 * (versions); the findings they raise are tested in scorer-coverage and scorer-maintainer. Real Kafka,
 * real Neo4j, the real scorer process; entries from a real cargo-vet pool in ../shared/data (the
 * pool part skips when absent). Names are unique to this run, and every count is of this file's own
 * nodes: the graph is shared with the other test files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAuditsFile, type AuditsFile, type MaintainerEvent, type PoolEvent, type ReleaseEvent } from '@cratewatch/shared';
import { crateEntries, criteriaEntries } from '../services/ingest/src/sources/pools.js';
import { scorerProbe, sharedData, startService, tempDir, unique, waitFor, type ScorerProbe, type Service } from './pipeline-harness.js';

const EMBARK = join(sharedData, 'audit-pools/embark.audits.toml');
const GOOGLE = join(sharedData, 'audit-pools/google.audits.toml');
const hasPools = existsSync(EMBARK) && existsSync(GOOGLE);

const run = unique('graph');
const prefix = `${run}.`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('graph-state'),
};
let scorer: Service;
let probe: ScorerProbe;
const now = '2026-01-02T03:04:05.000Z';

const q: ScorerProbe['q'] = (cypher, params) => probe.q(cypher, params);
const count = async (cypher: string, params: Record<string, unknown> = {}): Promise<number> =>
  Number((await q<{ n: number }>(cypher, params))[0]?.n ?? 0);
const send: ScorerProbe['send'] = (name, messages) => probe.send(name, messages);
const drained = (names: string[]) => probe.drained(names, 60_000);

/**
 * What this file writes, counted: the nodes of its pool (`pool-${run}`: Pool, Audit, Criteria), of
 * the given crates (Crate, Version), its maintainers, repositories and workspaces (names with
 * `run`), and every relationship at one of them. A replay must leave both numbers as they are.
 * Not the whole graph: other test files (and whatever else the servers were used for) share it.
 */
const MINE = `(n.pool = $pool OR (n:Pool AND n.name = $pool) OR (n:Crate AND n.name IN $crates) OR (n:Version AND n.crate IN $crates)
  OR ((n:Maintainer OR n:Repository OR n:Workspace) AND coalesce(n.login, n.url, n.id) CONTAINS $run))`;
const totals = async (crates: string[]) => {
  const params = { pool: `pool-${run}`, crates, run };
  const t = {
    nodes: await count(`MATCH (n) WHERE ${MINE} RETURN count(n) AS n`, params),
    rels: await count(`MATCH (n)-[r]-() WHERE ${MINE} RETURN count(DISTINCT r) AS n`, params),
  };
  expect(t.nodes * t.rels, 'the counted scope is empty').toBeGreaterThan(0);
  return t;
};

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({ prefix, scorerGroup: env.SCORER_GROUP, dlqTopics: ['audits.pool.dlq'] });
});

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

describe.skipIf(!hasPools)('audits.pool → Pool, Audit, Criteria (real embark and google pools)', () => {
  const pool = `pool-${run}`;
  const url = `https://example.test/${run}/audits.toml`;
  let embark: AuditsFile;
  let crates: string[] = [];
  const events = new Map<string, PoolEvent>();
  let criteriaEvent: PoolEvent;
  let before: { nodes: number; rels: number };

  const poolEvent = (crate: string, entries: PoolEvent['entries']): PoolEvent => ({ v: 1, pool, url, crate, entries, observedAt: now });
  const sendPool = (evs: PoolEvent[]) =>
    send(
      'audits.pool',
      evs.map((e) => ({ key: `${e.pool}/${e.crate}`, value: e })),
    );

  beforeAll(async () => {
    embark = parseAuditsFile(readFileSync(EMBARK, 'utf8'), 'embark.audits.toml');
    const audits = [...embark.audits];
    // A crate with a violation, one with full and delta audits, one with wildcard or trusted entries.
    const withViolation = audits.find(([, l]) => l.some((a) => a.violation))![0];
    const fullAndDelta = audits.find(
      ([c, l]) => c !== withViolation && l.some((a) => a.version) && l.some((a) => a.delta) && l.length >= 3,
    )![0];
    const wild = [...embark.wildcardAudits.keys(), ...embark.trusted.keys()].find((c) => c !== withViolation && c !== fullAndDelta)!;
    crates = [withViolation, fullAndDelta, wild];
    for (const c of crates) events.set(c, poolEvent(c, crateEntries(embark, c)));
    const google = parseAuditsFile(readFileSync(GOOGLE, 'utf8'), 'google.audits.toml');
    criteriaEvent = poolEvent('*criteria*', criteriaEntries(google));
    await sendPool([...events.values(), criteriaEvent]);
    await drained(['audits.pool']);
  });

  const entryCount = (e: PoolEvent) => Object.values(e.entries).reduce((n, l) => n + new Set(l.map((x) => JSON.stringify(x))).size, 0);

  it('writes every entry as an Audit published by the pool, certifying the versions it names', async () => {
    for (const c of crates) {
      const ev = events.get(c)!;
      expect(
        await count('MATCH (:Pool {name: $pool, url: $url})-[:PUBLISHED]->(a:Audit {pool: $pool, crate: $c}) RETURN count(a) AS n', {
          pool,
          url,
          c,
        }),
      ).toBe(entryCount(ev));
    }
    const rows = await q<{
      kind: string;
      version: string | null;
      deltaTo: string | null;
      certified: string[];
      criteria: string[];
      who: string[];
    }>(
      `MATCH (a:Audit {pool: $pool}) OPTIONAL MATCH (a)-[:CERTIFIES]->(v:Version)
       RETURN a.kind AS kind, a.version AS version, a.deltaTo AS deltaTo, a.criteria AS criteria, a.who AS who, collect(v.id) AS certified, a.crate AS crate`,
      { pool },
    );
    const kinds = new Set(rows.map((r) => r.kind));
    const expected = new Set(
      [...events.values()].flatMap((e) => [
        ...(e.entries.audits ?? []).map((a) => (a.version ? 'full' : a.delta ? 'delta' : 'violation')),
        ...(e.entries['wildcard-audits'] ?? []).map(() => 'wildcard'),
        ...(e.entries.trusted ?? []).map(() => 'trusted'),
      ]),
    );
    expect(kinds).toEqual(expected);
    expect(kinds).toContain('violation');
    expect(kinds).toContain('delta');
    for (const r of rows as ((typeof rows)[number] & { crate: string })[]) {
      expect(r.criteria.length).toBeGreaterThan(0);
      if (r.kind === 'full') expect(r.certified).toEqual([`${r.crate}@${r.version}`]);
      else if (r.kind === 'delta') expect(r.certified).toEqual([`${r.crate}@${r.deltaTo}`]);
      else expect(r.certified).toEqual([]);
    }
    // The certified Version nodes exist as crates.io versions of their crate, for workspaces to lock later.
    const full = rows.find((r) => r.kind === 'full')! as (typeof rows)[number] & { crate: string };
    expect(
      await count(
        'MATCH (:Crate {name: $c})-[:HAS_VERSION]->(v:Version {id: $id}) WHERE v.source STARTS WITH "registry+" RETURN count(v) AS n',
        { c: full.crate, id: `${full.crate}@${full.version}` },
      ),
    ).toBe(1);
  });

  it('writes the criteria and what each implies', async () => {
    const defs = criteriaEvent.entries.criteria!;
    const got = await q<{ name: string; implies: string[] }>(
      `MATCH (c:Criteria {pool: $pool, defined: true}) OPTIONAL MATCH (c)-[:IMPLIES]->(i:Criteria)
       RETURN c.name AS name, c.id AS id, collect(i.name) AS implies`,
      { pool },
    );
    expect(got.map((g) => g.name).sort()).toEqual(defs.map((d) => d.name as string).sort());
    for (const d of defs) {
      const g = got.find((x) => x.name === d.name)!;
      expect(new Set(g.implies)).toEqual(new Set((d.implies as string[] | undefined) ?? []));
    }
    expect(await count('MATCH (c:Criteria {pool: $pool}) WHERE c.id <> $pool + "/" + c.name RETURN count(c) AS n', { pool })).toBe(0);
  });

  it('a replay of the same events changes nothing', async () => {
    before = await totals(crates);
    const audits = await q<{ id: string }>('MATCH (a:Audit {pool: $pool}) RETURN a.id AS id ORDER BY id', { pool });
    await sendPool([...events.values(), criteriaEvent]);
    await drained(['audits.pool']);
    expect(await totals(crates)).toEqual(before);
    expect(await q('MATCH (a:Audit {pool: $pool}) RETURN a.id AS id ORDER BY id', { pool })).toEqual(audits);
  });

  it('an event with fewer entries deletes the dropped audit; an empty one deletes them all', async () => {
    const c = crates[1]!;
    const ev = events.get(c)!;
    const list = ev.entries.audits!;
    const dropped = list.find((a) => a.version)!;
    const fewer = poolEvent(c, { ...ev.entries, audits: list.filter((a) => a !== dropped) });
    const emptied = poolEvent(crates[0]!, { audits: [], 'wildcard-audits': [], trusted: [] });
    await sendPool([fewer, emptied]);
    await waitFor(
      'dropped audit deleted',
      async () => (await count('MATCH (a:Audit {pool: $pool, crate: $c}) RETURN count(a) AS n', { pool, c })) === entryCount(ev) - 1,
    );
    await drained(['audits.pool']);
    expect(
      await count('MATCH (a:Audit {pool: $pool, crate: $c, kind: "full", version: $v}) RETURN count(a) AS n', {
        pool,
        c,
        v: dropped.version,
      }),
    ).toBe(list.filter((a) => a !== dropped && a.version === dropped.version).length);
    expect(await count('MATCH (a:Audit {pool: $pool, crate: $c}) RETURN count(a) AS n', { pool, c: crates[0] })).toBe(0);
    // The other crate is untouched, and the pool's criteria too.
    expect(await count('MATCH (a:Audit {pool: $pool, crate: $c}) RETURN count(a) AS n', { pool, c: crates[2] })).toBe(
      entryCount(events.get(crates[2]!)!),
    );
    expect(await count('MATCH (c:Criteria {pool: $pool, defined: true}) RETURN count(c) AS n', { pool })).toBe(
      criteriaEvent.entries.criteria!.length,
    );
  });

  it('criteria no longer defined are deleted unless still implied', async () => {
    const defs = criteriaEvent.entries.criteria!;
    const kept = defs.filter((d) => ((d.implies as string[] | undefined) ?? []).length > 0).slice(0, 1);
    await sendPool([poolEvent('*criteria*', { criteria: kept })]);
    await drained(['audits.pool']);
    const implied = new Set(kept.flatMap((d) => (d.implies as string[]) ?? []));
    const names = (await q<{ name: string }>('MATCH (c:Criteria {pool: $pool}) RETURN c.name AS name', { pool })).map((r) => r.name).sort();
    expect(names).toEqual([...new Set([...kept.map((d) => d.name as string), ...implied])].sort());
    expect(await count('MATCH (:Criteria {pool: $pool})-[r:IMPLIES]->() RETURN count(r) AS n', { pool })).toBe(implied.size);
  });

  it('an invalid event goes to audits.pool.dlq with a reason, and the scorer goes on', async () => {
    const bad = poolEvent('bad-crate', { audits: [{ who: ['x'], version: '1.0.0' }] }); // no criteria
    const mismatched = poolEvent('some-crate', { audits: [] });
    const after = poolEvent('after-bad', { audits: [{ who: ['x'], criteria: ['safe-to-run'], version: '1.2.3' }] });
    await send('audits.pool', [
      { key: `${pool}/bad-crate`, value: bad },
      { key: `${pool}/another-crate`, value: mismatched },
      { key: `${pool}/not-json`, value: '{oops' },
    ]);
    await sendPool([after]);
    await waitFor('3 refusals in the DLQ', () => probe.dlq.length >= 3, 60_000);
    const dlq = probe.dlq;
    const reason = (key: string) => dlq.find((d) => d.key === key)?.error ?? '';
    expect(reason(`${pool}/bad-crate`)).toMatch(/entries\.audits\[0\]\.criteria: required/);
    expect(reason(`${pool}/another-crate`)).toMatch(/is not ".*\/some-crate"/);
    expect(reason(`${pool}/not-json`)).toMatch(/not JSON/);
    await waitFor(
      'the event after the bad ones',
      async () =>
        (await count(
          'MATCH (a:Audit {pool: $pool, crate: "after-bad"})-[:CERTIFIES]->(:Version {id: "after-bad@1.2.3"}) RETURN count(a) AS n',
          { pool },
        )) === 1,
    );
    expect(await count('MATCH (a:Audit {pool: $pool}) WHERE a.crate IN ["bad-crate", "some-crate"] RETURN count(a) AS n', { pool })).toBe(
      0,
    );
  });
});

describe('maintainers.signals → Maintainer, Repository', () => {
  const crate = `maint-${run}`;
  const repoA = `https://github.com/example/${run}-a`;
  const repoB = `https://github.com/example/${run}-b`;
  const ev = (owners: string[], repository: string | undefined): MaintainerEvent => ({
    v: 1,
    crate,
    owners: owners.map((login) => ({ login, kind: login.startsWith('github:') ? 'team' : 'user', observedAt: now })),
    ...(repository ? { repository } : {}),
    signals: {
      repository: { value: repository ? { url: repository, host: 'github.com' } : 'missing', observedAt: now },
      ownerCount: { value: owners.length, observedAt: now },
      ...(repository
        ? {
            archived: { value: false, observedAt: now },
            signedCommits: { value: { signed: 3, total: 50, ratio: 0.06 }, observedAt: now },
            pushedAt: { value: '2025-12-01T00:00:00Z', observedAt: now },
          }
        : {}),
    },
    observedAt: now,
  });
  const alice = `alice-${run}`;
  const bob = `bob-${run}`;
  const team = `github:example:${run}`;

  it('writes owners and the repository with its signals; a replay changes nothing', async () => {
    const first = ev([alice, bob, team], repoA);
    await send('maintainers.signals', [{ key: crate, value: first }]);
    await drained(['maintainers.signals']);
    const owners = await q<{ login: string; kind: string; since: string }>(
      'MATCH (m:Maintainer)-[o:OWNS]->(:Crate {name: $crate}) RETURN m.login AS login, m.kind AS kind, o.since AS since ORDER BY login',
      { crate },
    );
    expect(owners).toEqual(
      [
        { login: alice, kind: 'user', since: now },
        { login: bob, kind: 'user', since: now },
        { login: team, kind: 'team', since: now },
      ].sort((a, b) => a.login.localeCompare(b.login)),
    );
    const [repo] = await q<{ r: Record<string, unknown>; ownerCount: number }>(
      'MATCH (c:Crate {name: $crate})-[:HOSTED_AT]->(r:Repository) RETURN properties(r) AS r, c.ownerCount AS ownerCount',
      { crate },
    );
    expect(repo!.ownerCount).toBe(3);
    expect(repo!.r).toMatchObject({
      url: repoA,
      archived: false,
      archivedObservedAt: now,
      signedCommits_ratio: 0.06,
      signedCommits_total: 50,
      pushedAt: '2025-12-01T00:00:00Z',
      repository_host: 'github.com',
    });
    expect(JSON.parse(repo!.r.signedCommits as string)).toEqual({ signed: 3, total: 50, ratio: 0.06 });

    const before = await totals([crate]);
    await send('maintainers.signals', [{ key: crate, value: first }]);
    await drained(['maintainers.signals']);
    expect(await totals([crate])).toEqual(before);
  });

  it('a new event replaces the owner set and the repository; what is left with no crate goes', async () => {
    await send('maintainers.signals', [{ key: crate, value: ev([alice], repoB) }]);
    await drained(['maintainers.signals']);
    expect(
      (await q<{ login: string }>('MATCH (m:Maintainer)-[:OWNS]->(:Crate {name: $crate}) RETURN m.login AS login', { crate })).map(
        (r) => r.login,
      ),
    ).toEqual([alice]);
    expect(await count('MATCH (m:Maintainer) WHERE m.login IN $gone RETURN count(m) AS n', { gone: [bob, team] })).toBe(0);
    expect(
      (await q<{ url: string }>('MATCH (:Crate {name: $crate})-[:HOSTED_AT]->(r:Repository) RETURN r.url AS url', { crate })).map(
        (r) => r.url,
      ),
    ).toEqual([repoB]);
    expect(await count('MATCH (r:Repository {url: $repoA}) RETURN count(r) AS n', { repoA })).toBe(0);
    // No repository any more: no HOSTED_AT, and the crate-level signals follow the event.
    await send('maintainers.signals', [{ key: crate, value: ev([alice], undefined) }]);
    await drained(['maintainers.signals']);
    expect(await count('MATCH (:Crate {name: $crate})-[r:HOSTED_AT]->() RETURN count(r) AS n', { crate })).toBe(0);
    expect(await count('MATCH (c:Crate {name: $crate}) RETURN c.ownerCount AS n', { crate })).toBe(1);
  });

  it('refuses an event whose key is not its crate (DLQ), and goes on', async () => {
    await send('maintainers.signals', [
      { key: `other-${run}`, value: ev([bob], repoA) },
      { key: crate, value: ev([alice, bob], repoB) },
    ]);
    await drained(['maintainers.signals']);
    expect(await count('MATCH (m:Maintainer)-[:OWNS]->(:Crate {name: $crate}) RETURN count(m) AS n', { crate })).toBe(2);
    expect(await count('MATCH (c:Crate {name: $other}) RETURN count(c) AS n', { other: `other-${run}` })).toBe(0);
  });
});

describe('crates.releases → Version', () => {
  const crate = `rel-${run}`;
  const release = (version: string, yanked: boolean, extra: Partial<ReleaseEvent> = {}): ReleaseEvent => ({
    v: 1,
    crate,
    version,
    checksum: `${'ab'.repeat(31)}${version.replace(/\D/g, '').padStart(2, '0').slice(0, 2)}`,
    yanked,
    features: {},
    dependencies: [{ name: 'serde', req: '^1', kind: 'normal', optional: false }],
    publishedAt: '2025-06-01T00:00:00Z',
    publisher: 'someone',
    observedAt: now,
    ...extra,
  });

  it('writes versions (yank flips apply in order); a replay changes nothing; LOCKS are untouched', async () => {
    const evs = [release('1.0.0', false), release('1.1.0', false), release('1.2.0', false), release('1.1.0', true)];
    await send(
      'crates.releases',
      evs.map((e) => ({ key: crate, value: e })),
    );
    await drained(['crates.releases']);
    const rows = await q<{ id: string; version: string; yanked: boolean; publishedAt: string; checksum: string; source: string }>(
      `MATCH (:Crate {name: $crate})-[:HAS_VERSION]->(v:Version)
       RETURN v.id AS id, v.version AS version, v.yanked AS yanked, v.publishedAt AS publishedAt, v.checksum AS checksum, v.source AS source ORDER BY id`,
      { crate },
    );
    expect(rows.map((r) => [r.id, r.yanked])).toEqual([
      [`${crate}@1.0.0`, false],
      [`${crate}@1.1.0`, true],
      [`${crate}@1.2.0`, false],
    ]);
    expect(rows[0]).toMatchObject({
      publishedAt: '2025-06-01T00:00:00Z',
      checksum: evs[0]!.checksum,
      source: 'registry+https://github.com/rust-lang/crates.io-index',
    });

    // A version a workspace locks keeps its LOCKS when its release (or yank) arrives.
    await q(`MERGE (w:Workspace {id: $ws}) WITH w MATCH (v:Version {id: $v}) MERGE (w)-[:LOCKS {firstParty: false}]->(v)`, {
      ws: `ws-${run}`,
      v: `${crate}@1.2.0`,
    });
    const before = await totals([crate]);
    await send(
      'crates.releases',
      evs.map((e) => ({ key: crate, value: e })),
    );
    await send('crates.releases', [{ key: crate, value: release('1.2.0', true) }]);
    await drained(['crates.releases']);
    expect(await totals([crate])).toEqual(before);
    expect(
      await count('MATCH (:Workspace {id: $ws})-[:LOCKS]->(v:Version {id: $v, yanked: true}) RETURN count(v) AS n', {
        ws: `ws-${run}`,
        v: `${crate}@1.2.0`,
      }),
    ).toBe(1);
  });

  it('refuses a release whose key is not its crate or that fails validation, and goes on', async () => {
    await send('crates.releases', [
      { key: `x-${run}`, value: release('2.0.0', false) },
      { key: crate, value: { ...release('2.1.0', false), yanked: 'no' } },
      { key: crate, value: release('2.2.0', false) },
    ]);
    await drained(['crates.releases']);
    const versions = (
      await q<{ v: string }>('MATCH (:Crate {name: $crate})-[:HAS_VERSION]->(v:Version) RETURN v.version AS v', { crate })
    ).map((r) => r.v);
    expect(versions).toContain('2.2.0');
    expect(versions).not.toContain('2.0.0');
    expect(versions).not.toContain('2.1.0');
  });
});
