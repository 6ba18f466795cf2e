/**
 * cargo-vet's resolver (`cargo vet --locked` semantics), as pure code.
 *
 * 1. Requirements (cargo-vet 0.10.3 `resolve_requirements`, src/resolver.rs:890-953). First a dev
 *    pass: each workspace member gives its dev-dependencies `dependency-criteria[dep]`, else its
 *    `dev-criteria` (default safe-to-run). Then every package, first- or third-party, dependents
 *    before dependencies: its own `policy.criteria`, when set, REPLACES what its dependents asked;
 *    otherwise a root (a workspace member nothing depends on through normal/build edges) adds
 *    safe-to-deploy; then each normal or build dependency gets `dependency-criteria[dep]`, else the
 *    package's own requirement. `default-criteria` plays no part (it is `certify`'s default).
 *    Third-party = from crates.io, or `audit-as-crates-io = true`; first-party ones are not audited.
 * 2. Audit graph, per crate: nodes are versions plus an empty root. A full audit, an exemption, a
 *    wildcard audit (local or imported) or a LOCAL trusted entry (for each version whose
 *    `publisher` record in imports.lock has that user-id / trusted publisher and a publication day
 *    in [start, end), resolver.rs:1196-1233) is an edge from the root; a delta `A -> B` is an edge
 *    A to B; an `unpublished` record is an edge audited-as -> version for every criterion
 *    (resolver.rs:1270-1290). Each edge certifies the closure of its criteria under `implies`.
 *    cargo-vet 0.10 stores imported audits in imports.lock already mapped to local criteria names
 *    (storage.rs:1056-1116), so an imported name that is built-in or defined locally is the local
 *    criterion; any other name (an older imports.lock) is namespaced (`import::name`) and
 *    `criteria-map` maps it onto local ones. A version is vetted for a criterion when a path from
 *    the root reaches it using only edges certifying that criterion.
 * 3. Violations (resolver.rs:1304-1396): a violation conflicts with a full audit, delta (either
 *    end) or exemption of the crate whose criteria contain one of the violated criteria, with a
 *    version in the violated range. Any conflict makes every locked version of that crate a
 *    `violation` and the whole run fails with the violations alone, as cargo-vet does. A locked
 *    version merely inside a violated range, with no conflicting audit, is just unvetted.
 * 4. A package is `vetted` if every required criterion is reached without exemptions, `exempted`
 *    if exemptions were needed, otherwise `unvetted` (with the cheapest audit that would fix it).
 */
import type { Lockfile } from '../lockfile.js';
import {
  SAFE_TO_DEPLOY,
  SAFE_TO_RUN,
  type AuditsFile,
  type ConfigFile,
  type CriteriaDef,
  type ImportsLock,
  type PolicyEntry,
  type PublisherEntry,
} from './format.js';
import { checkStore, type StoreCheckResult } from './check.js';
import { graphFromLockfile, type DepGraph, type DepKind, type GraphNode } from './graph.js';
import { suggest, type Suggestion } from './suggest.js';
import { cargoReqMatches } from './versionreq.js';

export interface VetStore {
  config: ConfigFile;
  audits: AuditsFile;
  /** `cargo vet --locked`: what the imports said, cached. */
  imports?: ImportsLock;
  /**
   * The files' text as read, when known: `cargo vet --locked` also refuses a file that is not laid
   * out the way `cargo vet fmt` writes it, which only the text can show.
   */
  sources?: { config?: string; audits?: string; importsLock?: string };
}

export interface ResolveOptions {
  /** Extra audit sources treated like imports (live pools), by name; `importable = false` skipped. */
  pools?: Map<string, AuditsFile>;
  /**
   * With a Cargo.lock graph (kinds unknown), also resolve assuming workspace members' edges could
   * be dev-dependencies or only normal ones, to name the verdicts that hang on that. Default true.
   */
  reportKindAssumption?: boolean;
  /**
   * Run `checkStore` (the checks cargo-vet makes before resolving) when a store is given. Default
   * true. A failing check makes the conclusion `fail (store)`; the packages are still judged.
   */
  checkStore?: boolean;
  /** cargo-vet's "today" (YYYY-MM-DD) for the store checks (wildcard `end` dates). Default: now. */
  today?: string;
}

/** Where an audit-graph edge comes from: enough to find (and remove) the entry. */
export interface AuditRef {
  source: 'local' | 'import' | 'pool' | 'exemption';
  /** Import or pool name. */
  from?: string;
  /** `unpublished`: an imports.lock `[[unpublished.crate]]` record. */
  table: 'audits' | 'wildcard-audits' | 'trusted' | 'exemptions' | 'unpublished';
  crate: string;
  index: number;
}
export const auditRefKey = (r: AuditRef): string => `${r.source}:${r.from ?? ''}:${r.table}:${r.crate}[${r.index}]`;

