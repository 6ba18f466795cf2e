/**
 * The bans check, as `cargo deny check bans` judges the graph: crates denied by name and version
 * (`bans.deny`, with `wrappers` that may still depend on them directly), crates outside a non-empty
 * `bans.allow`, several versions of one crate (`multiple-versions`, less `skip` entries and the
 * "semver trick": a version whose only dependents are other versions of itself), and `*`
 * requirements in the workspace's own manifests (`wildcards`, as cargo metadata gives them).
 */
import type { BansConfig, SpecRule } from './config.js';
import type { DenyFinding } from './finding.js';
import { inCrateOrder, reachable, type DeclaredDependency, type DenyPackage, type DenyPackages } from './packages.js';
import { specMatches } from './spec.js';

const pkgOf = (p: DenyPackage) => ({ id: p.id, name: p.name, version: p.version });
const detail = (r: SpecRule) => `${r.key} "${r.spec.text}"${r.reason ? `: ${r.reason}` : ''}`;

/** Who depends on each package directly (every edge kind). */
function dependentsOf(pkgs: DenyPackages): Map<string, DenyPackage[]> {
  const out = new Map<string, DenyPackage[]>();
  for (const p of pkgs.packages.values()) for (const d of p.deps) out.set(d.to, [...(out.get(d.to) ?? []), p]);
  return out;
}

/** `bans` findings in cargo-deny's crate order (by name, then version). */
export function checkBans(pkgs: DenyPackages, cfg: BansConfig, excludeDev = false): DenyFinding[] {
  const dependents = dependentsOf(pkgs);
  const all = inCrateOrder(excludeDev ? [...reachable(pkgs, ['dev'])].map((id) => pkgs.packages.get(id)!) : pkgs.packages.values());
  const out: DenyFinding[] = [];
  for (const p of all) out.push(...denied(p, cfg, dependents.get(p.id) ?? []));
  // Duplicates and wildcards look at what ships: a crate reached only through dev-dependencies is left out unless asked for.
  const counted = cfg.multipleVersionsIncludeDev && !excludeDev ? new Set(all.map((p) => p.id)) : reachable(pkgs, ['dev']);
  const skipHits = new Set<number>();
  const byName = new Map<string, { p: DenyPackage; skipped: boolean }[]>();
  for (const p of all) {
    if (!counted.has(p.id)) continue;
    const skips = cfg.skip.map((s, i) => (specMatches(s.spec, p) ? i : -1)).filter((i) => i >= 0);
    skips.forEach((i) => skipHits.add(i));
    byName.set(p.name, [...(byName.get(p.name) ?? []), { p, skipped: skips.length > 0 }]);
    if (skips.length === 0) out.push(...wildcards(p, cfg));
  }
  const withDupes = new Set<string>();
  for (const [name, group] of byName) {
    const f = duplicates(name, group, cfg, dependents);
    if (group.length > 1) withDupes.add(name);
    if (f) out.push(f);
  }
  cfg.skip.forEach((s, i) => {
    if (!skipHits.has(i))
      out.push({
        check: 'bans',
        code: 'unmatched-skip',
        level: 'warn',
        message: `skip ${s.spec.text} matched no crate in the graph`,
        rule: { key: s.key, line: s.line },
      });
    else if (!withDupes.has(s.spec.name))
      out.push({
        check: 'bans',
        code: 'unnecessary-skip',
        level: 'warn',
        message: `skip ${s.spec.text}: ${s.spec.name} has only one version in the graph`,
        rule: { key: s.key, line: s.line },
      });
  });
  return out;
}

