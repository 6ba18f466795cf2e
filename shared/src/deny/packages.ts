/**
 * The packages the deny checks judge: every package the Cargo.lock locks, with what
 * `cargo metadata --format-version 1 --all-features` adds (license, publish, declared dependency
 * requirements, edge kinds). With metadata the graph is cargo-deny's: optional dependencies no
 * enabled feature turns on are left out, and so is what only they reach; a workspace whose root
 * manifest is a package (cargo metadata's `resolve.root`) has that package as its one root, as
 * `cargo deny check` without `--workspace` has it. Without metadata only names, versions, sources and untyped edges are
 * known: licenses and wildcards cannot be judged, and every edge counts as a normal one.
 */
import semver from '../semver-lite.js';
import { FormatError } from '../errors.js';
import type { Lockfile } from '../lockfile.js';
import { graphForLockfile, type DepKind } from '../vet/graph.js';

export interface DeclaredDependency {
  name: string;
  /** The version requirement as cargo metadata gives it (`*` when none was written). */
  req: string;
  kind: 'normal' | 'dev' | 'build';
  /** Where the dependency comes from: a registry, git, or a path (`path` set, `source` null). */
  source?: string;
  path?: string;
}

export interface DenyPackage {
  id: string;
  name: string;
  version: string;
  source?: string;
  /** A workspace member (cargo metadata's `workspace_members`; without metadata: a path package). */
  member: boolean;
  deps: { to: string; kinds: DepKind[] }[];
  /** Only with metadata: the manifest's `license` (null: none), `license-file`, `publish`. */
  meta?: {
    license: string | null;
    licenseFile: string | null;
    /** null: publishable anywhere; []: `publish = false`; else the registries it may go to. */
    publish: string[] | null;
    dependencies: DeclaredDependency[];
  };
}

export interface DenyPackages {
  packages: Map<string, DenyPackage>;
  /** False without cargo metadata: no license, publish or requirement is known, edges have no kind. */
  metadata: boolean;
}

type MetaPackage = {
  id: string;
  name: string;
  version: string;
  source?: string | null;
  license?: string | null;
  license_file?: string | null;
  publish?: string[] | null;
  features?: Record<string, string[]>;
  dependencies?: {
    name?: unknown;
    req?: unknown;
    kind?: unknown;
    source?: unknown;
    path?: unknown;
    optional?: unknown;
    rename?: unknown;
  }[];
};
type MetaNode = { id: string; features?: string[]; deps?: { name?: string; pkg: string }[] };

/**
 * The packages of a lockfile, with its cargo metadata (already JSON-parsed) when there is one.
 * Metadata from another lockfile is refused as `graphForLockfile` refuses it.
 */
export function denyPackages(lock: Lockfile, meta?: { value: unknown; file: string; lockPath: string }): DenyPackages {
  const packages = new Map<string, DenyPackage>();
  if (!meta) {
    for (const p of lock.packages) {
      packages.set(p.id, {
        id: p.id,
        name: p.name,
        version: p.version,
        source: p.source,
        member: p.source === undefined,
        deps: p.dependencies.map((to) => ({ to, kinds: ['normal'] })),
      });
    }
    return { packages, metadata: false };
  }
  const graph = graphForLockfile(lock, meta.value, meta.file, meta.lockPath);
  const raw = (meta.value as { packages: MetaPackage[] }).packages;
  const byName = new Map<string, MetaPackage[]>();
  for (const p of raw) byName.set(`${p.name}@${p.version}`, [...(byName.get(`${p.name}@${p.version}`) ?? []), p]);
  const ourId = new Map<string, string>();
  for (const n of graph.nodes.values()) {
    const same = byName.get(`${n.name}@${n.version}`) ?? [];
    // Two packages of one name and version (a crates.io crate and a git fork): tell them by source.
    const m = same.length === 1 ? same[0]! : same.find((p) => p.source === (n.source ?? null));
    if (!m) throw new FormatError(meta.file, `package ${n.id} has no entry`, { field: 'packages' });
    ourId.set(m.id, n.id);
    packages.set(n.id, {
      id: n.id,
      name: n.name,
      version: n.version,
      source: n.source,
      member: n.workspaceMember,
      deps: n.deps,
      meta: metaOf(m, meta.file, raw.indexOf(m)),
    });
  }
  const resolve = (meta.value as { resolve: { nodes: MetaNode[]; root?: string | null } }).resolve;
  // As cargo-deny builds its graph (krates, without --workspace): a manifest that is a package
  // (cargo metadata's resolve.root) is the one root; a virtual manifest makes every member one.
  const root = resolve.root ? ourId.get(resolve.root) : undefined;
  const roots = root ? [root] : [...packages.values()].filter((p) => p.member).map((p) => p.id);
  pruneInactive(packages, raw, resolve.nodes, ourId, roots);
  return { packages, metadata: true };
}