export interface Requirement {
  /** Who asks: a package id. */
  by: string;
  criteria: string[];
  kind: DepKind;
  /** Which rule produced it. */
  why:
    | 'policy.criteria'
    | 'policy.dev-criteria'
    | 'policy.dependency-criteria'
    | 'default-criteria'
    | 'dev default (safe-to-run)'
    | 'dependent';
}

export type Status = 'vetted' | 'exempted' | 'unvetted' | 'violation' | 'first-party' | 'not-required';

export interface PackageVerdict {
  id: string;
  name: string;
  version: string;
  vetVersion: string;
  thirdParty: boolean;
  status: Status;
  /** Local criteria required (minimal: implied ones left out). */
  required: string[];
  requiredBy: Requirement[];
  /** Required criteria not reached. */
  missing: string[];
  /** The audit entries on the path that vetted it (empty root to this version). */
  path: AuditRef[];
  /** Conflicts between a violation and an audit or exemption of this crate (cargo-vet's ViolationConflict). */
  violations?: { crate: string; violation: string; criteria: string[]; from: string; conflictsWith: string }[];
  /** Unvetted: the cheapest audit that vets it. Exempted: the audit that would retire the exemption. */
  suggestion?: Suggestion;
  /**
   * Kinds unknown (Cargo.lock graph): the verdict differs if workspace members' edges are all dev
   * edges (`ifDevEdges`) or all normal edges (`ifNormalEdges`), rather than both (what is judged).
   */
  kindDependent?: { ifDevEdges: Status; ifNormalEdges: Status; required: string[] };
}

export interface UnneededExemption {
  crate: string;
  version: string;
  criteria: string[];
  reason: 'not locked' | 'not required' | 'audited';
}

export interface VetReport {
  kindsKnown: boolean;
  /**
   * cargo-vet's conclusion: a violation conflict anywhere fails the run with the violations alone
   * (its JSON then lists no other failure); otherwise a failure for any unvetted package.
   * `fail (store)`: cargo-vet refuses the store before resolving (or panics while resolving):
   * `store.reported` holds what it would say; the verdicts below are ours, given for information.
   */
  conclusion: 'success' | 'fail (vet)' | 'fail (violation)' | 'fail (store)';
  /** The store checks (`checkStore`), when a store was given and checking was not turned off. */
  store?: StoreCheckResult;
  packages: PackageVerdict[];
  unneededExemptions: UnneededExemption[];
  summary: {
    thirdParty: number;
    vetted: number;
    exempted: number;
    unvetted: number;
    violation: number;
    firstParty: number;
    kindDependent: number;
  };
}

// ---------------------------------------------------------------------------------------------
// criteria

export class CriteriaSpace {
  private readonly implies = new Map<string, Set<string>>();
  private readonly memo = new Map<string, Set<string>>();
  constructor() {
    this.addImplies(SAFE_TO_DEPLOY, SAFE_TO_RUN);
    this.addImplies(SAFE_TO_RUN);
  }
  /** Built-in or defined without a namespace (local). */
  isLocal(name: string): boolean {
    return !name.includes('::') && this.implies.has(name);
  }
  static qualify(ns: string | undefined, name: string): string {
    if (ns === undefined || name === SAFE_TO_DEPLOY || name === SAFE_TO_RUN) return name;
    return `${ns}::${name}`;
  }
  addImplies(name: string, ...to: string[]): void {
    const s = this.implies.get(name) ?? new Set<string>();
    for (const t of to) s.add(t);
    this.implies.set(name, s);
    this.memo.clear();
  }
  define(ns: string | undefined, defs: Map<string, CriteriaDef>): void {
    for (const [name, d] of defs) this.addImplies(CriteriaSpace.qualify(ns, name), ...d.implies.map((i) => CriteriaSpace.qualify(ns, i)));
  }
  closure(name: string): Set<string> {
    const hit = this.memo.get(name);
    if (hit) return hit;
    const out = new Set<string>();
    const stack = [name];
    while (stack.length) {
      const c = stack.pop()!;
      if (out.has(c)) continue;
      out.add(c);
      for (const n of this.implies.get(c) ?? []) stack.push(n);
    }
    this.memo.set(name, out);
    return out;
  }
  closureOf(names: Iterable<string>): Set<string> {
    const out = new Set<string>();
    for (const n of names) for (const c of this.closure(n)) out.add(c);
    return out;
  }
  /** Drops criteria implied by another one in the list. */
  minimal(names: Iterable<string>): string[] {
    const list = [...new Set(names)].sort();
    return list.filter((c) => !list.some((o) => o !== c && this.closure(o).has(c)));
  }
}

// ---------------------------------------------------------------------------------------------
// audit graph

