/**
 * Build-time code from the crates' own sources, where `cargo metadata` did not say (a Cargo.lock
 * only): each third-party package without targets whose `.crate` is at hand (the cache or a
 * `--crate-cache` folder; never downloaded for this) is read for `[lib] proc-macro`, `build` and
 * `build.rs` (shared `buildTargetsOfCrate`). The others stay unknown, and the report says so.
 */
import { buildTargetsOfCrate, isThirdParty, withBuildTargets, type BuildTargets, type DepGraph, type Lockfile } from '@cratewatch/shared';
import type { CrateSources } from './sources.js';

/** `memo` (by `name@version`) is shared across workspaces: a crate many of them lock is unpacked once. */
export async function readBuildTargets(
  graph: DepGraph,
  lockfile: Lockfile,
  sources: CrateSources,
  memo = new Map<string, BuildTargets | null>(),
): Promise<{ graph: DepGraph; read: number }> {
  const checksums = new Map(lockfile.packages.filter((p) => p.checksum).map((p) => [p.id, p.checksum!]));
  const found = new Map<string, BuildTargets>();
  for (const n of graph.nodes.values()) {
    if (n.build || !isThirdParty(n) || n.vetVersion.includes('@git:')) continue;
    const key = `${n.name}@${n.version}`;
    if (!memo.has(key)) {
      const tree = await sources.tree(n.name, n.version, checksums.get(n.id));
      memo.set(key, tree ? buildTargetsOfCrate(n.name, n.version, tree) : null);
    }
    const b = memo.get(key);
    if (b) found.set(n.id, b);
  }
  return { graph: found.size ? withBuildTargets(graph, found) : graph, read: found.size };
}
