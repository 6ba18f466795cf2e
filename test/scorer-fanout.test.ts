/**
 * Org scale (issue 9): an event that reaches many workspaces is applied in a number of Neo4j
 * transactions that does not grow with them. Counted, not timed: the scorer's own
 * `cratewatch_scorer_neo4j_transaction_seconds_count{mode="write"}` from its /metrics, before and
 * after one event, for an advisory (and a trusted pool's audit) reaching 1 workspace and reaching
 * 60. Before the change each workspace reached cost two write transactions of its own (120+ here).
 * And releases of a crate that leave its maintainer risk as it was reach no workspace at all.
 * The real scorer process on real Kafka and Neo4j; ids unique to this run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaintainerEvent, PoolEvent, ReleaseEvent, WorkspaceEvent } from '@cratewatch/shared';
import { scorerProbe, startService, tempDir, testAdvisory, unique, waitFor, type ScorerProbe, type Service } from './pipeline-harness.js';

const run = unique('fanout');
const prefix = `${run}.`;
const pool = `${run}-pool`;
const TOKEN = `t-${run}`;
const env = {
  CRATEWATCH_TOPIC_PREFIX: prefix,
  SCORER_GROUP: `${run}-scorer`,
  SCORER_TRUSTED_POOLS: pool,
  SCORER_COVERAGE_SETTLE_MS: '0',
  // one owner, an archived repository and unsigned commits score 4.5 (the maintainer case below)
  SCORER_MAINTAINER_MIN_SCORE: '4',
  CRATEWATCH_OPS_TOKEN: TOKEN,
  KAFKA_SESSION_TIMEOUT_MS: '8000',
  CRATEWATCH_STATE_DIR: tempDir('fanout-state'),
};
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const NOW = '2026-03-01T00:00:00.000Z';
const stem = run.replace(/-/g, '');
const [app, common, rare] = [`${stem}-app`, `${stem}-common`, `${stem}-rare`];
const MANY = 60;
const ids = Array.from({ length: MANY }, (_, i) => `acme/${run}-${String(i).padStart(2, '0')}`);

/** Workspace i locks `common` (a build dependency: an unvetted finding) and, for i = 0 only, `rare`. */
function workspace(id: string, i: number): WorkspaceEvent {
  const dep = (name: string) => ({ id: `${name}@1.0.0`, name, version: '1.0.0', source: CRATES });
  const deps = i === 0 ? [dep(common), dep(rare)] : [dep(common)];
  return {
    v: 1,
    id,
    org: 'acme',
    packages: [{ id: `${app}@0.1.0`, name: app, version: '0.1.0' }, ...deps],
    edges: deps.map((d) => ({ from: `${app}@0.1.0`, to: d.id, kind: 'build' as const })),
    members: [`${app}@0.1.0`],
    origin: { path: `${id}/Cargo.lock`, checksum: `sha256:${i}` },
    observedAt: NOW,
  };
}

let scorer: Service;
let probe: ScorerProbe;
let metricsUrl: string;

beforeAll(async () => {
  scorer = await startService('scorer', env);
  probe = await scorerProbe({
    prefix,
    scorerGroup: env.SCORER_GROUP,
    dlqTopics: ['rustsec.advisories.dlq', 'org.workspaces.dlq', 'audits.pool.dlq'],
  });
  const ops = /"ops":"(http:\/\/[^"]+)"/.exec(scorer.output())?.[1];
  if (!ops) throw new Error(`the scorer's ready line names no ops URL:\n${scorer.output()}`);
  metricsUrl = `${ops}/metrics`;
  await probe.send(
    'org.workspaces',
    ids.map((id, i) => ({ key: id, value: workspace(id, i) })),
  );
  await probe.drained(['org.workspaces']);
  await waitFor(
    'risk marks to clear',
    async () =>
      (await probe.q<{ n: number }>(`MATCH (w:Workspace) WHERE w.id IN $ids AND w.riskDue RETURN count(w) AS n`, { ids }))[0]!.n === 0,
  );
}, 180_000);

afterAll(async () => {
  await probe?.close();
  await scorer?.stop();
});

