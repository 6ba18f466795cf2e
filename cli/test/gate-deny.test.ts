/**
 * `cratewatch gate` with a deny.toml (built, as a process): only the cargo-deny problems the change
 * brings in fail it (a new license violation, a newly banned crate, a new duplicate, a new git
 * source; one the base already had does not), in every format — text, JSON, SARIF validated against
 * the official schema with cargo-deny's help links, and GitHub annotations on the Cargo.lock line;
 * the base (and head) as CycloneDX SBOMs, from a file and from git (`--base-ref`, where the base's
 * own deny.toml judges the base).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRATES, cratewatch as run, ensureBuilt } from './helpers.js';
import { validateSarif } from './sarif-schema.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });

const GIT = 'git+https://github.com/someone/forked#0123456789abcdef0123456789abcdef01234567';
type Crate = { name: string; version: string; source: string; license: string };
const crate = (name: string, version: string, license = 'MIT', source = CRATES): Crate => ({ name, version, source, license });

/** A Cargo.lock: `app` (the workspace) depending on every crate. */
const lockOf = (crates: Crate[]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${crates.map((c) => `"${c.name} ${c.version}"`).join(', ')}]\n` +
  crates.map((c) => `\n[[package]]\nname = "${c.name}"\nversion = "${c.version}"\nsource = "${c.source}"\n`).join('');

/** `cargo metadata --format-version 1 --all-features` for that lockfile: licenses, and `app`'s requirements. */
const metadataOf = (crates: Crate[]) => {
  const pkg = (c: Crate | { name: string; version: string; source: null; license: string }) => ({
    id: `${c.name} ${c.version}`,
    name: c.name,
    version: c.version,
    source: c.source,
    license: c.license,
    license_file: null,
    publish: null,
    dependencies: c.source === null ? crates.map((d) => ({ name: d.name, req: `=${d.version}`, kind: null, source: d.source })) : [],
  });
  const app = { name: 'app', version: '0.1.0', source: null, license: 'MIT' };
  return {
    packages: [pkg(app), ...crates.map(pkg)],
    workspace_members: ['app 0.1.0'],
    resolve: {
      root: null,
      nodes: [
        { id: 'app 0.1.0', deps: crates.map((c) => ({ pkg: `${c.name} ${c.version}`, dep_kinds: [{ kind: null }] })) },
        ...crates.map((c) => ({ id: `${c.name} ${c.version}`, deps: [] })),
      ],
    },
  };
};

const DENY = `[graph]
all-features = true

[licenses]
allow = ["MIT", "Apache-2.0"]

[bans]
multiple-versions = "deny"
wildcards = "allow"
deny = ["evil"]

