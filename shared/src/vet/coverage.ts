/**
 * Pool coverage without a store: for a lockfile and a set of pools' audits.toml, which
 * third-party (crates.io) packages the pools alone vet for safe-to-deploy and for safe-to-run.
 * No exemptions, no policy, no dependency propagation: the figure an organisation asks before
 * adopting cargo-vet. A pool's trusted entries never count (cargo-vet honours only the store's own).
 * Wildcard audits need publisher records, which only an
 * imports.lock carries: pass `publishers` to count them, otherwise they are not counted.
 */
import type { Lockfile } from '../lockfile.js';
import type { AuditsFile, PublisherEntry } from './format.js';
import { SAFE_TO_DEPLOY, SAFE_TO_RUN } from './format.js';
import { graphFromLockfile } from './graph.js';
import { AuditGraph, isThirdParty } from './resolver.js';

export interface PoolCoverage {
  thirdParty: number;
  safeToDeploy: string[];
  /** Vetted for safe-to-run (includes those vetted for safe-to-deploy). */
  safeToRun: string[];
  uncovered: string[];
  /** Per pool: how many packages that pool alone vets for safe-to-deploy / safe-to-run. */
  byPool: Record<string, { safeToDeploy: number; safeToRun: number }>;
}

export function poolCoverage(
  lock: Lockfile,
  pools: Map<string, AuditsFile>,
  publishers = new Map<string, PublisherEntry[]>(),
): PoolCoverage {
  const nodes = [...graphFromLockfile(lock).nodes.values()].filter((n) => isThirdParty(n));
  const vet = (g: AuditGraph, c: string) =>
    nodes.filter((n) => g.reach(n.name, c, false).has(n.vetVersion) && g.conflicts(n.name).length === 0).map((n) => n.id);
  const all = new AuditGraph();
  const byPool: PoolCoverage['byPool'] = {};
  for (const [name, a] of pools) {
    all.addAuditsFile(a, name, 'pool', publishers, { skipUnimportable: true });
    const one = new AuditGraph();
    one.addAuditsFile(a, name, 'pool', publishers, { skipUnimportable: true });
    byPool[name] = { safeToDeploy: vet(one, SAFE_TO_DEPLOY).length, safeToRun: vet(one, SAFE_TO_RUN).length };
  }
  const safeToDeploy = vet(all, SAFE_TO_DEPLOY);
  const safeToRun = vet(all, SAFE_TO_RUN);
  const run = new Set(safeToRun);
  return { thirdParty: nodes.length, safeToDeploy, safeToRun, uncovered: nodes.map((n) => n.id).filter((id) => !run.has(id)), byPool };
}