interface Edge {
  from: string | null; // null: the empty root
  to: string;
  criteria: Set<string>;
  /** An `unpublished` record: certifies every criterion (cargo-vet's `all_criteria()`). */
  all?: boolean;
  ref: AuditRef;
  exemption: boolean;
  /** An exemption with `suggest = false`: the one kind `cargo vet suggest` keeps (storage.rs clone_for_suggest). */
  keptBySuggest?: boolean;
}
type ExemptionUse = boolean | 'suggest';
interface Violation {
  req: string;
  /** The violated criteria, qualified by namespace. */
  qualified: string[];
  names: string[];
  from: string;
  ref: AuditRef;
}
/** A violation that an audit or exemption contradicts (cargo-vet's `ViolationConflict`). */
export interface ViolationConflict {
  violation: Violation;
  with: AuditRef;
  /** `1.2.3` or `1.0.0 -> 1.2.3`. */
  version: string;
}
const plainVersion = (v: string) => v.replace(/@git:.*$/, '');

export class AuditGraph {
  readonly edges = new Map<string, Edge[]>();
  readonly violations = new Map<string, Violation[]>();
  readonly criteria = new CriteriaSpace();
  private readonly removed = new Set<string>();

  addEdge(crate: string, e: Edge): void {
    const l = this.edges.get(crate) ?? [];
    l.push(e);
    this.edges.set(crate, l);
  }

  /** Audits of one file (local, an import, or a pool) in namespace `ns`. */
  addAuditsFile(
    a: Omit<AuditsFile, 'header'>,
    ns: string | undefined,
    source: AuditRef['source'],
    publishers: Map<string, PublisherEntry[]>,
    opts: { exclude?: string[]; skipUnimportable?: boolean } = {},
  ): void {
    this.criteria.define(ns, a.criteria);
    // cargo-vet 0.10 writes imported audits into imports.lock with local criteria names; names it
    // does not know locally come from an older imports.lock and keep their import's namespace.
    const qualify = (n: string) => (source === 'import' && this.criteria.isLocal(n) ? n : CriteriaSpace.qualify(ns, n));
    const q = (names: string[]) => this.criteria.closureOf(names.map(qualify));
    const excluded = new Set(opts.exclude ?? []);
    for (const [crate, list] of a.audits) {
      if (excluded.has(crate)) continue;
      list.forEach((e, index) => {
        if (opts.skipUnimportable && e.importable === false) return;
        const ref: AuditRef = { source, from: ns, table: 'audits', crate, index };
        if (e.violation !== undefined) {
          const l = this.violations.get(crate) ?? [];
          l.push({ req: e.violation, qualified: e.criteria.map(qualify), names: e.criteria, from: ns ?? 'local', ref });
          this.violations.set(crate, l);
        } else if (e.version !== undefined)
          this.addEdge(crate, { from: null, to: e.version, criteria: q(e.criteria), ref, exemption: false });
        else if (e.delta) this.addEdge(crate, { from: e.delta.from, to: e.delta.to, criteria: q(e.criteria), ref, exemption: false });
      });
    }
    const publisherEdges = (
      table: 'wildcard-audits' | 'trusted',
      m: Map<string, { criteria: string[]; userId?: number; trustedPublisher?: string; start: string; end: string }[]>,
    ) => {
      for (const [crate, list] of m) {
        if (excluded.has(crate)) continue;
        list.forEach((w, index) => {
          const crit = q(w.criteria);
          for (const p of publishers.get(crate) ?? []) {
            const who =
              w.userId !== undefined
                ? p.userId === w.userId
                : p.trustedPublisher !== undefined && p.trustedPublisher === w.trustedPublisher;
            if (who && w.start <= p.when && p.when < w.end) {
              this.addEdge(crate, {
                from: null,
                to: p.version,
                criteria: crit,
                ref: { source, from: ns, table, crate, index },
                exemption: false,
              });
            }
          }
        });
      }
    };
    publisherEdges('wildcard-audits', a.wildcardAudits);
    // Only the store's own trusted entries count: cargo-vet reads `store.audits.trusted` alone
    // (resolver.rs:1136-1141), never an import's.
    if (source === 'local') publisherEdges('trusted', a.trusted);
  }

  /** imports.lock `unpublished` records: audited-as -> version, for every criterion. */
  addUnpublished(unpublished: Map<string, { version: string; auditedAs: string }[]>): void {
    for (const [crate, list] of unpublished) {
      list.forEach((u, index) => {
        this.addEdge(crate, {
          from: u.auditedAs,
          to: u.version,
          criteria: new Set(),
          all: true,
          ref: { source: 'import', table: 'unpublished', crate, index },
          exemption: false,
        });
      });
    }
  }

  addExemptions(config: ConfigFile): void {
    for (const [crate, list] of config.exemptions) {
      list.forEach((e, index) => {
        this.addEdge(crate, {
          from: null,
          to: e.version,
          criteria: this.criteria.closureOf(e.criteria),
          ref: { source: 'exemption', table: 'exemptions', crate, index },
          exemption: true,
          ...(e.suggest === false ? { keptBySuggest: true } : {}),
        });
      });
    }
  }

