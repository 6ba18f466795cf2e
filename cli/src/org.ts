/**
 * A set of workspace folders read as one organisation (`plan`, `pools`): each as `scan` reads it
 * (`loadWorkspace`: its Cargo.lock or SBOM, `supply-chain/`, `cargo-metadata.json`), named by its
 * folder, in a team named by the folder above it (`org/<team>/<workspace>`: the layout decides,
 * no mapping file to keep in step). Build-time code is read from crate sources where metadata
 * did not say (`crates/buildtargets.ts`).
 */
import path from 'node:path';
import type { BuildTargets, DepGraph } from '@cratewatch/shared';
import { readBuildTargets } from './crates/buildtargets.js';
import type { CrateSources } from './crates/sources.js';
import { loadWorkspace, UsageError, type Workspace } from './io.js';

export interface OrgWorkspace extends Workspace {
  id: string;
  team: string;
  dir: string;
  /** Where build-time code (proc-macros, build scripts) was known from. */
  buildTimeFrom: 'cargo metadata' | 'crate sources' | 'unknown';
  /** Third-party packages whose targets the crate sources gave. */
  buildTimeRead: number;
}

/** The team of a workspace folder: the name of the folder it sits in. */
export const teamOf = (dir: string): string => path.basename(path.dirname(path.resolve(dir)));

export function loadOrg(dirs: string[]): OrgWorkspace[] {
  if (dirs.length === 0) throw new UsageError('expected at least one workspace folder');
  const names = dirs.map((d) => path.basename(path.resolve(d)));
  return dirs.map((dir, i) => {
    const ws = loadWorkspace(dir);
    // Two folders of one name (a/x, b/x) keep their path as given: ids must tell them apart.
    const id = names.filter((n) => n === names[i]).length > 1 ? dir : names[i]!;
    return { ...ws, id, team: teamOf(dir), dir, buildTimeFrom: ws.metadataPath ? 'cargo metadata' : 'unknown', buildTimeRead: 0 };
  });
}

/** Each workspace's graph with the targets the crate sources give, where metadata gave none. */
export async function withSourceTargets(org: OrgWorkspace[], sources: CrateSources): Promise<OrgWorkspace[]> {
  const out: OrgWorkspace[] = [];
  const memo = new Map<string, BuildTargets | null>();
  for (const w of org) {
    if (w.graph.kindsKnown) {
      out.push(w);
      continue;
    }
    const { graph, read }: { graph: DepGraph; read: number } = await readBuildTargets(w.graph, w.lockfile, sources, memo);
    out.push({ ...w, graph, buildTimeFrom: read ? 'crate sources' : 'unknown', buildTimeRead: read });
  }
  return out;
}
