import { describe, expect, it } from 'vitest';
import {
  checkDeny,
  denyFails,
  denyFindingKey,
  denyPackages,
  denyRuleId,
  newDenyFindings,
  parseDenyConfig,
  parseLockfile,
} from '../../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const lock = (pkgs: [string, string, string[]][]) =>
  parseLockfile(
    `version = 4\n${pkgs.map(([n, v, deps]) => `\n[[package]]\nname = "${n}"\nversion = "${v}"\n${n === 'app' || n === 'tool' ? '' : `source = "${CRATES}"\n`}dependencies = [${deps.map((d) => `"${d}"`).join(', ')}]\n`).join('')}`,
  );
const id = (n: string, v: string) => (n === 'app' || n === 'tool' ? `path+file:///ws/${n}#${v}` : `${CRATES}#${n}@${v}`);

/** cargo metadata for: app -> lib (lib's optional dep `extra` off unless `lib` enables its feature), tool (a second member). */
function metadata(opts: { extraOn: boolean; root: boolean }) {
  const pkg = (
    n: string,
    v: string,
    deps: { name: string; optional?: boolean; rename?: string }[],
    features: Record<string, string[]> = {},
  ) => ({
    id: id(n, v),
    name: n,
    version: v,
    source: n === 'app' || n === 'tool' ? null : CRATES,
    license: 'MIT',
    license_file: null,
    publish: null,
    features,
    dependencies: deps.map((d) => ({
      name: d.name,
      req: '^1',
      kind: null,
      optional: d.optional ?? false,
      rename: d.rename ?? null,
      source: CRATES,
    })),
  });
  return {
    packages: [
      pkg('app', '0.1.0', [{ name: 'lib' }]),
      pkg('tool', '0.1.0', [{ name: 'extra' }]),
      pkg('lib', '1.0.0', [{ name: 'extra', optional: true, rename: 'extra_one' }], { fancy: ['dep:extra_one'] }),
      pkg('extra', '1.0.0', []),
    ],
    workspace_members: [id('app', '0.1.0'), id('tool', '0.1.0')],
    resolve: {
      root: opts.root ? id('app', '0.1.0') : null,
      nodes: [
        { id: id('app', '0.1.0'), features: [], deps: [{ name: 'lib', pkg: id('lib', '1.0.0'), dep_kinds: [{ kind: null }] }] },
        { id: id('tool', '0.1.0'), features: [], deps: [{ name: 'extra', pkg: id('extra', '1.0.0'), dep_kinds: [{ kind: null }] }] },
        {
          id: id('lib', '1.0.0'),
          features: opts.extraOn ? ['fancy'] : [],
          deps: [{ name: 'extra_one', pkg: id('extra', '1.0.0'), dep_kinds: [{ kind: null }] }],
        },
        { id: id('extra', '1.0.0'), features: [], deps: [] },
      ],
    },
  };
}
const L = lock([
  ['app', '0.1.0', ['lib']],
  ['extra', '1.0.0', []],
  ['lib', '1.0.0', ['extra']],
  ['tool', '0.1.0', ['extra']],
]);
const ids = (m: ReturnType<typeof metadata>) =>
  [...denyPackages(L, { value: m, file: 'm.json', lockPath: 'Cargo.lock' }).packages.keys()].sort();

describe('denyPackages: the graph cargo-deny judges', () => {
  it('roots a workspace whose root manifest is a package at that package, and drops optional dependencies no feature turns on', () => {
    expect(ids(metadata({ extraOn: false, root: true }))).toEqual(['app@0.1.0', 'lib@1.0.0']);
    expect(ids(metadata({ extraOn: true, root: true }))).toEqual(['app@0.1.0', 'extra@1.0.0', 'lib@1.0.0']);
  });

  it('roots a virtual workspace at every member', () => {
    expect(ids(metadata({ extraOn: false, root: false }))).toEqual(['app@0.1.0', 'extra@1.0.0', 'lib@1.0.0', 'tool@0.1.0']);
  });

  it('without metadata keeps every locked package, with untyped edges', () => {
    const p = denyPackages(L);
    expect(p.metadata).toBe(false);
    expect(p.packages.size).toBe(4);
    expect(p.packages.get('lib@1.0.0')!.deps).toEqual([{ to: 'extra@1.0.0', kinds: ['normal'] }]);
  });
});

describe('checkDeny and what gate, SARIF and the scorer use', () => {
  const cfg = parseDenyConfig('[graph]\nall-features = true\n[bans]\ndeny = ["extra"]\n[licenses]\nallow = ["Apache-2.0"]\n', 'deny.toml');

  it('runs the configured checks and says which it did not', () => {
    const r = checkDeny(denyPackages(L, { value: metadata({ extraOn: true, root: false }), file: 'm.json', lockPath: 'Cargo.lock' }), cfg);
    expect(r.checks).toEqual({ licenses: 'checked', bans: 'checked', sources: 'not configured' });
    expect(r.findings.filter((f) => f.level === 'deny').map((f) => `${denyRuleId(f)} ${f.package?.id}`)).toEqual([
      'deny/licenses/rejected app@0.1.0',
      'deny/licenses/rejected extra@1.0.0',
      'deny/licenses/rejected lib@1.0.0',
      'deny/licenses/rejected tool@0.1.0',
      'deny/bans/banned extra@1.0.0',
    ]);
    expect(denyFails(r)).toBe(true);
    const noMeta = checkDeny(denyPackages(L), cfg);
    expect(noMeta.checks.licenses).toBe('needs cargo metadata');
    expect(noMeta.findings.map(denyFindingKey)).toEqual(['bans:banned:extra@1.0.0']);
  });

  it('newDenyFindings: what the head has that the base does not', () => {
    const base = checkDeny(
      denyPackages(L, { value: metadata({ extraOn: false, root: true }), file: 'm.json', lockPath: 'Cargo.lock' }),
      cfg,
    );
    const head = checkDeny(
      denyPackages(L, { value: metadata({ extraOn: true, root: true }), file: 'm.json', lockPath: 'Cargo.lock' }),
      cfg,
    );
    expect(newDenyFindings(head, base).map(denyFindingKey)).toEqual(['licenses:rejected:extra@1.0.0', 'bans:banned:extra@1.0.0']);
    expect(newDenyFindings(base, base)).toEqual([]);
  });
});