  /**
   * What-if: an audit of `crate` recorded in the store (`cargo vet certify`'s entry), as an edge
   * from the root (a full audit) or from `from`. Returns the undo.
   */
  addAudit(crate: string, audit: { from?: string; to: string; criteria: string[] }): () => void {
    const index = (this.edges.get(crate) ?? []).length;
    const e: Edge = {
      from: audit.from ?? null,
      to: audit.to,
      criteria: this.criteria.closureOf(audit.criteria),
      ref: { source: 'local', table: 'audits', crate, index },
      exemption: false,
    };
    this.addEdge(crate, e);
    return () => {
      const l = this.edges.get(crate)!;
      l.splice(l.indexOf(e), 1);
    };
  }

  /** Ignore one entry from now on (what-if analysis). */
  remove(ref: AuditRef): void {
    this.removed.add(auditRefKey(ref));
  }

  /** Undo every `remove`. */
  restoreAll(): void {
    this.removed.clear();
  }

  /**
   * cargo-vet's violation check (resolver.rs:1304-1396): a full audit, a delta (either end) or an
   * exemption whose criteria contain a violated criterion, at a version the violation covers.
   * Wildcard audits, trusted entries and unpublished records are not checked, as in cargo-vet.
   */
  conflicts(crate: string): ViolationConflict[] {
    const out: ViolationConflict[] = [];
    const matches = (req: string, v: string) => {
      try {
        return cargoReqMatches(req, plainVersion(v));
      } catch {
        return false;
      }
    };
    for (const v of this.violations.get(crate) ?? []) {
      if (this.removed.has(auditRefKey(v.ref))) continue;
      for (const e of this.edges.get(crate) ?? []) {
        if (e.all || (e.ref.table !== 'audits' && e.ref.table !== 'exemptions') || this.removed.has(auditRefKey(e.ref))) continue;
        if (!v.qualified.some((vc) => [...this.criteria.closure(vc)].every((c) => e.criteria.has(c)))) continue;
        if (matches(v.req, e.to) || (e.from !== null && matches(v.req, e.from))) {
          out.push({ violation: v, with: e.ref, version: e.from === null ? e.to : `${e.from} -> ${e.to}` });
        }
      }
    }
    return out;
  }

  private usable(crate: string, c: string, withExemptions: ExemptionUse): Edge[] {
    const allowed = (e: Edge) => !e.exemption || withExemptions === true || (withExemptions === 'suggest' && e.keptBySuggest === true);
    return (this.edges.get(crate) ?? []).filter((e) => (e.all || e.criteria.has(c)) && allowed(e) && !this.removed.has(auditRefKey(e.ref)));
  }