[sources]
unknown-git = "deny"
`;

// Base: old-gpl (GPL, a violation the base already has), dup 1.0.0, keep. Head: bad (GPL, new),
// evil (banned), dup 2.0.0 beside 1.0.0 (a new duplicate), forked from git (a new source).
const BASE = [crate('dup', '1.0.0'), crate('keep', '1.0.0'), crate('old-gpl', '1.0.0', 'GPL-3.0-only')];
const HEAD = [
  crate('bad', '1.0.0', 'GPL-3.0-only'),
  crate('dup', '1.0.0'),
  crate('dup', '2.0.0'),
  crate('evil', '1.0.0'),
  crate('forked', '0.1.0', 'MIT', GIT),
  crate('keep', '1.0.0'),
  crate('old-gpl', '1.0.0', 'GPL-3.0-only'),
];
const BROUGHT = [
  'deny/licenses/rejected bad@1.0.0',
  'deny/bans/banned evil@1.0.0',
  'deny/bans/duplicate dup@1.0.0',
  'deny/sources/source-not-allowed forked@0.1.0',
];

/** A workspace folder; every crate exempted, so that the exit code is the deny checks' alone. */
function workspace(dir: string, crates: Crate[], deny?: string): string {
  mkdirSync(path.join(dir, 'supply-chain'), { recursive: true });
  writeFileSync(path.join(dir, 'Cargo.lock'), lockOf(crates));
  writeFileSync(path.join(dir, 'cargo-metadata.json'), JSON.stringify(metadataOf(crates)));
  if (deny !== undefined) writeFileSync(path.join(dir, 'deny.toml'), deny);
  const ex = (c: Crate) =>
    `[[exemptions.${c.name}]]\nversion = "${c.version}${c.source === GIT ? '@git:0123456789abcdef0123456789abcdef01234567' : ''}"\ncriteria = "safe-to-deploy"\n`;
  writeFileSync(
    path.join(dir, 'supply-chain/config.toml'),
    `\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n\n${crates.map(ex).join('\n')}`,
  );
  return dir;
}

/** `check/code crate@version` of the JSON's deny findings. */
const denyOf = (stdout: string) =>
  (JSON.parse(stdout) as { deny: { findings: { check: string; code: string; package: { id: string } }[] } }).deny.findings.map(
    (f) => `deny/${f.check}/${f.code} ${f.package.id}`,
  );

let dir = '';
let base = '';
let head = '';
beforeAll(() => {
  ensureBuilt();
  dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'cratewatch-gate-deny-')));
  base = workspace(path.join(dir, 'base'), BASE);
  head = workspace(path.join(dir, 'head'), HEAD, DENY);
});

describe('gate with a deny.toml', () => {
  it('fails on what the change brings in only, in the text and in --json', () => {
    const r = cratewatch('gate', '--base', path.join(base, 'Cargo.lock'), '--head', path.join(head, 'Cargo.lock'));
    expect(r.code).toBe(1);
    const deny = path.join(head, 'deny.toml');
    const lines = r.stdout.split('\n');
    const at = lines.indexOf(`cargo-deny checks on what the change brings in (${deny}): 4 errors, 0 warnings`);
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1, at + 5)).toEqual([
      `  FAIL deny/licenses/rejected bad@1.0.0: license GPL-3.0-only: rejected GPL-3.0-only — not in licenses.allow  (${deny}:5 licenses.allow)`,
      `  FAIL deny/bans/banned evil@1.0.0: crate is banned by bans.deny[0] "evil"  (${deny}:10 bans.deny[0])`,
      `  FAIL deny/bans/duplicate dup@1.0.0: found 2 duplicate entries for crate 'dup': 1.0.0, 2.0.0  (${deny}:8 bans.multiple-versions)`,
      `  FAIL deny/sources/source-not-allowed forked@0.1.0: source git+https://github.com/someone/forked is not allowed: no sources.allow-git, sources.private or sources.allow-org entry matches it  (${deny}:13 sources.unknown-git)`,
    ]);
    expect(r.stdout).not.toContain('old-gpl');
    const j = cratewatch('gate', '--base', path.join(base, 'Cargo.lock'), '--head', path.join(head, 'Cargo.lock'), '--json');
    expect(j.code).toBe(1);
    expect(denyOf(j.stdout)).toEqual(BROUGHT);
    expect(JSON.parse(j.stdout).deny).toMatchObject({ result: 'fail', errors: 4, warnings: 0, baseConfig: deny });
  });

  it('passes a change that brings in nothing, and without a deny.toml judges no deny check', () => {
    const same = cratewatch('gate', '--base', path.join(head, 'Cargo.lock'), '--head', path.join(head, 'Cargo.lock'), '--json');
    expect(same.code).toBe(0);
    expect(denyOf(same.stdout)).toEqual([]);
    const none = cratewatch('gate', '--base', path.join(head, 'Cargo.lock'), '--head', path.join(base, 'Cargo.lock'), '--json');
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout).deny).toBeNull();
  });

  it('writes SARIF the schema accepts, with one rule per problem kind, cargo-deny help and the Cargo.lock line', () => {
    const r = cratewatch(
      'gate',
      '--base',
      path.join(base, 'Cargo.lock'),
      '--head',
      path.join(head, 'Cargo.lock'),
      '--format',
      'sarif',
      '--srcroot',
      dir,
    );
    expect(r.code).toBe(1);
    const log = JSON.parse(r.stdout);
    expect(validateSarif(log), JSON.stringify(validateSarif.errors)).toBe(true);
    const run0 = log.runs[0];
    const rules = Object.fromEntries(run0.tool.driver.rules.map((x: { id: string }) => [x.id, x]));
    expect(Object.keys(rules).sort()).toEqual([
      'deny/bans/banned',
      'deny/bans/duplicate',
      'deny/licenses/rejected',
      'deny/sources/source-not-allowed',
    ]);
    expect(rules['deny/bans/banned']).toMatchObject({
      name: 'DenyBansBanned',
      helpUri: 'https://embarkstudios.github.io/cargo-deny/checks/bans/diags.html#banned',
      defaultConfiguration: { level: 'error' },
      properties: { 'security-severity': '8.0' },
    });
    expect(rules['deny/bans/banned'].help.markdown).toContain('[cargo-deny');
    expect(rules['deny/sources/source-not-allowed'].properties['security-severity']).toBe('8.0');
    // A license is not a security matter: no security-severity, so code scanning does not rate it as one.
    expect(rules['deny/licenses/rejected'].properties['security-severity']).toBeUndefined();
    expect(rules['deny/bans/duplicate'].properties['security-severity']).toBeUndefined();
    const text = readFileSync(path.join(head, 'Cargo.lock'), 'utf8').split('\n');
    const evil = run0.results.find((x: { ruleId: string }) => x.ruleId === 'deny/bans/banned');
    expect(evil.locations[0].physicalLocation).toEqual({
      artifactLocation: { uri: 'head/Cargo.lock', uriBaseId: '%SRCROOT%' },
      region: { startLine: text.indexOf('name = "evil"') },
    });
    expect(evil.partialFingerprints['cratewatch/v1']).toMatch(/^[0-9a-f]{64}$/);
    expect(
      new Set(run0.results.map((x: { partialFingerprints: Record<string, string> }) => x.partialFingerprints['cratewatch/v1'])).size,
    ).toBe(4);
  });

  it('annotates each problem on its Cargo.lock line for GitHub', () => {
    const r = cratewatch(
      'gate',
      '--base',
      path.join(base, 'Cargo.lock'),
      '--head',
      path.join(head, 'Cargo.lock'),
      '--format',
      'github',
      '--srcroot',
      dir,
    );
    expect(r.code).toBe(1);
    const line = readFileSync(path.join(head, 'Cargo.lock'), 'utf8').split('\n').indexOf('name = "forked"');
    expect(r.stdout).toContain(
      `::error file=head/Cargo.lock,line=${line},title=deny/sources/source-not-allowed%3A forked@0.1.0::forked@0.1.0: source git+https://github.com/someone/forked is not allowed`,
    );
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::error'))).toHaveLength(4);
  });
});

