import { describe, expect, it } from 'vitest';
import { checkBans, parseDenyConfig, type DeclaredDependency, type DenyPackage, type DenyPackages } from '../../src/index.js';

/** A small graph: `edges` as `from -> to` ids (`to` with `(dev)` for a dev edge). */
function graph(
  ids: string[],
  edges: string[],
  opts: { members?: string[]; declared?: Record<string, DeclaredDependency[]>; publish?: Record<string, string[]> } = {},
): DenyPackages {
  const packages = new Map<string, DenyPackage>();
  for (const id of ids) {
    const [name, version] = id.split('@') as [string, string];
    const member = opts.members?.includes(id) ?? false;
    packages.set(id, {
      id,
      name,
      version,
      member,
      source: member ? undefined : 'registry+https://github.com/rust-lang/crates.io-index',
      deps: [],
      meta: { license: 'MIT', licenseFile: null, publish: opts.publish?.[id] ?? null, dependencies: opts.declared?.[id] ?? [] },
    });
  }
  for (const e of edges) {
    const [from, to] = e.split(' -> ') as [string, string];
    const dev = to.endsWith(' (dev)');
    packages.get(from)!.deps.push({ to: to.replace(' (dev)', ''), kinds: [dev ? 'dev' : 'normal'] });
  }
  return { packages, metadata: true };
}
const bans = (toml: string) => parseDenyConfig(`[bans]\n${toml}\n`).bans!;

