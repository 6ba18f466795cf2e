/**
 * Pools before adoption, for the org (issue 11, part 4): per workspace and for the org, the locked
 * third-party versions cargo-vet would call vetted from the workspace's own store, from the pools
 * alone, and from both; and the marginal gain of each pool — "importing X would vet N more
 * versions across M workspaces": the store with X trusted beside it, against the store alone.
 *
 * Every figure is `resolveVet`'s verdict (cargo-vet's rules, the workspace's own policy), so the
 * three agree with what a scan says. "Pools alone" keeps the store's policy and criteria
 * definitions but none of its audits, exemptions or imports: what adopting only the pools gives.
 * A workspace without a store has cargo-vet's default policy and nothing of its own.
 */
import type { AuditsFile, ConfigFile } from './format.js';
import type { DepGraph } from './graph.js';
import { CARGO_VET_REGISTRY, registryNameOf } from './registry.js';
import { resolveVet, type VetStore } from './resolver.js';

export interface PoolWorkspace {
  id: string;
  graph: DepGraph;
  store?: VetStore;
}

export interface PoolFigures {
  thirdParty: number;
  own: number;
  poolsAlone: number;
  both: number;
}

export interface PoolGain {
  pool: string;
  /** Its name in cargo-vet's registry, when it is one of those pools. */
  registry?: string;
  /** Workspace-versions it would vet beyond each store alone, summed over the org. */
  vets: number;
  /** The workspaces where it would vet at least one more version. */
  workspaces: string[];
  /** The workspaces whose store imports it already (by name or the registry's URL). */
  importedBy: string[];
}

export interface PoolReport {
  perWorkspace: (PoolFigures & { id: string; gains: Record<string, number> })[];
  org: PoolFigures;
  /** Best first. */
  pools: PoolGain[];
  /** Registry pools not given (no local file): their gain is not known. */
  notGiven: string[];
  summary: string[];
}

const opts = { checkStore: false, reportKindAssumption: false } as const;

/** The store with its policy and criteria only: what a workspace adopting the pools alone starts from. */
function policyOnly(store: VetStore | undefined): VetStore | undefined {
  if (!store) return undefined;
  const config: ConfigFile = { ...store.config, imports: new Map(), exemptions: new Map() };
  const audits: AuditsFile = { ...store.audits, audits: new Map(), wildcardAudits: new Map(), trusted: new Map() };
  return { config, audits };
}

function imports(store: VetStore | undefined, pool: string): boolean {
  const reg = registryNameOf(pool);
  const url = reg ? CARGO_VET_REGISTRY[reg] : undefined;
  return [...(store?.config.imports ?? [])].some(
    ([name, i]) => name === pool || name === reg || (url !== undefined && i.url.includes(url)),
  );
}

function figures(w: PoolWorkspace, pools: Map<string, AuditsFile>) {
  const vetted = (store: VetStore | undefined, p?: Map<string, AuditsFile>) =>
    resolveVet({ graph: w.graph, store }, { ...opts, ...(p ? { pools: p } : {}) }).summary;
  const own = vetted(w.store);
  const gains: Record<string, number> = {};
  for (const [name, a] of pools) gains[name] = vetted(w.store, new Map([[name, a]])).vetted - own.vetted;
  return {
    id: w.id,
    thirdParty: own.thirdParty,
    own: own.vetted,
    poolsAlone: vetted(policyOnly(w.store), pools).vetted,
    both: vetted(w.store, pools).vetted,
    gains,
  };
}

export function poolReport(workspaces: PoolWorkspace[], pools: Map<string, AuditsFile>): PoolReport {
  const perWorkspace = workspaces.map((w) => figures(w, pools));
  const sum = (k: keyof PoolFigures) => perWorkspace.reduce((n, w) => n + w[k], 0);
  const org: PoolFigures = { thirdParty: sum('thirdParty'), own: sum('own'), poolsAlone: sum('poolsAlone'), both: sum('both') };
  const gains: PoolGain[] = [...pools.keys()].map((pool) => {
    const registry = registryNameOf(pool);
    return {
      pool,
      ...(registry ? { registry } : {}),
      vets: perWorkspace.reduce((n, w) => n + w.gains[pool]!, 0),
      workspaces: perWorkspace.filter((w) => w.gains[pool]! > 0).map((w) => w.id),
      importedBy: workspaces.filter((w) => imports(w.store, pool)).map((w) => w.id),
    };
  });
  gains.sort((a, b) => b.vets - a.vets || (a.pool < b.pool ? -1 : 1));
  const given = new Set(gains.map((g) => g.registry).filter(Boolean));
  const notGiven = Object.keys(CARGO_VET_REGISTRY).filter((k) => !given.has(k));
  return { perWorkspace, org, pools: gains, notGiven, summary: summaryOf(org, gains, notGiven) };
}

const pct = (x: number, of: number) => `${of ? (Math.floor((x / of) * 1000) / 10).toFixed(1) : '100.0'}%`;
const n = (x: number) => x.toLocaleString('en-US');

function summaryOf(org: PoolFigures, gains: PoolGain[], notGiven: string[]): string[] {
  const out = [
    `org: ${n(org.thirdParty)} locked third-party workspace-versions; own stores vet ${pct(org.own, org.thirdParty)}, the pools alone ${pct(org.poolsAlone, org.thirdParty)}, both ${pct(org.both, org.thirdParty)}`,
  ];
  for (const g of gains) {
    const already = g.importedBy.length ? ` (imported already by ${g.importedBy.length})` : '';
    out.push(
      `importing ${g.pool} would vet ${n(g.vets)} more version${g.vets === 1 ? '' : 's'} across ${g.workspaces.length} workspace${g.workspaces.length === 1 ? '' : 's'}${already}`,
    );
  }
  if (notGiven.length) out.push(`not given (no local file), gain unknown: ${notGiven.join(', ')}`);
  return out;
}