  /**
   * Versions reachable from the root for criterion `c`, each with the edge that reached it.
   * `withExemptions` 'suggest': only `suggest = false` exemptions, as `cargo vet suggest` sees the store.
   */
  reach(crate: string, c: string, withExemptions: ExemptionUse): Map<string, Edge | null> {
    const edges = this.usable(crate, c, withExemptions);
    const out = new Map<string | null, Edge | null>([[null, null]]);
    const queue: (string | null)[] = [null];
    // Prefer audits over exemptions on a path: visit non-exemption edges first.
    edges.sort((a, b) => Number(a.exemption) - Number(b.exemption));
    while (queue.length) {
      const v = queue.shift()!;
      for (const e of edges) {
        if (e.from === v && !out.has(e.to)) {
          out.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    out.delete(null);
    return out as Map<string, Edge | null>;
  }

  /** Versions from which `target` can be reached using edges certifying every criterion in `cs`. */
  reachBack(crate: string, cs: string[], target: string): Set<string> {
    const edges = (this.edges.get(crate) ?? []).filter(
      (e) => (e.all || cs.every((c) => e.criteria.has(c))) && !this.removed.has(auditRefKey(e.ref)),
    );
    const out = new Set<string>([target]);
    const queue = [target];
    while (queue.length) {
      const v = queue.shift()!;
      for (const e of edges) {
        if (e.to === v && e.from !== null && !out.has(e.from)) {
          out.add(e.from);
          queue.push(e.from);
        }
      }
    }
    return out;
  }

  /** The path of entries from the root to `version` found by `reach`. */
  pathTo(reached: Map<string, Edge | null>, version: string): AuditRef[] {
    const refs: AuditRef[] = [];
    let v: string | null = version;
    const seen = new Set<string>();
    while (v !== null && !seen.has(v)) {
      seen.add(v);
      const e = reached.get(v);
      if (!e) break;
      refs.unshift(e.ref);
      v = e.from;
    }
    return refs;
  }
}

/** Builds the audit graph of a store (local audits, exemptions, imports.lock) and extra pools. */
export function buildAuditGraph(store: VetStore | undefined, pools?: Map<string, AuditsFile>): AuditGraph {
  const g = new AuditGraph();
  const publishers = store?.imports?.publisher ?? new Map<string, PublisherEntry[]>();
  if (store) {
    g.criteria.define(undefined, store.audits.criteria);
    for (const [name, imp] of store.config.imports) {
      for (const [theirs, ours] of imp.criteriaMap) g.criteria.addImplies(CriteriaSpace.qualify(name, theirs), ...ours);
    }
    g.addAuditsFile(store.audits, undefined, 'local', publishers);
    for (const [name, a] of store.imports?.audits ?? []) {
      g.addAuditsFile(a, name, 'import', publishers, { exclude: store.config.imports.get(name)?.exclude });
    }
    g.addExemptions(store.config);
    if (store.imports) g.addUnpublished(store.imports.unpublished);
  }
  for (const [name, a] of pools ?? []) g.addAuditsFile(a, name, 'pool', publishers, { skipUnimportable: true });
  return g;
}

/** Only these crates' entries of an audits file; its criteria definitions all kept. */
function auditsOf(f: AuditsFile, crates: ReadonlySet<string>): AuditsFile {
  const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([k]) => crates.has(k)));
  return { ...f, audits: keep(f.audits), wildcardAudits: keep(f.wildcardAudits), trusted: keep(f.trusted) };
}

/**
 * The audit graph of these crates only (and every criteria definition): what judging their packages
 * reads. Each crate's edges come from its own entries, so this is the full graph's, restricted —
 * and a fraction of the cost on a large store.
 */
export function buildAuditGraphFor(crates: ReadonlySet<string>, store: VetStore | undefined, pools?: Map<string, AuditsFile>): AuditGraph {
  const keep = <T>(m: Map<string, T>) => new Map([...m].filter(([k]) => crates.has(k)));
  const only: VetStore | undefined = store && {
    ...store,
    config: { ...store.config, exemptions: keep(store.config.exemptions) },
    audits: auditsOf(store.audits, crates),
    ...(store.imports
      ? {
          imports: {
            ...store.imports,
            unpublished: keep(store.imports.unpublished),
            publisher: keep(store.imports.publisher),
            audits: new Map([...store.imports.audits].map(([n, a]) => [n, auditsOf(a, crates)])),
          },
        }
      : {}),
  };
  return buildAuditGraph(only, pools && new Map([...pools].map(([n, a]) => [n, auditsOf(a, crates)])));
}

// ---------------------------------------------------------------------------------------------
// requirements

function policyFor(config: ConfigFile | undefined, n: GraphNode): PolicyEntry | undefined {
  return config?.policy.get(`${n.name}:${n.vetVersion}`) ?? config?.policy.get(n.name);
}

export function isThirdParty(n: GraphNode, config?: ConfigFile): boolean {
  const CRATES = ['registry+https://github.com/rust-lang/crates.io-index', 'sparse+https://index.crates.io/'];
  if (n.source !== undefined && CRATES.includes(n.source)) return true;
  return policyFor(config, n)?.auditAsCratesIo === true;
}

/**
 * cargo-vet's `resolve_requirements` (0.10.3 src/resolver.rs:890-953, graph roots and dev edges
 * from `DepGraph::new`, :398-586). An edge of unknown kind (Cargo.lock) out of a workspace member
 * is read as `unknownAs`: both a normal and a dev edge (the strictest reading: `dev-criteria` may
 * ask more than `criteria`), only normal, or only dev. Other packages have no dev edges.
 */
function requirements(graph: DepGraph, config: ConfigFile | undefined, third: Set<string>, unknownAs: 'both' | 'normal' | 'dev') {
  const req = new Map<string, Set<string>>();
  const reasons = new Map<string, Requirement[]>();
  const add = (to: string, r: Requirement) => {
    const s = req.get(to) ?? new Set<string>();
    for (const c of r.criteria) s.add(c);
    req.set(to, s);
    const rs = reasons.get(to) ?? [];
    rs.push(r);
    reasons.set(to, rs);
  };
  // Edge lists as cargo-vet splits them: normal+build edges for everyone, dev edges for members only.
  const split = (n: GraphNode) => {
    const nb: { to: string; kind: DepKind }[] = [];
    const dev: { to: string; kind: DepKind }[] = [];
    for (const d of n.deps) {
      if (!graph.nodes.has(d.to)) continue;
      const kinds = d.kinds.flatMap((k): DepKind[] =>
        k !== 'unknown' ? [k] : !n.workspaceMember ? ['normal'] : unknownAs === 'both' ? ['normal', 'dev'] : [unknownAs],
      );
      const shown: DepKind = d.kinds.includes('unknown')
        ? 'unknown'
        : kinds.includes('normal')
          ? 'normal'
          : kinds.includes('build')
            ? 'build'
            : 'dev';
      if (kinds.includes('normal') || kinds.includes('build')) nb.push({ to: d.to, kind: shown });
      if (kinds.includes('dev') && n.workspaceMember) dev.push({ to: d.to, kind: d.kinds.includes('unknown') ? 'unknown' : 'dev' });
    }
    return { nb, dev };
  };
  const edges = new Map([...graph.nodes.values()].map((n) => [n.id, split(n)]));
  const members = [...graph.nodes.values()].filter((n) => n.workspaceMember).map((n) => n.id);

  // Post-order DFS over normal+build edges from the members, then the members' dev-deps.
  const topo: string[] = [];
  const visited = new Set<string>();
  const hasNormalParent = new Set<string>();
  const visit = (root: string) => {
    const stack: { id: string; i: number }[] = [];
    if (visited.has(root)) return;
    visited.add(root);
    stack.push({ id: root, i: 0 });
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const nb = edges.get(top.id)!.nb;
      if (top.i < nb.length) {
        const child = nb[top.i++]!.to;
        hasNormalParent.add(child);
        if (!visited.has(child)) {
          visited.add(child);
          stack.push({ id: child, i: 0 });
        }
      } else {
        stack.pop();
        topo.push(top.id);
      }
    }
  };
  for (const m of members) visit(m);
  const roots = new Set(members.filter((m) => !hasNormalParent.has(m)));
  for (const m of members) for (const d of edges.get(m)!.dev) visit(d.to);