/**
 * cargo metadata's `resolve` lists every optional dependency the lockfile resolved, enabled or
 * not; like cargo-deny (its krates graph), keep an edge only when the dependency is not optional
 * or one of the package's enabled features turns it on (`name`, `dep:name`, `name/feature`), and
 * keep only the packages still reached from a workspace member.
 */
function pruneInactive(
  packages: Map<string, DenyPackage>,
  raw: MetaPackage[],
  nodes: MetaNode[],
  ourId: Map<string, string>,
  roots: string[],
): void {
  const byId = new Map(raw.map((p) => [p.id, p]));
  const norm = (s: string) => s.replace(/-/g, '_');
  for (const node of nodes) {
    const p = byId.get(node.id);
    const ours = packages.get(ourId.get(node.id) ?? '');
    if (!p || !ours) continue;
    const enabled = node.features ?? [];
    const on = (key: string) =>
      enabled.includes(key) || enabled.some((f) => (p.features?.[f] ?? []).some((v) => v === `dep:${key}` || v.startsWith(`${key}/`)));
    const active = new Set<string>();
    for (const e of node.deps ?? []) {
      const declared = (p.dependencies ?? []).filter((d) => norm(String(d.rename ?? d.name)) === norm(e.name ?? ''));
      const keep = declared.length === 0 || declared.some((d) => d.optional !== true || on(String(d.rename ?? d.name)));
      const to = ourId.get(e.pkg);
      if (keep && to) active.add(to);
    }
    ours.deps = ours.deps.filter((d) => active.has(d.to));
  }
  const keep = reachable({ packages, metadata: true }, [], roots);
  for (const id of [...packages.keys()]) if (!keep.has(id)) packages.delete(id);
}

function metaOf(p: MetaPackage, file: string, i: number): DenyPackage['meta'] {
  const str = (v: unknown, field: string): string | null => {
    if (v === undefined || v === null) return null;
    if (typeof v !== 'string') throw new FormatError(file, 'expected a string', { field: `packages[${i}].${field}` });
    return v;
  };
  const publish = p.publish ?? null;
  if (publish !== null && (!Array.isArray(publish) || publish.some((r) => typeof r !== 'string'))) {
    throw new FormatError(file, 'expected null or a list of registry names', { field: `packages[${i}].publish` });
  }
  const dependencies = (p.dependencies ?? []).map((d, j) => {
    const name = str(d.name, `dependencies[${j}].name`);
    if (name === null) throw new FormatError(file, 'a dependency without a name', { field: `packages[${i}].dependencies[${j}]` });
    const kind = d.kind === 'dev' ? 'dev' : d.kind === 'build' ? 'build' : 'normal';
    const source = str(d.source, `dependencies[${j}].source`);
    const path = str(d.path, `dependencies[${j}].path`);
    return {
      name,
      req: str(d.req, `dependencies[${j}].req`) ?? '*',
      kind,
      ...(source ? { source } : {}),
      ...(path ? { path } : {}),
    } as DeclaredDependency;
  });
  return { license: str(p.license, 'license'), licenseFile: str(p.license_file, 'license_file'), publish, dependencies };
}

/**
 * The ids reachable from the workspace members (in the graph), or `from`, without crossing an edge of the left-out kinds,
 * as cargo-deny's `krates_filtered` keeps them: a crate reached only through dev-dependencies is
 * not shipped, and is left out of the license and duplicate checks by default.
 */
export function reachable(pkgs: DenyPackages, leaveOut: DepKind[], from?: string[]): Set<string> {
  const seen = new Set<string>();
  const todo = from ? [...from] : [...pkgs.packages.values()].filter((p) => p.member).map((p) => p.id);
  for (const id of todo) seen.add(id);
  while (todo.length) {
    const p = pkgs.packages.get(todo.pop()!);
    for (const d of p?.deps ?? []) {
      if (seen.has(d.to) || d.kinds.every((k) => leaveOut.includes(k))) continue;
      seen.add(d.to);
      todo.push(d.to);
    }
  }
  return seen;
}

/** Packages in cargo-deny's order: by name, then version (SemVer), then id. */
export function inCrateOrder(pkgs: Iterable<DenyPackage>): DenyPackage[] {
  return [...pkgs].sort((a, b) =>
    a.name < b.name ? -1 : a.name > b.name ? 1 : compareVersions(a.version, b.version) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

const compareVersions = (a: string, b: string): number => semver.compare(a, b);
