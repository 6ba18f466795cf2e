/**
 * How a locked crate is reached: the shortest chain of dependencies from a workspace member (a
 * path package of the Cargo.lock) to it. A security engineer asks this first about a vulnerable
 * crate: is it ours to upgrade (direct), or which dependency of ours pulls it in?
 */
import { isFirstParty, type Lockfile } from './lockfile.js';

/** `[member, …, crate]` ids; a member's own path is `[member]`. */
export type DependencyPath = string[];

/**
 * For every package reachable from a workspace member, its shortest dependency path from one
 * (breadth-first from all members at once). Ties are broken by the order members and dependencies
 * appear in the Cargo.lock (Cargo sorts both by name), so the answer is stable from run to run.
 * A package no member reaches (a lockfile edited by hand) has no entry.
 */
export function shortestPathsFromMembers(lock: Lockfile): Map<string, DependencyPath> {
  const deps = new Map(lock.packages.map((p) => [p.id, p.dependencies]));
  const parent = new Map<string, string | null>();
  let frontier = lock.packages.filter(isFirstParty).map((p) => p.id);
  for (const m of frontier) parent.set(m, null);
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const d of deps.get(id) ?? []) {
        if (parent.has(d)) continue;
        parent.set(d, id);
        next.push(d);
      }
    }
    frontier = next;
  }
  const paths = new Map<string, DependencyPath>();
  const pathOf = (id: string): DependencyPath => {
    const known = paths.get(id);
    if (known) return known;
    const up = parent.get(id);
    const p = up == null ? [id] : [...pathOf(up), id];
    paths.set(id, p);
    return p;
  };
  for (const id of parent.keys()) pathOf(id);
  return paths;
}

export type Reach = 'member' | 'direct' | 'transitive' | 'unreachable';

/** `direct`: a member depends on it; `transitive`: through other crates; `member`: it is one. */
export function reachOf(path: DependencyPath | undefined): Reach {
  if (!path) return 'unreachable';
  return path.length === 1 ? 'member' : path.length === 2 ? 'direct' : 'transitive';
}

/** In words: `direct dependency of app@0.1.0`, or `app@0.1.0 → hyper@1.0.0 → h2@0.4.0`. */
export function describeReach(path: DependencyPath | undefined): string {
  switch (reachOf(path)) {
    case 'unreachable':
      return 'not reached from any workspace member';
    case 'member':
      return 'a workspace member';
    case 'direct':
      return `direct dependency of ${path![0]}`;
    default:
      return path!.join(' → ');
  }
}