  // Dev pass: members' dev-dependencies.
  for (const m of members) {
    const n = graph.nodes.get(m)!;
    const pol = policyFor(config, n);
    for (const d of edges.get(m)!.dev) {
      const depCrit = pol?.dependencyCriteria.get(graph.nodes.get(d.to)!.name);
      if (depCrit) add(d.to, { by: m, criteria: depCrit, kind: d.kind, why: 'policy.dependency-criteria' });
      else if (pol?.devCriteria) add(d.to, { by: m, criteria: pol.devCriteria, kind: d.kind, why: 'policy.dev-criteria' });
      else add(d.to, { by: m, criteria: [SAFE_TO_RUN], kind: d.kind, why: 'dev default (safe-to-run)' });
    }
  }
  // Dependents before dependencies.
  for (const id of topo.reverse()) {
    const n = graph.nodes.get(id)!;
    const pol = policyFor(config, n);
    let why: Requirement['why'] = 'dependent';
    if (pol?.criteria) {
      // A package's own policy replaces whatever its dependents asked of it.
      req.set(id, new Set(pol.criteria));
      reasons.set(id, [{ by: id, criteria: pol.criteria, kind: 'normal', why: 'policy.criteria' }]);
      why = 'policy.criteria';
    } else if (roots.has(id)) {
      add(id, { by: id, criteria: [SAFE_TO_DEPLOY], kind: 'normal', why: 'default-criteria' });
      if (!third.has(id)) why = 'default-criteria';
    }
    const mine = [...(req.get(id) ?? [])];
    for (const d of edges.get(id)!.nb) {
      const depCrit = pol?.dependencyCriteria.get(graph.nodes.get(d.to)!.name);
      if (depCrit) add(d.to, { by: id, criteria: depCrit, kind: d.kind, why: 'policy.dependency-criteria' });
      else if (mine.length) add(d.to, { by: id, criteria: mine, kind: d.kind, why });
    }
  }
  // keep one reason per (by, criteria) pair
  for (const [id, rs] of reasons) {
    const seen = new Set<string>();
    reasons.set(
      id,
      rs.filter((r) => {
        const k = `${r.by}|${r.criteria.join(',')}|${r.why}`;
        return seen.has(k) ? false : (seen.add(k), true);
      }),
    );
  }
  return { req, reasons };
}

// ---------------------------------------------------------------------------------------------
// verdicts and suggestions

function judge(g: AuditGraph, n: GraphNode, required: string[]): Pick<PackageVerdict, 'status' | 'missing' | 'path' | 'violations'> {
  // cargo-vet builds the crate's audit graph before looking at requirements: a conflict fails it.
  const conflicts = g.conflicts(n.name);
  if (conflicts.length) {
    const violations = conflicts.map((c) => ({
      crate: n.name,
      violation: c.violation.req,
      criteria: c.violation.names,
      from: c.violation.from,
      conflictsWith: `${c.with.source === 'exemption' ? 'exemption' : `audit (${c.with.from ?? 'local'})`} ${c.version}`,
    }));
    return { status: 'violation', missing: required, path: [], violations };
  }
  if (required.length === 0) return { status: 'not-required', missing: [], path: [] };
  const path: AuditRef[] = [];
  const missing: string[] = [];
  let exempted = false;
  for (const c of required) {
    const strict = g.reach(n.name, c, false);
    if (strict.has(n.vetVersion)) {
      path.push(...g.pathTo(strict, n.vetVersion));
      continue;
    }
    const loose = g.reach(n.name, c, true);
    if (loose.has(n.vetVersion)) {
      exempted = true;
      path.push(...g.pathTo(loose, n.vetVersion));
    } else missing.push(c);
  }
  const uniq = [...new Map(path.map((r) => [auditRefKey(r), r])).values()];
  return { status: missing.length ? 'unvetted' : exempted ? 'exempted' : 'vetted', missing, path: uniq };
}

