/**
 * The dependency graph the resolver walks: from `cargo metadata --format-version 1 --all-features` JSON (what
 * cargo-vet itself reads: edges carry kinds) or from a Cargo.lock (edges of unknown kind).
 */
import { FormatError } from '../errors.js';
import { packageId, type Lockfile } from '../lockfile.js';

export type DepKind = 'normal' | 'build' | 'dev' | 'unknown';

export interface GraphNode {
  /** Same ids as the lockfile reader: `name@version`, plus ` (source)` when ambiguous. */
  id: string;
  name: string;
  version: string;
  /** The version as cargo-vet names it: `1.2.3`, or `1.2.3@git:<commit>` for a git source. */
  vetVersion: string;
  source?: string;
  /** A path package: a workspace member (only these have dev-dependency edges). */
  workspaceMember: boolean;
  deps: { to: string; kinds: DepKind[] }[];
  /**
   * Build-time code of its own (`cargo metadata` targets, or the crate's sources: `buildtime.ts`):
   * a proc-macro, a build script. Absent: unknown (a Cargo.lock says nothing of targets).
   */
  build?: BuildTargets;
}

/** What a package compiles and runs at build time, whatever edge reaches it. */
export interface BuildTargets {
  /** A `proc-macro` library: runs inside the compiler. */
  procMacro: boolean;
  /** A `custom-build` target (build.rs): compiled for the host and run before the crate builds. */
  buildScript: boolean;
}

type MetadataTarget = { kind?: string[] };
const targetsOf = (targets: MetadataTarget[] | undefined): BuildTargets | undefined =>
  Array.isArray(targets)
    ? {
        procMacro: targets.some((t) => t.kind?.includes('proc-macro') === true),
        buildScript: targets.some((t) => t.kind?.includes('custom-build') === true),
      }
    : undefined;

export interface DepGraph {
  nodes: Map<string, GraphNode>;
  /** False when built from a Cargo.lock: every edge is of unknown kind. */
  kindsKnown: boolean;
}

export function vetVersionOf(p: { version: string; source?: string }): string {
  if (p.source?.startsWith('git+')) {
    const rev = p.source.split('#')[1];
    if (rev) return `${p.version}@git:${rev}`;
  }
  return p.version;
}

/** A package as a graph node; a path package (no source) is always a workspace member. */
const nodeOf = (
  p: { id: string; name: string; version: string; source?: string },
  member: boolean,
  deps: GraphNode['deps'],
): GraphNode => ({
  id: p.id,
  name: p.name,
  version: p.version,
  vetVersion: vetVersionOf(p),
  source: p.source,
  workspaceMember: member || p.source === undefined,
  deps,
});

export function graphFromLockfile(lock: Lockfile): DepGraph {
  const nodes = new Map<string, GraphNode>();
  for (const p of lock.packages)
    nodes.set(
      p.id,
      nodeOf(
        p,
        false,
        p.dependencies.map((to) => ({ to, kinds: ['unknown'] })),
      ),
    );
  return { nodes, kindsKnown: false };
}

