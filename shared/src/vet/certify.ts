/**
 * Recording an audit as `cargo vet certify` (cargo-vet 0.10.3, main.rs `do_cmd_certify`) records
 * it, without its prompts and network: the entry is added to the store's audits.toml, then the
 * store is updated as `resolver::update_store` does for the certified crate (resolver.rs:2854-3245):
 * its exemptions are kept only for the criteria a path to a locked version still needs them for
 * (gone when none), its unused non-importable audits and unused `unpublished` records are dropped,
 * and every other exemption is rewritten with its minimal criteria. Pure: store in, store out; the
 * caller writes the files with the serializers (exactly what `cargo vet fmt` writes).
 *
 * Not done: collapsing a delta from a git version into a prior non-importable audit (certify's
 * default for `--wildcard`-less git deltas), fetching fresh imports (certify without `--locked`
 * refreshes imports.lock from the network), wildcard audits.
 */
import { parseVetVersion } from './check.js';
import { SAFE_TO_DEPLOY, SAFE_TO_RUN, type AuditEntry, type ExemptionEntry } from './format.js';
import type { DepGraph } from './graph.js';
import { compareStr, compareVetVersion } from './order.js';
import { auditRefKey, buildAuditGraph, isThirdParty, resolveVet, type AuditGraph, type AuditRef, type VetStore } from './resolver.js';

export interface CertifyRequest {
  crate: string;
  /** A delta's start; absent for a full audit. */
  from?: string;
  to: string;
  criteria: string[];
  who: string[];
  notes?: string;
  /** Certify a crate that is not a third-party package of the graph (cargo-vet's `--force`). */
  force?: boolean;
}

export interface CertifyResult {
  store: VetStore;
  audit: AuditEntry;
  /** Exemptions removed (the certified crate's that no path needs any more), and the certified crate's narrowed to the criteria still needed. */
  exemptions: { removed: { crate: string; exemption: ExemptionEntry }[]; narrowed: { before: ExemptionEntry; after: ExemptionEntry }[] };
}

/** A request cargo-vet would refuse: the message names the field. */
export class CertifyError extends Error {
  override name = 'CertifyError';
}

/** cargo-vet's criteria order (criteria.rs `CriteriaMapper::new`): the built-ins, then the store's by name. */
function criteriaNames(store: VetStore): string[] {
  return [SAFE_TO_RUN, SAFE_TO_DEPLOY, ...[...store.audits.criteria.keys()].sort(compareStr)];
}
/** `criteria_names(criteria_from_list(list))`: implied criteria left out, in cargo-vet's order. */
function minimalNames(g: AuditGraph, order: string[], set: Set<string>): string[] {
  return order.filter((c) => set.has(c) && ![...set].some((o) => o !== c && g.criteria.closure(o).has(c)));
}

function validate(store: VetStore, graph: DepGraph, req: CertifyRequest): void {
  if (!/^[A-Za-z0-9_-]+$/.test(req.crate)) throw new CertifyError(`crate: ${JSON.stringify(req.crate)} is not a crate name`);
  for (const [field, v] of [
    ['from', req.from],
    ['to', req.to],
  ] as const) {
    if (v !== undefined && !parseVetVersion(v))
      throw new CertifyError(`${field}: ${JSON.stringify(v)} is not a version (semver, or semver@git:<40 hex digits>)`);
  }
  if (req.from !== undefined && req.from === req.to) throw new CertifyError(`from: a delta from ${req.from} to itself certifies nothing`);
  if (req.criteria.length === 0) throw new CertifyError('criteria: at least one is required');
  const known = criteriaNames(store);
  for (const c of req.criteria) {
    if (!known.includes(c)) throw new CertifyError(`criteria: '${c}' is not a criteria of this store (known: ${known.join(', ')})`);
  }
  if (req.who.length === 0 || req.who.some((w) => w.trim() === ''))
    throw new CertifyError('who: the auditor is required (e.g. "Name <email>")');
  const third = [...graph.nodes.values()].some((n) => n.name === req.crate && isThirdParty(n, store.config));
  if (!third && !req.force)
    throw new CertifyError(`crate: '${req.crate}' is not a third-party package of this workspace (force to certify it anyway)`);
}

// cargo-vet's CaveatLevel (resolver.rs:1486), as certify searches (PreferFreshImports, nothing fresh).
const NONE = 0;
const NON_IMPORTABLE = 1;
const EXEMPTION = 6;
const UNPUBLISHED = 7;

type Edge = AuditGraph['edges'] extends Map<string, (infer E)[]> ? E : never;
interface Node {
  version: string | null;
  path: Edge[];
  caveat: number;
  origin: string | null;
}

/**
 * resolver.rs:1456-1660 `search_for_path` from a locked version back to the empty root, for one
 * criterion: the path with the fewest caveats (audits before non-importable audits before
 * exemptions before unpublished records), then towards lower versions, smaller exemptions, fewer
 * steps. Undefined when no path exists.
 */