export interface VetInput {
  lockfile?: Lockfile;
  /** Preferred over the lockfile: a graph with dependency kinds (graphFromCargoMetadata). */
  graph?: DepGraph;
  store?: VetStore;
}

/** What every verdict of one resolve shares: the graph, who is third-party, what each is required. */
interface Resolution {
  graph: DepGraph;
  config: ConfigFile | undefined;
  third: Set<string>;
  strict: ReturnType<typeof requirements>;
  alt?: { dev: ReturnType<typeof requirements>; normal: ReturnType<typeof requirements> };
}

/** Requirements come from the graph and the store's policy alone: audits (and pools) never move them. */
function resolution(input: VetInput, opts: ResolveOptions): Resolution {
  const graph = input.graph ?? (input.lockfile ? graphFromLockfile(input.lockfile) : undefined);
  if (!graph) throw new Error('resolveVet needs a lockfile or a graph');
  const config = input.store?.config;
  const third = new Set([...graph.nodes.values()].filter((n) => isThirdParty(n, config)).map((n) => n.id));
  const strict = requirements(graph, config, third, 'both');
  const alt =
    !graph.kindsKnown && opts.reportKindAssumption !== false
      ? { dev: requirements(graph, config, third, 'dev'), normal: requirements(graph, config, third, 'normal') }
      : undefined;
  return { graph, config, third, strict, ...(alt ? { alt } : {}) };
}

/** One package's verdict: depends on its requirements and on the audit graph of its own crate only. */
function verdictOf(g: AuditGraph, n: GraphNode, r: Resolution): PackageVerdict {
  const base = { id: n.id, name: n.name, version: n.version, vetVersion: n.vetVersion };
  if (!r.third.has(n.id)) return { ...base, thirdParty: false, status: 'first-party', required: [], requiredBy: [], missing: [], path: [] };
  const required = g.criteria.minimal(r.strict.req.get(n.id) ?? []);
  const v = judge(g, n, required);
  const verdict: PackageVerdict = { ...base, thirdParty: true, required, requiredBy: r.strict.reasons.get(n.id) ?? [], ...v };
  if (v.status === 'unvetted') verdict.suggestion = suggest(g, n.name, n.vetVersion, v.missing);
  // As `cargo vet suggest` does: the audit that would let an exemption go (judged without it).
  if (v.status === 'exempted') {
    const unaudited = required.filter((c) => !g.reach(n.name, c, 'suggest').has(n.vetVersion));
    if (unaudited.length) verdict.suggestion = suggest(g, n.name, n.vetVersion, unaudited);
  }
  // Requirements only grow from a dev-only or normal-only reading to both: only a failure can change.
  if (r.alt && v.status === 'unvetted') {
    const dreq = g.criteria.minimal(r.alt.dev.req.get(n.id) ?? []);
    const dv = judge(g, n, dreq);
    const nv = judge(g, n, g.criteria.minimal(r.alt.normal.req.get(n.id) ?? []));
    if (dv.status !== v.status || nv.status !== v.status)
      verdict.kindDependent = { ifDevEdges: dv.status, ifNormalEdges: nv.status, required: dreq };
  }
  return verdict;
}

/** Resolves every locked package against the store (and pools), like `cargo vet --locked`. */
export function resolveVet(input: VetInput, opts: ResolveOptions = {}, prebuilt?: AuditGraph): VetReport {
  const r = resolution(input, opts);
  const g = prebuilt ?? buildAuditGraph(input.store, opts.pools);
  return reportOf(
    r,
    input,
    opts,
    [...r.graph.nodes.values()].map((n) => verdictOf(g, n, r)),
  );
}

/**
 * The report `resolveVet` gives after the audits of some crates changed (in the pools or wherever
 * `opts.pools` / `prebuilt` now has them), from `previous`: a report of the same graph and store
 * whose other crates' audits have not changed since. Only the packages of those crates are judged
 * again — a verdict depends on its requirements (graph and policy: unchanged) and on its own crate's
 * audit graph (audits, deltas, exemptions, wildcard and trusted entries, violations) — the rest is
 * `previous`'s. Criteria definitions changed: call `resolveVet`. `prebuilt` / `opts.pools` need hold
 * only those crates' pool entries (and the pools' criteria).
 */