/** `bans.deny` (unless every direct dependent is one of its wrappers) and a non-empty `bans.allow`. */
function denied(p: DenyPackage, cfg: BansConfig, dependents: DenyPackage[]): DenyFinding[] {
  const out: DenyFinding[] = [];
  if (!(p.member && cfg.allowWorkspace)) {
    for (const ban of cfg.deny) {
      if (ban.denyMultipleVersions || !specMatches(ban.spec, p)) continue;
      if (ban.wrappers && dependents.length > 0 && dependents.every((d) => ban.wrappers!.includes(d.name))) continue;
      const others = ban.wrappers ? dependents.filter((d) => !ban.wrappers!.includes(d.name)) : [];
      for (const d of others) {
        out.push({
          check: 'bans',
          code: 'unmatched-wrapper',
          level: 'warn',
          package: pkgOf(p),
          message: `direct dependent ${d.id} of banned ${p.id} is not one of its wrappers`,
          rule: { key: ban.key, line: ban.line },
        });
      }
      const wrapped = others.length ? `; depended on directly by ${others.map((d) => d.id).join(', ')}, not a wrapper` : '';
      out.push({
        check: 'bans',
        code: 'banned',
        level: 'deny',
        package: pkgOf(p),
        message: `crate is banned by ${detail(ban)}${ban.useInstead ? `; use ${ban.useInstead} instead` : ''}${wrapped}`,
        rule: { key: ban.key, line: ban.line },
      });
    }
  }
  if (cfg.allow.length > 0 && !cfg.allow.some((a) => specMatches(a.spec, p)) && !(p.member && cfg.allowWorkspace)) {
    out.push({
      check: 'bans',
      code: 'not-allowed',
      level: 'deny',
      package: pkgOf(p),
      message: 'crate is not in bans.allow (a non-empty allow list denies every other crate)',
      rule: { key: 'bans.allow', line: cfg.allow[0]?.line },
    });
  }
  return out;
}

/** Several versions of one crate name: one finding naming every version not skipped. */
function duplicates(
  name: string,
  group: { p: DenyPackage; skipped: boolean }[],
  cfg: BansConfig,
  dependents: Map<string, DenyPackage[]>,
): DenyFinding | undefined {
  // The semver trick (a version kept only as a dependency of a newer one of itself) is no duplicate.
  const dupes = group.length === 1 ? group : group.filter(({ p }) => !(dependents.get(p.id) ?? []).every((d) => d.name === name));
  const kept = dupes.filter((d) => !d.skipped);
  if (kept.length <= 1) return undefined;
  const strict = cfg.deny.find((b) => b.denyMultipleVersions && kept.some(({ p }) => specMatches(b.spec, p)));
  const level = strict ? 'deny' : cfg.multipleVersions;
  if (level === 'allow') return undefined;
  const versions = kept.map(({ p }) => p.version);
  const skipped = dupes.length - kept.length;
  return {
    check: 'bans',
    code: 'duplicate',
    level,
    package: pkgOf(kept[0]!.p),
    versions,
    message: `found ${kept.length} duplicate entries for crate '${name}': ${versions.join(', ')}${skipped ? ` (${skipped} more skipped)` : ''}`,
    rule: strict ? { key: strict.key, line: strict.line } : cfg.multipleVersionsRef,
  };
}

/**
 * `*` requirements declared by a workspace package (only their manifests are read, as cargo-deny
 * reads them). With `allow-wildcard-paths`, a path or git dependency is fine in a private crate
 * (`publish = false`) and as a dev-dependency anywhere.
 */
function wildcards(p: DenyPackage, cfg: BansConfig): DenyFinding[] {
  if (cfg.wildcards === 'allow' || p.source !== undefined || !p.meta) return [];
  const isPrivate = p.meta.publish !== null && p.meta.publish.length === 0;
  const bad = p.meta.dependencies.filter((d) => {
    if (d.req !== '*') return false;
    const notRegistry = d.path !== undefined || d.source?.startsWith('git+') === true;
    if (cfg.allowWildcardPaths && notRegistry && (isPrivate || d.kind === 'dev')) return false;
    return !(d.name === p.name && d.path !== undefined); // a path dependency on itself, which Cargo allows
  });
  if (bad.length === 0) return [];
  const what = (d: DeclaredDependency) =>
    `${d.name} = "*"${d.kind !== 'normal' ? ` (${d.kind}-dependency)` : ''}${d.path !== undefined ? ` (path ${d.path})` : d.source?.startsWith('git+') ? ' (git)' : ''}`;
  // One finding per crate, as cargo-deny gives it, naming each dependency.
  return [
    {
      check: 'bans',
      code: 'wildcard',
      level: cfg.wildcards as 'deny' | 'warn',
      package: pkgOf(p),
      message: `${bad.length === 1 ? 'wildcard dependency' : `${bad.length} wildcard dependencies`}: ${bad.map(what).join(', ')}`,
      rule: cfg.wildcardsRef,
    },
  ];
}