function searchPath(g: AuditGraph, crate: string, version: string, criterion: string, local: VetStore): Edge[] | undefined {
  const edges = (g.edges.get(crate) ?? []).filter((e) => e.all || e.criteria.has(criterion));
  const caveatOf = (e: Edge) =>
    e.ref.table === 'exemptions'
      ? EXEMPTION
      : e.ref.table === 'unpublished'
        ? UNPUBLISHED
        : e.ref.source === 'local' && e.ref.table === 'audits' && local.audits.audits.get(crate)?.[e.ref.index]?.importable === false
          ? NON_IMPORTABLE
          : NONE;
  const optVersion = (a: string | null, b: string | null) =>
    a === null ? (b === null ? 0 : -1) : b === null ? 1 : compareVetVersion(a, b);
  const exemptionOrigin = (n: Node) => (n.caveat === EXEMPTION ? n.origin : null);
  const better = (a: Node, b: Node) =>
    a.caveat - b.caveat ||
    optVersion(a.version, b.version) ||
    optVersion(exemptionOrigin(a), exemptionOrigin(b)) ||
    a.path.length - b.path.length;
  const queue: Node[] = [{ version, path: [], caveat: NONE, origin: version }];
  const visited = new Set<string | null>();
  while (queue.length) {
    queue.sort(better);
    const n = queue.shift()!;
    if (visited.has(n.version)) continue;
    visited.add(n.version);
    if (n.version === null) return n.path;
    for (const e of edges) {
      if (e.to !== n.version || visited.has(e.from)) continue;
      queue.push({ version: e.from, path: [...n.path, e], caveat: Math.max(n.caveat, caveatOf(e)), origin: n.version });
    }
  }
  return undefined;
}

/**
 * resolver.rs:2735 `resolve_package_required_entries`: for every locked version of the crate and
 * every criterion it needs, the entries on the path that vets it, with the criteria each is used
 * for. Undefined when the crate fails (a violation conflict, or a version without a path): then
 * cargo-vet prunes nothing.
 */
function requiredEntries(store: VetStore, graph: DepGraph, g: AuditGraph, crate: string): Map<string, Set<string>> | undefined {
  const used = new Map<string, Set<string>>();
  if (g.conflicts(crate).length) return undefined;
  const report = resolveVet({ graph, store }, { checkStore: false, reportKindAssumption: false }, g);
  for (const p of report.packages.filter((x) => x.name === crate && x.thirdParty)) {
    for (const c of p.required) {
      const path = searchPath(g, crate, p.vetVersion, c, store);
      if (!path) return undefined;
      for (const e of path) used.set(auditRefKey(e.ref), (used.get(auditRefKey(e.ref)) ?? new Set()).add(c));
    }
  }
  return used;
}

/** Records the audit and updates the store as `cargo vet certify` does. */
export function certify(store: VetStore, graph: DepGraph, req: CertifyRequest): CertifyResult {
  validate(store, graph, req);
  const git = [req.from, req.to].some((v) => v !== undefined && parseVetVersion(v)!.gitRev !== undefined);
  const g0 = buildAuditGraph(store);
  const order = criteriaNames(store);
  const audit: AuditEntry = {
    who: [...req.who],
    criteria: minimalNames(g0, order, g0.criteria.closureOf(req.criteria)),
    ...(req.from !== undefined ? { delta: { from: req.from, to: req.to } } : { version: req.to }),
    ...(git ? { importable: false } : {}),
    ...(req.notes !== undefined && req.notes !== '' ? { notes: req.notes } : {}),
    aggregatedFrom: [],
  };
  const audits = new Map(store.audits.audits);
  audits.set(req.crate, [...(audits.get(req.crate) ?? []), audit]);
  const added: VetStore = { ...store, audits: { ...store.audits, audits } };
  const g = buildAuditGraph(added);
  const used = requiredEntries(added, graph, g, req.crate);
  const usedFor = (ref: AuditRef) => used?.get(auditRefKey(ref)) ?? new Set<string>();

  const removed: CertifyResult['exemptions']['removed'] = [];
  const narrowed: CertifyResult['exemptions']['narrowed'] = [];
  const exemptions = new Map<string, ExemptionEntry[]>();
  for (const [crate, list] of store.config.exemptions) {
    const kept: ExemptionEntry[] = [];
    list.forEach((e, index) => {
      const original = g.criteria.closureOf(e.criteria);
      // Only the certified crate's exemptions are pruned; the others keep their criteria, minimal.
      const useful = crate === req.crate && used ? usedFor({ source: 'exemption', table: 'exemptions', crate, index }) : original;
      if (useful.size === 0) return void removed.push({ crate, exemption: e });
      const after = { ...e, criteria: minimalNames(g, order, g.criteria.closureOf(useful)) };
      if (crate === req.crate && after.criteria.join() !== minimalNames(g, order, original).join()) narrowed.push({ before: e, after });
      kept.push(after);
    });
    if (kept.length) exemptions.set(crate, kept);
  }
  // The certified crate's non-importable audits and unpublished records that no path uses go too.
  if (used) {
    const list = audits
      .get(req.crate)!
      .filter((e, index) => e.importable !== false || usedFor({ source: 'local', table: 'audits', crate: req.crate, index }).size > 0);
    audits.set(req.crate, list);
  }
  let imports = store.imports;
  if (used && imports?.unpublished.has(req.crate)) {
    const unpublished = new Map(imports.unpublished);
    const left = unpublished
      .get(req.crate)!
      .filter((_, index) => usedFor({ source: 'import', table: 'unpublished', crate: req.crate, index }).size > 0);
    if (left.length) unpublished.set(req.crate, left);
    else unpublished.delete(req.crate);
    imports = { ...imports, unpublished };
  }
  const { sources: _text, ...rest } = store;
  return {
    store: { ...rest, config: { ...store.config, exemptions }, audits: { ...store.audits, audits }, ...(imports ? { imports } : {}) },
    audit,
    exemptions: { removed, narrowed },
  };
}
