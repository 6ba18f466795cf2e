/**
 * The sources check, as `cargo deny check sources` judges the Cargo.lock's `source` fields: a
 * crate from a registry not in `allow-registry` (default: crates.io) is `unknown-registry`, one
 * from a git repository not in `allow-git` (nor under a `private` URL prefix, nor owned by an
 * `allow-org` organisation) is `unknown-git`. URLs compare by host and path, a `.git` suffix and a
 * trailing `/` left off git URLs as Cargo does; crates.io matches in either protocol.
 */
import type { GitSpec, SourcesConfig } from './config.js';
import { GIT_SPECS } from './config.js';
import type { DenyFinding } from './finding.js';
import { inCrateOrder, reachable, type DenyPackages } from './packages.js';

interface ParsedUrl {
  host: string;
  path: string;
}

/** `registry+URL`, `sparse+URL`, `git+URL?rev=…#commit` (the `+` prefix also allowed in deny.toml). */
function parseUrl(text: string, git: boolean): ParsedUrl | undefined {
  const scheme = text.indexOf('://');
  const plus = scheme > 0 ? text.slice(0, scheme).indexOf('+') : -1;
  let u: URL;
  try {
    u = new URL(text.slice(plus + 1));
  } catch {
    return undefined;
  }
  let path = u.pathname;
  if (git) {
    if (path.endsWith('.git')) path = path.slice(0, -4);
    if (path.endsWith('/') && path.length > 1) path = path.slice(0, -1);
  }
  return { host: u.hostname.toLowerCase(), path };
}

/**
 * Does a package's source match a URL as cargo-deny's `matches_url` does: the same host, and the
 * same path (`exact`) or a path under it; crates.io by either of its index URLs.
 */
export function sourceMatchesUrl(source: string, url: string, exact: boolean): boolean {
  if (CRATES_IO.test(source)) return isCratesIoUrl(url);
  const git = source.startsWith('git+');
  const a = parseUrl(source, git);
  const b = parseUrl(url, git);
  return a !== undefined && b !== undefined && a.host === b.host && (exact ? a.path === b.path : a.path.startsWith(b.path));
}

const isCratesIoUrl = (url: string): boolean => /(index\.crates\.io\/?|github\.com\/rust-lang\/crates\.io-index\/?)$/.test(url);
const CRATES_IO = /^(registry\+https:\/\/github\.com\/rust-lang\/crates\.io-index|sparse\+https:\/\/index\.crates\.io\/)$/;

/** The git spec a locked git source pins: `?rev=`, `?tag=`, `?branch=` (or `ref`), else any. */
function gitSpecOf(source: string): GitSpec {
  const q = new URL(source.slice(4)).searchParams;
  let spec: GitSpec = 'any';
  for (const k of q.keys()) spec = k === 'rev' ? 'rev' : k === 'tag' ? 'tag' : k === 'branch' || k === 'ref' ? 'branch' : spec;
  return spec;
}

/** `sources` findings in crate order. */
export function checkSources(pkgs: DenyPackages, cfg: SourcesConfig, excludeDev = false): DenyFinding[] {
  if (cfg.unknownRegistry === 'allow' && cfg.unknownGit === 'allow') return [];
  const ids = excludeDev ? reachable(pkgs, ['dev']) : new Set(pkgs.packages.keys());
  const allowed = cfg.allowed.map((a) => ({ ...a, parsed: parseUrl(a.url, a.kind === 'git') }));
  const usedSource = new Set<number>();
  const usedOrg = new Set<number>();
  const out: DenyFinding[] = [];
  for (const p of inCrateOrder([...ids].map((id) => pkgs.packages.get(id)!))) {
    if (!p.source) continue;
    const git = p.source.startsWith('git+');
    if (!git && !p.source.startsWith('registry+') && !p.source.startsWith('sparse+')) continue;
    const pkg = { id: p.id, name: p.name, version: p.version };
    const min = cfg.requiredGitSpec;
    if (git && min && GIT_SPECS.indexOf(gitSpecOf(p.source)) < GIT_SPECS.indexOf(min.spec)) {
      out.push({
        check: 'sources',
        code: 'git-source-underspecified',
        level: 'deny',
        package: pkg,
        message: `git source is underspecified: expected '${min.spec}', found '${gitSpecOf(p.source)}' (${p.source.split('#')[0]})`,
        rule: { key: min.key, line: min.line },
      });
    }
    const url = parseUrl(p.source, git);
    const cratesIo = CRATES_IO.test(p.source);
    const hit = allowed.findIndex((a) => {
      if (cratesIo) return isCratesIoUrl(a.url);
      return (
        a.parsed !== undefined &&
        url !== undefined &&
        a.parsed.host === url.host &&
        (a.kind === 'private' ? url.path.startsWith(a.parsed.path) : a.parsed.path === url.path)
      );
    });
    if (hit >= 0) {
      usedSource.add(hit);
      continue;
    }
    if (git && url) {
      const org = url.path.split('/')[1] ?? '';
      const o = cfg.allowOrg.findIndex((a) => a.host === url.host && a.org.toLowerCase() === org.toLowerCase());
      if (o >= 0) {
        usedOrg.add(o);
        continue;
      }
    }
    const level = git ? cfg.unknownGit : cfg.unknownRegistry;
    if (level === 'allow') continue;
    const ref = git ? cfg.unknownGitRef : cfg.unknownRegistryRef;
    out.push({
      check: 'sources',
      code: 'source-not-allowed',
      level,
      package: pkg,
      message: `source ${p.source.split('#')[0]} is not allowed: no ${git ? 'sources.allow-git, sources.private or sources.allow-org' : 'sources.allow-registry'} entry matches it`,
      rule: ref,
    });
  }
  return [...out, ...unusedAllowances(cfg, allowed, usedSource, usedOrg)];
}

/** Allowed sources and organizations no crate used: findings at the level the config asks. */
function unusedAllowances(
  cfg: SourcesConfig,
  allowed: SourcesConfig['allowed'],
  usedSource: Set<number>,
  usedOrg: Set<number>,
): DenyFinding[] {
  const out: DenyFinding[] = [];
  if (cfg.unusedAllowedSource !== 'allow') {
    allowed.forEach((a, i) => {
      if (!usedSource.has(i) && !isCratesIoUrl(a.url))
        out.push({
          check: 'sources',
          code: 'unmatched-source',
          level: cfg.unusedAllowedSource as 'deny' | 'warn',
          message: `allowed source ${a.url} was not used by any crate`,
          rule: { key: a.key, line: a.line },
        });
    });
  }
  if (cfg.unusedAllowedOrg !== 'allow') {
    cfg.allowOrg.forEach((a, i) => {
      if (!usedOrg.has(i))
        out.push({
          check: 'sources',
          code: 'unmatched-organization',
          level: cfg.unusedAllowedOrg as 'deny' | 'warn',
          message: `allowed ${a.host} organization ${a.org} was not used by any crate`,
          rule: { key: a.key, line: a.line },
        });
    });
  }
  return out;
}