export function resolveVetAgain(
  previous: VetReport,
  crates: ReadonlySet<string>,
  input: VetInput,
  opts: ResolveAgainOptions = {},
  prebuilt?: AuditGraph,
): VetReport {
  // The same graph object and store as the previous report's: its requirements stand too.
  const kept = resolutions.get(previous);
  const r = kept && kept.graph === input.graph && kept.config === input.store?.config ? kept : resolution(input, opts);
  const nodes = [...r.graph.nodes.values()];
  const same = previous.packages.length === nodes.length && nodes.every((n, i) => previous.packages[i]!.id === n.id);
  if (!same) throw new Error('resolveVetAgain: the previous report is not of this graph');
  const g = prebuilt ?? buildAuditGraphFor(crates, input.store, opts.pools);
  const packages = nodes.map((n, i) => (crates.has(n.name) ? verdictOf(g, n, r) : previous.packages[i]!));
  return reportOf(r, input, opts, packages, opts.sameStore ? { checked: previous.store } : undefined);
}

/** Each report's requirements, for `resolveVetAgain` on the same graph (held only while the report is). */
const resolutions = new WeakMap<VetReport, Resolution>();
/** Each resolution's nodes by crate name, for `judgeCrate`. */
const nodesByCrate = new WeakMap<Resolution, Map<string, GraphNode[]>>();

/**
 * What-if for one crate: the verdicts of its packages in `report`'s graph and store, judged against
 * `g` (the report's audit graph with an audit added, say). Same rules as `resolveVet`; only this
 * crate's packages, in graph order. The audit planner calls it once per candidate and workspace.
 */
export function judgeCrate(report: VetReport, crate: string, g: AuditGraph): PackageVerdict[] {
  const r = resolutions.get(report);
  if (!r) throw new Error('judgeCrate: the report was not made by resolveVet');
  let index = nodesByCrate.get(r);
  if (!index) {
    index = new Map();
    for (const n of r.graph.nodes.values()) index.set(n.name, [...(index.get(n.name) ?? []), n]);
    nodesByCrate.set(r, index);
  }
  return (index.get(crate) ?? []).map((n) => verdictOf(g, n, r));
}

export interface ResolveAgainOptions extends ResolveOptions {
  /**
   * The store (and `today`) are the previous report's: its store checks stand (they read the store
   * and the graph only), and are not run again — on a large store they cost more than the verdicts.
   */
  sameStore?: boolean;
}

/** The report of a resolve's verdicts: unneeded exemptions, the store checks, the conclusion and counts. */
function reportOf(
  r: Resolution,
  input: VetInput,
  opts: ResolveOptions,
  packages: PackageVerdict[],
  kept?: { checked: StoreCheckResult | undefined },
): VetReport {
  const report = reportOfVerdicts(r, input, opts, packages, kept);
  resolutions.set(report, r);
  return report;
}

function reportOfVerdicts(
  r: Resolution,
  input: VetInput,
  opts: ResolveOptions,
  packages: PackageVerdict[],
  kept?: { checked: StoreCheckResult | undefined },
): VetReport {
  // Exemptions that are no longer needed (what `cargo vet prune` would drop).
  const unneededExemptions: UnneededExemption[] = [];
  const byNameVersion = new Map(packages.filter((p) => p.thirdParty).map((p) => [`${p.name}@${p.vetVersion}`, p]));
  for (const [crate, list] of r.config?.exemptions ?? []) {
    for (const e of list) {
      const p = byNameVersion.get(`${crate}@${e.version}`);
      const reason: UnneededExemption['reason'] | undefined = !p
        ? 'not locked'
        : p.required.length === 0
          ? 'not required'
          : p.status === 'vetted'
            ? 'audited'
            : undefined;
      if (reason) unneededExemptions.push({ crate, version: e.version, criteria: e.criteria, reason });
    }
  }

  const tp = packages.filter((p) => p.thirdParty);
  const checked = kept
    ? kept.checked
    : input.store && opts.checkStore !== false
      ? checkStore(input.store, r.graph, { today: opts.today })
      : undefined;
  return {
    kindsKnown: r.graph.kindsKnown,
    conclusion: checked?.fatal
      ? 'fail (store)'
      : tp.some((p) => p.status === 'violation')
        ? 'fail (violation)'
        : tp.some((p) => p.status === 'unvetted')
          ? 'fail (vet)'
          : 'success',
    ...(checked ? { store: checked } : {}),
    packages,
    unneededExemptions,
    summary: {
      thirdParty: tp.length,
      vetted: tp.filter((p) => p.status === 'vetted' || p.status === 'not-required').length,
      exempted: tp.filter((p) => p.status === 'exempted').length,
      unvetted: tp.filter((p) => p.status === 'unvetted').length,
      violation: tp.filter((p) => p.status === 'violation').length,
      firstParty: packages.length - tp.length,
      kindDependent: tp.filter((p) => p.kindDependent).length,
    },
  };
}

/** The failing packages: unvetted or blocked by a violation. */
export const failures = (r: VetReport): PackageVerdict[] => r.packages.filter((p) => p.status === 'unvetted' || p.status === 'violation');
