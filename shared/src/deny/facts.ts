/**
 * The deny checks' inputs carried in the `org.workspaces` event (`deny`, shared `DenyFactsSchema`),
 * so that the scorer judges a workspace exactly as `cratewatch deny` judges its folder: the
 * deny.toml as text, and the crates `denyPackages` made from the Cargo.lock and cargo metadata
 * (the metadata itself, often megabytes, is not sent: only what the checks read from it).
 */
import type { DenyFacts, WorkspaceEvent } from '../events.js';
import { FormatError } from '../errors.js';
import type { DepKind } from '../vet/graph.js';
import type { DenyPackage, DenyPackages } from './packages.js';

/** Where cargo-deny looks for its config in a workspace folder, in its order. */
export const DENY_CONFIG_FILES = ['deny.toml', '.deny.toml', '.cargo/deny.toml'];

/** The event's `deny` for a deny.toml (`file` names it, as beside the lockfile) and the packages judged. */
export function denyFacts(config: { file: string; text: string }, pkgs: DenyPackages): DenyFacts {
  if (!pkgs.metadata) return { config };
  return {
    config,
    packages: [...pkgs.packages.values()].map((p) => ({
      id: p.id,
      member: p.member,
      deps: p.deps,
      license: p.meta!.license,
      licenseFile: p.meta!.licenseFile,
      publish: p.meta!.publish,
      dependencies: p.meta!.dependencies,
    })),
  };
}

/**
 * The packages the deny checks judge, back from an event: with `deny.packages` as `denyPackages`
 * made them from cargo metadata (each id must be a locked package), else from the locked packages
 * and edges alone, as `denyPackages` judges a bare Cargo.lock (a path package is a member, every
 * edge a normal one). Throws `FormatError` naming the field.
 */
export function denyPackagesOfEvent(ev: Pick<WorkspaceEvent, 'id' | 'packages' | 'edges' | 'deny'>): DenyPackages {
  const locked = new Map(ev.packages.map((p) => [p.id, p]));
  const packages = new Map<string, DenyPackage>();
  const where = `workspace ${ev.id}`;
  if (ev.deny?.packages) {
    ev.deny.packages.forEach((f, i) => {
      const p = locked.get(f.id);
      if (!p) throw new FormatError(where, `package ${f.id} is not locked`, { field: `deny.packages.${i}.id` });
      packages.set(f.id, {
        ...identity(p),
        member: f.member,
        deps: f.deps,
        meta: { license: f.license, licenseFile: f.licenseFile, publish: f.publish, dependencies: f.dependencies },
      });
    });
    return { packages, metadata: true };
  }
  const deps = new Map<string, Set<string>>();
  for (const e of ev.edges) deps.set(e.from, (deps.get(e.from) ?? new Set()).add(e.to));
  for (const p of ev.packages) {
    const kinds: DepKind[] = ['normal'];
    packages.set(p.id, {
      ...identity(p),
      member: p.source === undefined,
      deps: [...(deps.get(p.id) ?? [])].map((to) => ({ to, kinds })),
    });
  }
  return { packages, metadata: false };
}

const identity = (p: WorkspaceEvent['packages'][number]) => ({
  id: p.id,
  name: p.name,
  version: p.version,
  ...(p.source !== undefined ? { source: p.source } : {}),
});