/** Reads `cargo metadata --format-version 1` output (already JSON-parsed). */
export function graphFromCargoMetadata(meta: unknown, file = 'cargo metadata'): DepGraph {
  const m = meta as {
    packages?: { id: string; name: string; version: string; source?: string | null; targets?: MetadataTarget[] }[];
    resolve?: { nodes?: { id: string; deps?: { pkg: string; dep_kinds?: { kind: string | null }[] }[] }[] } | null;
    workspace_members?: string[];
  };
  if (!m || !Array.isArray(m.packages)) throw new FormatError(file, 'expected cargo metadata JSON with `packages`', { field: 'packages' });
  if (!m.resolve || !Array.isArray(m.resolve.nodes)) {
    throw new FormatError(file, 'no dependency resolution: run cargo metadata without --no-deps', { field: 'resolve' });
  }
  const members = new Set(m.workspace_members ?? []);
  const count = new Map<string, number>();
  for (const p of m.packages) count.set(packageId(p.name, p.version), (count.get(packageId(p.name, p.version)) ?? 0) + 1);
  const ids = new Map<string, string>();
  for (const p of m.packages) {
    const base = packageId(p.name, p.version);
    ids.set(p.id, (count.get(base) ?? 0) > 1 ? `${base} (${p.source?.split('#')[0] ?? 'path'})` : base);
  }
  const nodes = new Map<string, GraphNode>();
  for (const p of m.packages) {
    const id = ids.get(p.id)!;
    const node = nodeOf({ id, name: p.name, version: p.version, source: p.source ?? undefined }, members.has(p.id), []);
    const build = targetsOf(p.targets);
    nodes.set(id, build ? { ...node, build } : node);
  }
  for (const [i, n] of m.resolve.nodes.entries()) {
    const node = nodes.get(ids.get(n.id) ?? '');
    if (!node) throw new FormatError(file, `resolve node ${n.id} is not among packages`, { field: `resolve.nodes[${i}].id` });
    for (const d of n.deps ?? []) {
      const to = ids.get(d.pkg);
      if (!to) throw new FormatError(file, `dependency ${d.pkg} is not among packages`, { field: `resolve.nodes[${i}].deps` });
      const kinds = [
        ...new Set((d.dep_kinds ?? [{ kind: null }]).map((k) => (k.kind === 'dev' ? 'dev' : k.kind === 'build' ? 'build' : 'normal'))),
      ] as DepKind[];
      node.deps.push({ to, kinds });
    }
  }
  return { nodes, kindsKnown: true };
}

/**
 * The graph of `cargo metadata` output that belongs to this lockfile. Refuses metadata that does
 * not describe exactly the packages the lockfile locks: it was generated from another Cargo.lock (a
 * stale `cargo-metadata.json`). Verdicts on its graph would not be this workspace's — and a crate
 * the lockfile has gained since would not be judged at all.
 */
export function graphForLockfile(lock: Lockfile, meta: unknown, file: string, lockPath: string): DepGraph {
  const graph = graphFromCargoMetadata(meta, file);
  const locked = new Set(lock.packages.map((p) => p.id));
  const list = (ids: string[]) => ids.slice(0, 3).join(', ') + (ids.length > 3 ? ` and ${ids.length - 3} more` : '');
  const only = (ids: string[], where: string) => `${ids.length === 1 ? 'package' : `${ids.length} packages`} ${list(ids)} only in ${where}`;
  const foreign = [...graph.nodes.keys()].filter((id) => !locked.has(id));
  const missing = [...locked].filter((id) => !graph.nodes.has(id));
  if (foreign.length > 0 || missing.length > 0) {
    const what = [foreign.length ? only(foreign, 'the metadata') : '', missing.length ? only(missing, lockPath) : '']
      .filter(Boolean)
      .join('; ');
    throw new FormatError(
      file,
      `does not match ${lockPath} (${what}): the metadata is from another lockfile; regenerate it with cargo metadata --format-version 1 --all-features`,
      { field: 'packages' },
    );
  }
  return graph;
}

/**
 * The graph of an `org.workspaces` event: its packages, members and edges (one per kind, as ingest
 * wrote them from cargo metadata; all `unknown` when it had only a Cargo.lock).
 */
export function graphFromWorkspaceEvent(ev: {
  packages: { id: string; name: string; version: string; source?: string }[];
  edges: { from: string; to: string; kind: DepKind }[];
  members: string[];
}): DepGraph {
  const members = new Set(ev.members);
  const nodes = new Map<string, GraphNode>();
  for (const p of ev.packages) nodes.set(p.id, nodeOf(p, members.has(p.id), []));
  const byPair = new Map<string, { to: string; kinds: DepKind[] }>();
  for (const e of ev.edges) {
    const from = nodes.get(e.from);
    if (!from || !nodes.has(e.to)) continue; // the event schema does not tie edges to packages; a dangling edge is ignored
    let d = byPair.get(`${e.from}\u0000${e.to}`);
    if (!d) {
      d = { to: e.to, kinds: [] };
      byPair.set(`${e.from}\u0000${e.to}`, d);
      from.deps.push(d);
    }
    if (!d.kinds.includes(e.kind)) d.kinds.push(e.kind);
  }
  const kindsKnown = ev.edges.every((e) => e.kind !== 'unknown');
  return { nodes, kindsKnown };
}
