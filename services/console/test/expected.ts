/**
 * Expected figures computed without the console: `cratewatch scan --json` on the same lockfile and
 * store (shared's cargo-vet rules), and the lockfile's own dependency lists.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { Lockfile } from '@cratewatch/shared';
import { repoRoot, sharedData } from '../../../test/pipeline-harness.js';

export interface Scan {
  summary: { thirdParty: number; vetted: number; exempted: number; unvetted: number; violation: number };
  unvetted: { id: string; name: string; version: string; status: string }[];
}

export function scan(project: string): Scan {
  const r = spawnSync(process.execPath, [join(repoRoot, 'cli/dist/main.js'), 'scan', join(sharedData, 'projects', project), '--json'], {
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`cratewatch scan ${project} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Scan;
}

export const coverageOf = (scans: Scan[]) => {
  const sum = (k: keyof Scan['summary']) => scans.reduce((n, s) => n + s.summary[k], 0);
  return {
    vetted: sum('vetted'),
    exempted: sum('exempted'),
    unvetted: sum('unvetted'),
    violation: sum('violation'),
    thirdParty: sum('thirdParty'),
  };
};

/** `name@version` of every package of these lockfiles that depends directly on a version of `crate`. */
export function directDependents(locks: Lockfile[], crate: string): string[] {
  const out = new Set<string>();
  for (const l of locks) {
    const targets = new Set(l.packages.filter((p) => p.name === crate).map((p) => p.id));
    for (const p of l.packages) if (p.dependencies.some((d) => targets.has(d))) out.add(`${p.name}@${p.version}`);
  }
  return [...out].sort();
}