describe('checkBans', () => {
  const g = graph(
    ['app@0.1.0', 'a@1.0.0', 'b@1.0.0', 'dup@1.0.0', 'dup@2.0.0', 'dup@3.0.0', 'old@0.1.0', 'test@1.0.0', 'test@2.0.0'],
    [
      'app@0.1.0 -> a@1.0.0',
      'app@0.1.0 -> b@1.0.0',
      'a@1.0.0 -> dup@1.0.0',
      'b@1.0.0 -> dup@2.0.0',
      'app@0.1.0 -> dup@3.0.0',
      'a@1.0.0 -> old@0.1.0',
      'app@0.1.0 -> test@1.0.0 (dev)',
      'b@1.0.0 -> test@2.0.0',
    ],
    { members: ['app@0.1.0'] },
  );

  it('reports duplicate versions at the configured level, less skipped ones and dev-only ones', () => {
    expect(checkBans(g, bans('multiple-versions = "deny"')).map((f) => [f.code, f.level, f.versions])).toEqual([
      ['duplicate', 'deny', ['1.0.0', '2.0.0', '3.0.0']],
    ]);
    const skipped = checkBans(g, bans('multiple-versions = "warn"\nskip = ["dup@1.0.0"]'));
    expect(skipped.map((f) => [f.code, f.level, f.versions, f.rule.key])).toEqual([
      ['duplicate', 'warn', ['2.0.0', '3.0.0'], 'bans.multiple-versions'],
    ]);
    expect(skipped[0]!.message).toContain('(1 more skipped)');
    expect(checkBans(g, bans('multiple-versions = "deny"\nskip = ["dup:<3"]'))).toEqual([]);
    // test@1.0.0 is reached only as a dev-dependency: no duplicate unless asked for.
    expect(
      checkBans(g, bans('multiple-versions = "deny"\nmultiple-versions-include-dev = true\nskip = ["dup"]')).map((f) => f.package?.name),
    ).toEqual(['test']);
    expect(checkBans(g, bans('multiple-versions = "allow"'))).toEqual([]);
  });

  it('warns about a skip that matches nothing or skips a crate with one version', () => {
    const f = checkBans(g, bans('multiple-versions = "allow"\nskip = [\n  "nothere",\n  "a",\n]'));
    expect(f.map((x) => [x.code, x.rule.key, x.rule.line])).toEqual([
      ['unmatched-skip', 'bans.skip[0]', 4],
      ['unnecessary-skip', 'bans.skip[1]', 5],
    ]);
  });

  it('bans a crate by name and version requirement, with its reason', () => {
    const f = checkBans(
      g,
      bans(
        'multiple-versions = "allow"\ndeny = [{ crate = "dup:>=2", reason = "use dup 1", use-instead = "newdup" }, "old@0.1.0", "old@0.2.0"]',
      ),
    );
    expect(f.map((x) => [x.code, x.package?.id, x.rule.key])).toEqual([
      ['banned', 'dup@2.0.0', 'bans.deny[0]'],
      ['banned', 'dup@3.0.0', 'bans.deny[0]'],
      ['banned', 'old@0.1.0', 'bans.deny[1]'],
    ]);
    expect(f[0]!.message).toBe('crate is banned by bans.deny[0] "dup:>=2": use dup 1; use newdup instead');
  });

  it('lets the wrappers of a banned crate depend on it, and no one else', () => {
    expect(checkBans(g, bans('multiple-versions = "allow"\ndeny = [{ crate = "old", wrappers = ["a"] }]'))).toEqual([]);
    const f = checkBans(g, bans('multiple-versions = "allow"\ndeny = [{ crate = "dup@1.0.0", wrappers = ["b"] }]'));
    expect(f.map((x) => [x.code, x.level, x.message])).toEqual([
      ['unmatched-wrapper', 'warn', 'direct dependent a@1.0.0 of banned dup@1.0.0 is not one of its wrappers'],
      ['banned', 'deny', 'crate is banned by bans.deny[0] "dup@1.0.0"; depended on directly by a@1.0.0, not a wrapper'],
    ]);
  });

  it('denies duplicates of one crate with deny-multiple-versions, whatever multiple-versions says', () => {
    const f = checkBans(
      g,
      bans('multiple-versions = "allow"\ndeny = [{ crate = "test", deny-multiple-versions = true }]\nmultiple-versions-include-dev = true'),
    );
    expect(f.map((x) => [x.code, x.level, x.package?.name, x.rule.key])).toEqual([['duplicate', 'deny', 'test', 'bans.deny[0]']]);
  });

  it('denies every crate outside a non-empty allow list', () => {
    const f = checkBans(g, bans('multiple-versions = "allow"\nallow = ["app", "a", "b", "dup", "test"]'));
    expect(f.map((x) => [x.code, x.package?.id])).toEqual([['not-allowed', 'old@0.1.0']]);
  });

  it('ignores the semver trick: a version whose only dependents are versions of itself', () => {
    const trick = graph(['app@0.1.0', 'libc@0.2.0', 'libc@0.1.12'], ['app@0.1.0 -> libc@0.1.12', 'libc@0.1.12 -> libc@0.2.0'], {
      members: ['app@0.1.0'],
    });
    expect(checkBans(trick, bans('multiple-versions = "deny"'))).toEqual([]);
  });

  it('finds `*` requirements in workspace manifests; allow-wildcard-paths spares path deps of private crates and dev-deps', () => {
    const dep = (name: string, kind: DeclaredDependency['kind'], path?: string): DeclaredDependency => ({
      name,
      req: '*',
      kind,
      ...(path ? { path } : {}),
    });
    const w = graph(
      ['app@0.1.0', 'lib@0.1.0', 'priv@0.1.0', 'a@1.0.0'],
      ['app@0.1.0 -> lib@0.1.0', 'app@0.1.0 -> a@1.0.0', 'priv@0.1.0 -> lib@0.1.0'],
      {
        members: ['app@0.1.0', 'lib@0.1.0', 'priv@0.1.0'],
        declared: {
          'app@0.1.0': [dep('lib', 'normal', '/ws/lib'), dep('a', 'normal'), dep('lib', 'dev', '/ws/lib')],
          'priv@0.1.0': [dep('lib', 'normal', '/ws/lib')],
        },
        publish: { 'priv@0.1.0': [] },
      },
    );
    const strict = checkBans(w, bans('multiple-versions = "allow"\nwildcards = "deny"'));
    // One finding per crate, naming each `*` dependency.
    expect(strict.map((f) => [f.package?.name, f.message])).toEqual([
      ['app', '3 wildcard dependencies: lib = "*" (path /ws/lib), a = "*", lib = "*" (dev-dependency) (path /ws/lib)'],
      ['priv', 'wildcard dependency: lib = "*" (path /ws/lib)'],
    ]);
    const paths = checkBans(w, bans('multiple-versions = "allow"\nwildcards = "warn"\nallow-wildcard-paths = true'));
    expect(paths.map((f) => [f.package?.name, f.level, f.message])).toEqual([
      ['app', 'warn', '2 wildcard dependencies: lib = "*" (path /ws/lib), a = "*"'],
    ]);
    expect(checkBans(w, bans('multiple-versions = "allow"'))).toEqual([]); // wildcards default to allow
  });
});
