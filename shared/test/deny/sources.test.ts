import { describe, expect, it } from 'vitest';
import { checkSources, parseDenyConfig, type DenyPackage, type DenyPackages } from '../../src/index.js';

function locked(sources: Record<string, string | undefined>): DenyPackages {
  const packages = new Map<string, DenyPackage>();
  for (const [id, source] of Object.entries(sources)) {
    const [name, version] = id.split('@') as [string, string];
    packages.set(id, { id, name, version, source, member: source === undefined, deps: [] });
  }
  return { packages, metadata: false };
}
const sources = (toml: string) => parseDenyConfig(`[sources]\n${toml}\n`).sources!;

const ws = locked({
  'app@0.1.0': undefined,
  'serde@1.0.0': 'registry+https://github.com/rust-lang/crates.io-index',
  'sparse@1.0.0': 'sparse+https://index.crates.io/',
  'corp@1.0.0': 'sparse+https://crates.corp.example/index/',
  'forked@0.3.0': 'git+https://github.com/acme/forked#0123456789abcdef0123456789abcdef01234567',
  'pinned@1.0.0': 'git+https://github.com/solo/pinned.git?rev=0123456#0123456789abcdef0123456789abcdef01234567',
  'lab@1.0.0': 'git+https://gitlab.com/Other/lab?branch=main#0123456789abcdef0123456789abcdef01234567',
  'inner@1.0.0': 'git+https://git.corp.example/team/inner?tag=v1#0123456789abcdef0123456789abcdef01234567',
});

describe('checkSources', () => {
  it('allows crates.io (both protocols) by default and names every other source at its level', () => {
    const f = checkSources(ws, sources('unknown-registry = "deny"\nunknown-git = "warn"'));
    expect(f.map((x) => [x.package?.name, x.level, x.rule.key])).toEqual([
      ['corp', 'deny', 'sources.unknown-registry'],
      ['forked', 'warn', 'sources.unknown-git'],
      ['inner', 'warn', 'sources.unknown-git'],
      ['lab', 'warn', 'sources.unknown-git'],
      ['pinned', 'warn', 'sources.unknown-git'],
    ]);
    expect(f[0]!.message).toBe(
      'source sparse+https://crates.corp.example/index/ is not allowed: no sources.allow-registry entry matches it',
    );
  });

  it('matches allow-git exactly (a .git suffix aside), private by prefix, allow-org by owner in any case', () => {
    const cfg = sources(
      [
        'unknown-registry = "deny"',
        'unknown-git = "deny"',
        'allow-registry = ["sparse+https://crates.corp.example/index/", "https://github.com/rust-lang/crates.io-index"]',
        'allow-git = ["https://github.com/solo/pinned", "https://github.com/acme/forked/other"]',
        'private = ["https://git.corp.example/team"]',
        '[sources.allow-org]',
        'gitlab = ["other"]',
      ].join('\n'),
    );
    const f = checkSources(ws, cfg);
    expect(f.map((x) => [x.code, x.package?.name ?? x.rule.key])).toEqual([
      ['source-not-allowed', 'forked'],
      ['unmatched-source', 'sources.allow-git[1]'],
    ]);
  });

  it('requires a git spec at least as specific as required-git-spec', () => {
    const f = checkSources(
      ws,
      sources(
        'unknown-registry = "allow"\nunknown-git = "warn"\nrequired-git-spec = "tag"\nallow-org = { github = ["acme", "solo"], gitlab = ["other"] }\nprivate = ["https://git.corp.example/"]',
      ),
    );
    expect(f.map((x) => [x.code, x.package?.name, x.level])).toEqual([
      ['git-source-underspecified', 'forked', 'deny'],
      ['git-source-underspecified', 'lab', 'deny'],
    ]);
    expect(f[1]!.message).toContain("expected 'tag', found 'branch'");
  });

  it('does nothing when both levels are allow', () => {
    expect(checkSources(ws, sources('unknown-registry = "allow"\nunknown-git = "allow"'))).toEqual([]);
  });
});
