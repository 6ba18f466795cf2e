/**
 * Incremental resolution (issue 9): after a change to one crate's audits — in a trusted pool or in a
 * workspace's own store — `resolveVetAgain` from the previous report, with the pools holding only
 * that crate's entries (what the scorer reads from the graph), gives exactly the report a full
 * `resolveVet` gives. 500 random changes from the real pools and stores in ../shared/data, applied
 * one after another (each report the start of the next: drift would show), checked on every real
 * workspace with a store after each change.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  parseAuditsFile,
  parseConfigFile,
  parseImportsLock,
  graphFromLockfile,
  parseLockfile,
  resolveVet,
  resolveVetAgain,
  type AuditEntry,
  type AuditsFile,
  type DepGraph,
  type VetReport,
  type VetStore,
} from '../../src/index.js';
import { dataDir, hasData, POOLS, PROJECTS } from './data.js';

const TODAY = '2026-12-01';
const CHANGES = Number(process.env.INCREMENTAL_CHANGES ?? 500);

interface Project {
  name: string;
  /** One graph object per workspace, as the scorer keeps it: resolveVetAgain then reuses the requirements. */
  graph: DepGraph;
  store: VetStore;
}

function loadProject(p: string): Project {
  const r = (f: string) => readFileSync(path.join(dataDir, 'projects', p, f), 'utf8');
  const store: VetStore = {
    config: parseConfigFile(r('supply-chain/config.toml')),
    audits: parseAuditsFile(r('supply-chain/audits.toml')),
    imports: parseImportsLock(r('supply-chain/imports.lock')),
  };
  return { name: p, graph: graphFromLockfile(parseLockfile(r('Cargo.lock'))), store };
}

/** A change to one crate's entries in one audits file: a pool's, or a project's own store. */
interface Change {
  target: { pool: string } | { project: number };
  crate: string;
  op: 'drop-all' | 'drop-one' | 'full' | 'delta' | 'violation' | 'wildcard';
  version: string;
  from: string;
  criteria: string;
  index: number;
}

const entriesOf = (f: AuditsFile, crate: string) => f.audits.get(crate) ?? [];

/** The audits file with the change made (a copy: the maps of the others are shared, never mutated). */
function changed(f: AuditsFile, c: Change): AuditsFile {
  const audits = new Map(f.audits);
  const wildcardAudits = new Map(f.wildcardAudits);
  const trusted = new Map(f.trusted);
  const list = entriesOf(f, c.crate);
  const entry = (o: Partial<AuditEntry>): AuditEntry => ({
    who: ['Fuzz <fuzz@example.test>'],
    criteria: [c.criteria],
    aggregatedFrom: [],
    ...o,
  });
  if (c.op === 'drop-all') {
    audits.delete(c.crate);
    wildcardAudits.delete(c.crate);
    trusted.delete(c.crate);
  } else if (c.op === 'drop-one') {
    if (list.length)
      audits.set(
        c.crate,
        list.filter((_, i) => i !== c.index % list.length),
      );
  } else if (c.op === 'full') audits.set(c.crate, [...list, entry({ version: c.version })]);
  else if (c.op === 'delta') audits.set(c.crate, [...list, entry({ delta: { from: c.from, to: c.version } })]);
  else if (c.op === 'violation') audits.set(c.crate, [...list, entry({ violation: `=${c.version}` })]);
  else
    wildcardAudits.set(c.crate, [
      ...(f.wildcardAudits.get(c.crate) ?? []),
      { who: ['Fuzz'], criteria: [c.criteria], userId: 1 + (c.index % 5000), start: '2019-01-01', end: '2027-01-01', aggregatedFrom: [] },
    ]);
  return { ...f, audits, wildcardAudits, trusted };
}

/** The pools as the scorer reads them for a change to `crate`: its entries only, every criteria definition. */
function onlyCrate(pools: Map<string, AuditsFile>, crate: string): Map<string, AuditsFile> {
  const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([k]) => k === crate));
  return new Map(
    [...pools].map(([n, f]) => [n, { ...f, audits: keep(f.audits), wildcardAudits: keep(f.wildcardAudits), trusted: keep(f.trusted) }]),
  );
}