describe('gate with CycloneDX SBOMs', () => {
  /** `cratewatch sbom` of a folder, written as `name` in `into`. */
  const sbom = (from: string, into: string, name: string) => {
    mkdirSync(into, { recursive: true });
    const r = cratewatch('sbom', from, '--output', path.join(into, name));
    expect(r.code, r.stderr).toBe(0);
    return path.join(into, name);
  };

  it('reads the base as an SBOM (with or without cargo metadata beside it): the same problems brought in', () => {
    const withMeta = sbom(base, path.join(dir, 'sbom-base'), 'bom.json');
    writeFileSync(path.join(dir, 'sbom-base', 'cargo-metadata.json'), JSON.stringify(metadataOf(BASE)));
    const r = cratewatch('gate', '--base', withMeta, '--head', path.join(head, 'Cargo.lock'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).base).toBe(withMeta);
    expect(denyOf(r.stdout)).toEqual(BROUGHT);
    // Without metadata the base's licenses are unknown: a license problem is the change's when its crate-version is new.
    const bare = sbom(base, path.join(dir, 'sbom-bare'), 'base.cdx.json');
    const b = cratewatch('gate', '--base', bare, '--head', path.join(head, 'Cargo.lock'), '--json');
    expect(denyOf(b.stdout)).toEqual(BROUGHT);
    // The vet side reads the SBOM base too: nothing the base locked is counted as added (a git crate is not third-party to cargo-vet).
    expect(JSON.parse(b.stdout).changed.map((c: { id: string; change: string }) => `${c.change} ${c.id}`)).toEqual([
      'added bad@1.0.0',
      'upgraded dup@2.0.0',
      'added evil@1.0.0',
    ]);
  });

  it('reads the head as an SBOM, with the deny.toml and cargo metadata beside it', () => {
    const h = path.join(dir, 'sbom-head');
    const file = sbom(head, h, 'bom.json');
    writeFileSync(path.join(h, 'cargo-metadata.json'), JSON.stringify(metadataOf(HEAD)));
    writeFileSync(path.join(h, 'deny.toml'), DENY);
    const r = cratewatch(
      'gate',
      '--base',
      path.join(base, 'Cargo.lock'),
      '--head',
      file,
      '--json',
      '--store',
      path.join(head, 'supply-chain'),
    );
    expect(r.code).toBe(1);
    expect(denyOf(r.stdout)).toEqual(BROUGHT);
  });

  it('reads an SBOM at the git ref, and judges the base by the deny.toml the ref has', () => {
    const repo = path.join(dir, 'repo');
    mkdirSync(path.join(repo, 'ws'), { recursive: true });
    const git = (...args: string[]) => {
      const r = spawnSync('git', ['-c', 'commit.gpgsign=false', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: repo,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
      return r.stdout.trim();
    };
    git('init', '-q');
    const ws = path.join(repo, 'ws');
    // The base: its SBOM and a deny.toml that does not ban `keep`.
    sbom(base, ws, 'bom.json');
    writeFileSync(path.join(ws, 'cargo-metadata.json'), JSON.stringify(metadataOf(BASE)));
    writeFileSync(path.join(ws, 'deny.toml'), DENY);
    git('add', '-A');
    git('commit', '-q', '-m', 'base');
    // The change: the head's SBOM, and a deny.toml that now bans `keep`, which base already locked.
    sbom(head, ws, 'bom.json');
    writeFileSync(path.join(ws, 'cargo-metadata.json'), JSON.stringify(metadataOf(HEAD)));
    writeFileSync(path.join(ws, 'deny.toml'), DENY.replace('deny = ["evil"]', 'deny = ["evil", "keep"]'));
    const r = cratewatch(
      'gate',
      '--base-ref',
      'HEAD',
      '--head',
      path.join(ws, 'bom.json'),
      '--store',
      path.join(head, 'supply-chain'),
      '--json',
    );
    expect(r.code, r.stderr).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.base).toBe('HEAD:ws/bom.json');
    expect(j.deny.baseConfig).toBe('HEAD:ws/deny.toml');
    expect(denyOf(r.stdout)).toEqual([...BROUGHT.slice(0, 2), 'deny/bans/banned keep@1.0.0', ...BROUGHT.slice(2)]);
  });
});