async function writeTransactions(): Promise<number> {
  const res = await fetch(metricsUrl, { headers: { authorization: `Bearer ${TOKEN}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`);
  return [...text.matchAll(/^cratewatch_scorer_neo4j_transaction_seconds_count\{([^}]*)\} (\d+)/gm)]
    .filter((m) => /mode="write"/.test(m[1]!))
    .reduce((n, m) => n + Number(m[2]), 0);
}

/** Write transactions the scorer ran for `step`, once everything it sent is read back and no mark is left. */
async function transactionsFor(step: () => Promise<void>): Promise<number> {
  const before = await writeTransactions();
  await step();
  await probe.findingsSettled();
  await waitFor(
    'coverage and risk marks to clear',
    async () =>
      (
        await probe.q<{ n: number }>(`MATCH (w:Workspace) WHERE w.id IN $ids AND (w.riskDue OR w.coverageDue) RETURN count(w) AS n`, {
          ids,
        })
      )[0]!.n === 0,
  );
  return (await writeTransactions()) - before;
}

const advisoryOn = async (crate: string, n: number) => {
  const id = `RUSTSEC-2098-${stem.slice(-4)}${n}`;
  await probe.send('rustsec.advisories', [{ key: id, value: testAdvisory(id, crate, NOW) }]);
  await probe.drained(['rustsec.advisories']);
  return id;
};
const opened = (advisory: string) =>
  probe.findings
    .filter((f) => f.advisory?.id === advisory && f.state === 'open')
    .map((f) => f.workspace.id)
    .sort();

describe('fan-out in a constant number of transactions', () => {
  it(`an advisory reaching ${MANY} workspaces costs as many write transactions as one reaching 1, and alerts all ${MANY}`, async () => {
    let one = '';
    let all = '';
    const forOne = await transactionsFor(async () => void (one = await advisoryOn(rare, 1)));
    const forMany = await transactionsFor(async () => void (all = await advisoryOn(common, 2)));
    expect(opened(one)).toEqual([ids[0]]);
    expect(opened(all)).toEqual(ids);
    expect(forMany).toBeLessThanOrEqual(forOne + 2);
    expect(forMany).toBeLessThan(10);
  });

  it(`a trusted pool's audit that vets a crate ${MANY} workspaces lock: every coverage moved, in a few transactions`, async () => {
    const audit: PoolEvent = {
      v: 1,
      pool,
      url: `https://example.test/${run}/audits.toml`,
      crate: common,
      entries: { audits: [{ who: 'Pool', criteria: 'safe-to-deploy', version: '1.0.0' }] },
      observedAt: NOW,
    };
    const unvetted = () => probe.findings.filter((f) => f.kind === 'unvetted' && f.crate === common);
    expect(
      unvetted()
        .filter((f) => f.state === 'open')
        .map((f) => f.workspace.id)
        .sort(),
    ).toEqual(ids);
    const count = await transactionsFor(async () => {
      await probe.send('audits.pool', [{ key: `${pool}/${common}`, value: audit }]);
      await probe.drained(['audits.pool']);
      await waitFor(
        'every unvetted finding on the crate resolved',
        () => unvetted().filter((f) => f.state === 'resolved').length === MANY,
        60_000,
      );
    });
    const vetted = await probe.q<{ n: number }>(
      `MATCH (w:Workspace)-[l:LOCKS]->(:Version {id: $v}) WHERE w.id IN $ids AND l.vetted = 'vetted' RETURN count(w) AS n`,
      { v: `${common}@1.0.0`, ids },
    );
    expect(vetted[0]!.n).toBe(MANY);
    // each workspace's kept resolution judged again for the one crate, not resolved whole
    const again = scorer
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"coverage applied"') && l.includes('"resolvedAgain":1') && l.includes(run));
    expect(again.length).toBeGreaterThanOrEqual(MANY);
    // the facts, then the coverage in chunks of 25 workspaces (each with its outbox), then risk
    expect(count).toBeLessThan(12);
    expect(probe.dlq).toEqual([]);
  });

  it(`releases that leave a crate's maintainer risk as it was reach none of the ${MANY} workspaces; a change that moves it reaches all`, async () => {
    const sig = (value: unknown) => ({ value, observedAt: NOW });
    const facts = (owners: string[]): MaintainerEvent => ({
      v: 1,
      crate: common,
      owners: owners.map((login) => ({ login, kind: 'user' as const, observedAt: NOW })),
      repository: `https://github.com/${run}/${common}`,
      signals: {
        repository: sig({ url: `https://github.com/${run}/${common}`, host: 'github.com' }),
        ownerCount: sig(owners.length),
        archived: sig(true),
        disabled: sig(false),
        pushedAt: sig(NOW),
        signedCommits: sig({ signed: 0, total: 20, ratio: 0 }),
      },
      observedAt: NOW,
    });
    const release = (version: string, day: number): ReleaseEvent => ({
      v: 1,
      crate: common,
      version,
      yanked: false,
      features: {},
      dependencies: [],
      publishedAt: `2026-02-${String(day).padStart(2, '0')}T00:00:00.000Z`,
      publisher: 'alice',
      observedAt: NOW,
    });
    const maintainerOpen = () =>
      probe.findings.filter((f) => f.kind === 'maintainer' && f.crate === common && f.state === 'open').map((f) => f.workspace.id);
    const sendFacts = async (topic: 'maintainers.signals' | 'crates.releases', messages: { key: string; value: unknown }[]) => {
      await probe.send(topic, messages);
      await probe.drained([topic]);
    };
    // one owner, an archived repository, no signed commits (4.5): a finding for every workspace
    await transactionsFor(() => sendFacts('crates.releases', [{ key: common, value: release('1.0.0', 1) }]));
    await transactionsFor(() => sendFacts('maintainers.signals', [{ key: common, value: facts(['alice']) }]));
    await waitFor(`a maintainer finding in all ${MANY} workspaces`, () => new Set(maintainerOpen()).size === MANY, 60_000);
    const sent = probe.findings.length;
    // new versions a day apart by the same publisher: the score stays, so only the facts are written
    const quiet = await transactionsFor(() =>
      sendFacts(
        'crates.releases',
        Array.from({ length: 20 }, (_, i) => ({ key: common, value: release(`1.0.${i + 1}`, i + 2) })),
      ),
    );
    expect(quiet).toBe(2); // the releases, then their AFFECTS edges (none here); a fan-out would be a third
    expect(probe.findings.length).toBe(sent);
    // a second owner lowers the score to 2.5, under the threshold: every workspace's finding resolves
    await transactionsFor(() => sendFacts('maintainers.signals', [{ key: common, value: facts(['alice', 'bob']) }]));
    await waitFor(
      `the ${MANY} maintainer findings resolved`,
      () =>
        maintainerOpen().length === 0 ||
        probe.findings.filter((f) => f.kind === 'maintainer' && f.crate === common && f.state === 'resolved').length === MANY,
      60_000,
    );
    expect(
      probe.findings
        .filter((f) => f.kind === 'maintainer' && f.crate === common && f.state === 'resolved')
        .map((f) => f.workspace.id)
        .sort(),
    ).toEqual(ids);
    expect(probe.dlq).toEqual([]);
  });
});