describe.skipIf(!hasData)('incremental resolution equals a full resolve (real pools and stores, ../shared/data)', () => {
  it(`${CHANGES} random changes to one crate's audits, in a pool or a store: the same report on every workspace after each`, async () => {
    const projects = PROJECTS.map(loadProject);
    const basePools = new Map<string, AuditsFile>(
      POOLS.map((n) => [n, parseAuditsFile(readFileSync(path.join(dataDir, 'audit-pools', `${n}.audits.toml`), 'utf8'), n)]),
    );
    const locked = new Map<string, string[]>();
    for (const p of projects)
      for (const n of p.graph.nodes.values()) if (n.source) locked.set(n.name, [...new Set([...(locked.get(n.name) ?? []), n.version])]);
    const crates = [...locked.keys()].sort();
    const criteria = ['safe-to-deploy', 'safe-to-run', 'safe-to-deploy', 'does-not-implement-crypto'];
    const change: fc.Arbitrary<Change> = fc.record({
      target: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom<string>(...POOLS).map((pool) => ({ pool })) },
        { weight: 1, arbitrary: fc.nat({ max: projects.length - 1 }).map((project) => ({ project })) },
      ),
      crate: fc.constantFrom(...crates),
      op: fc.constantFrom<Change['op']>('drop-all', 'drop-one', 'drop-one', 'full', 'full', 'delta', 'delta', 'violation', 'wildcard'),
      version: fc.nat({ max: 1000 }).map(String),
      from: fc.nat({ max: 1000 }).map(String),
      criteria: fc.constantFrom(...criteria),
      index: fc.nat(),
    });
    let compared = 0;
    let moved = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(change, { minLength: CHANGES, maxLength: CHANGES }), async (changes) => {
        let pools = basePools;
        const stores = projects.map((p) => p.store);
        const opts = (ps: Map<string, AuditsFile>) => ({ pools: ps, today: TODAY });
        let reports: VetReport[] = projects.map((p, i) => resolveVet({ graph: p.graph, store: stores[i]! }, opts(pools)));
        for (const raw of changes) {
          // versions the workspaces lock, mostly: a change then moves verdicts
          const vs = locked.get(raw.crate)!;
          const c = {
            ...raw,
            version: vs[Number(raw.version) % vs.length]!,
            from: Number(raw.from) % 3 === 0 ? `0.${raw.from}.0` : vs[Number(raw.from) % vs.length]!,
          };
          if ('pool' in c.target) pools = new Map(pools).set(c.target.pool, changed(pools.get(c.target.pool)!, c));
          else {
            const s = stores[c.target.project]!;
            stores[c.target.project] = { ...s, audits: changed(s.audits, c) };
          }
          // a pool's change leaves every store as it was: its checks stand (`sameStore`), as in the scorer
          const sameStore = 'pool' in c.target;
          await new Promise((r) => setImmediate(r)); // a long synchronous run starves the test runner's worker
          reports = projects.map((p, i) => {
            const input = { graph: p.graph, store: stores[i]! };
            const again = resolveVetAgain(reports[i]!, new Set([c.crate]), input, {
              ...opts(onlyCrate(pools, c.crate)),
              sameStore: sameStore || ('project' in c.target && c.target.project !== i),
            });
            const full = resolveVet(input, opts(pools));
            expect(again, `${p.name} after ${JSON.stringify(c)}`).toEqual(full);
            compared++;
            if (full.packages.some((v, k) => v.status !== reports[i]!.packages[k]!.status)) moved++;
            return again;
          });
        }
      }),
      { numRuns: 1, seed: Number(process.env.INCREMENTAL_SEED ?? 20261203), endOnFailure: true },
    );
    console.log(`incremental: ${CHANGES} changes, ${compared} reports compared, ${moved} of them with a verdict moved`);
    expect(compared).toBe(CHANGES * projects.length);
    expect(moved).toBeGreaterThan(CHANGES / 20); // the changes did move verdicts
  }, 600_000);
});
