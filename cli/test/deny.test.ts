/**
 * The cargo-deny checks through the built CLI: `scan` reads the workspace's deny.toml (its own
 * section after the advisories, `deny` in --json, exit 1 on a deny-level problem), `cratewatch deny`
 * runs them alone; unsupported keys are one warning each on stderr; a bad deny.toml exits 2.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRATES, cratewatch as run, ensureBuilt } from './helpers.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });

const LOCK = `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["bad", "dup 1.0.0", "dup 2.0.0", "forked"]

[[package]]
name = "bad"
version = "1.0.0"
source = "${CRATES}"

[[package]]
name = "dup"
version = "1.0.0"
source = "${CRATES}"

[[package]]
name = "dup"
version = "2.0.0"
source = "${CRATES}"

[[package]]
name = "forked"
version = "0.1.0"
source = "git+https://github.com/someone/forked#0123456789abcdef0123456789abcdef01234567"
`;

const pkg = (
  name: string,
  version: string,
  source: string | null,
  license: string | null,
  deps: { name: string; req: string; kind?: string | null }[] = [],
) => ({
  id: `${name} ${version}`,
  name,
  version,
  source,
  license,
  license_file: null,
  publish: null,
  dependencies: deps.map((d) => ({ name: d.name, req: d.req, kind: d.kind ?? null, source: CRATES })),
});
const METADATA = {
  packages: [
    pkg('app', '0.1.0', null, 'MIT', [
      { name: 'bad', req: '*' },
      { name: 'dup', req: '^1' },
      { name: 'dup', req: '^2' },
      { name: 'forked', req: '*' },
    ]),
    pkg('bad', '1.0.0', CRATES, 'GPL-3.0-only'),
    pkg('dup', '1.0.0', CRATES, 'MIT OR Apache-2.0'),
    pkg('dup', '2.0.0', CRATES, 'MIT'),
    pkg('forked', '0.1.0', 'git+https://github.com/someone/forked#0123456789abcdef0123456789abcdef01234567', null),
  ],
  workspace_members: ['app 0.1.0'],
  resolve: {
    nodes: [
      {
        id: 'app 0.1.0',
        deps: ['bad 1.0.0', 'dup 1.0.0', 'dup 2.0.0', 'forked 0.1.0'].map((p) => ({ pkg: p, dep_kinds: [{ kind: null }] })),
      },
      ...['bad 1.0.0', 'dup 1.0.0', 'dup 2.0.0', 'forked 0.1.0'].map((id) => ({ id, deps: [] })),
    ],
  },
};
const DENY = `[graph]
all-features = true

[licenses]
allow = ["MIT", "Apache-2.0"]

[bans]
multiple-versions = "deny"
wildcards = "warn"
skip-tree = []

[sources]
unknown-git = "deny"
`;

let dir = '';
let ws = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-deny-'));
  ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
  writeFileSync(path.join(ws, 'Cargo.lock'), LOCK);
  writeFileSync(path.join(ws, 'cargo-metadata.json'), JSON.stringify(METADATA));
  writeFileSync(path.join(ws, 'deny.toml'), DENY);
  // Every crate exempted, so that the exit code is the deny checks' alone.
  const ex = (n: string, v: string) => `[[exemptions.${n}]]\nversion = "${v}"\ncriteria = "safe-to-deploy"\n`;
  writeFileSync(
    path.join(ws, 'supply-chain/config.toml'),
    `\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n\n${[ex('bad', '1.0.0'), ex('dup', '1.0.0'), ex('dup', '2.0.0'), ex('forked', '0.1.0@git:0123456789abcdef0123456789abcdef01234567')].join('\n')}`,
  );
});

describe('scan with a deny.toml', () => {
  it('prints the deny section grouped by check, each line with crate, rule and deny.toml line, and exits 1', () => {
    const r = cratewatch('scan', ws);
    expect(r.stderr).toContain(
      `warning: ${path.join(ws, 'deny.toml')}:10: bans.skip-tree: not supported (ignored): its crates count as duplicates`,
    );
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out).toContain(`  cargo-deny checks (${path.join(ws, 'deny.toml')}): 4 errors, 1 warning (licenses 2, bans 1, sources 1)`);
    expect(out).toMatch(/result: fail \(4 cargo-deny errors\)/);
    const section = out.slice(out.indexOf('cargo-deny checks (', out.indexOf('result:')));
    expect(section.split('\n').slice(0, 9)).toEqual([
      `cargo-deny checks (${path.join(ws, 'deny.toml')}):`,
      '  licenses: 2 errors, 0 warnings',
      `    error rejected  bad@1.0.0: license GPL-3.0-only: rejected GPL-3.0-only — not in licenses.allow  (${path.join(ws, 'deny.toml')}:5 licenses.allow)`,
      `    error unlicensed  forked@0.1.0: no license field: no license expression, so nothing allows it  (${path.join(ws, 'deny.toml')}:5 licenses.allow)`,
      '  bans: 1 error, 1 warning',
      `    error duplicate  dup@1.0.0: found 2 duplicate entries for crate 'dup': 1.0.0, 2.0.0  (${path.join(ws, 'deny.toml')}:8 bans.multiple-versions)`,
      `    warn  wildcard  app@0.1.0: 2 wildcard dependencies: bad = "*", forked = "*"  (${path.join(ws, 'deny.toml')}:9 bans.wildcards)`,
      '  sources: 1 error, 0 warnings',
      `    error source-not-allowed  forked@0.1.0: source git+https://github.com/someone/forked is not allowed: no sources.allow-git, sources.private or sources.allow-org entry matches it  (${path.join(ws, 'deny.toml')}:13 sources.unknown-git)`,
    ]);
  });

  it('gives the findings as `deny` in --json', () => {
    const r = cratewatch('scan', ws, '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.stdout);
    expect(j.deny.result).toBe('fail');
    expect(j.deny.checks).toEqual({ licenses: 'checked', bans: 'checked', sources: 'checked' });
    expect(
      j.deny.findings.map((f: { check: string; code: string; package?: { id: string } }) => `${f.check} ${f.code} ${f.package?.id}`),
    ).toEqual([
      'licenses rejected bad@1.0.0',
      'licenses unlicensed forked@0.1.0',
      'bans wildcard app@0.1.0',
      'bans duplicate dup@1.0.0',
      'sources source-not-allowed forked@0.1.0',
    ]);
    expect(j.deny.findings[3]).toMatchObject({
      level: 'deny',
      versions: ['1.0.0', '2.0.0'],
      rule: { key: 'bans.multiple-versions', line: 8, file: path.join(ws, 'deny.toml') },
    });
    expect(j.deny.unsupportedKeys).toEqual([
      { key: 'bans.skip-tree', line: 10, message: 'not supported (ignored): its crates count as duplicates' },
    ]);
    expect(j.overview.result).toBe('fail');
    expect(j.overview.deny).toEqual({ errors: 4, warnings: 1 });
  });

  it('passes when the config allows what the workspace has (warnings do not fail)', () => {
    const cfg = path.join(dir, 'lenient.toml');
    writeFileSync(
      cfg,
      '[graph]\nall-features = true\n[licenses]\nallow = ["MIT", "GPL-3.0-only"]\nexceptions = [{ crate = "forked", allow = ["MIT"] }]\n[bans]\nmultiple-versions = "warn"\n[sources]\nallow-git = ["https://github.com/someone/forked"]\n',
    );
    const r = cratewatch('scan', ws, '--deny-config', cfg, '--json');
    const j = JSON.parse(r.stdout);
    // forked has no license field at all: an exception cannot help it (cargo-deny would read its license files).
    expect(j.deny.findings.map((f: { code: string; level: string }) => `${f.code} ${f.level}`)).toEqual([
      'unlicensed deny',
      'license-exception-not-encountered warn',
      'duplicate warn',
    ]);
    expect(r.code).toBe(1);
    writeFileSync(
      cfg,
      '[graph]\nall-features = true\n[bans]\nmultiple-versions = "warn"\n[sources]\nallow-git = ["https://github.com/someone/forked"]\n',
    );
    const ok = cratewatch('scan', ws, '--deny-config', cfg);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('  licenses: not checked (no [licenses] section)');
    expect(ok.stdout).toContain('    warn  duplicate  dup@1.0.0');
  });

  it('without cargo metadata says licenses and wildcards cannot be checked', () => {
    const r = cratewatch('scan', path.join(ws, 'Cargo.lock'), '--metadata', path.join(dir, 'none.json'));
    expect(r.code).toBe(2); // a --metadata that does not exist is an input error
    const lockOnly = path.join(dir, 'lock-only');
    mkdirSync(lockOnly);
    writeFileSync(path.join(lockOnly, 'Cargo.lock'), LOCK);
    writeFileSync(path.join(lockOnly, 'deny.toml'), DENY);
    const s = cratewatch('deny', lockOnly, '--json');
    const j = JSON.parse(s.stdout);
    expect(j.checks.licenses).toBe('needs cargo metadata');
    expect(j.notes[0]).toMatch(/^licenses not checked: license fields come from cargo metadata/);
    expect(j.findings.map((f: { code: string }) => f.code)).toEqual(['duplicate', 'source-not-allowed']);
    expect(s.code).toBe(1);
  });
});

describe('cratewatch deny', () => {
  it('runs the checks alone, with the same lines as scan', () => {
    const r = cratewatch('deny', ws);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual([
      `cargo-deny checks (${path.join(ws, 'deny.toml')}):`,
      '  licenses: 2 errors, 0 warnings',
    ]);
    expect(r.stdout).toContain('    error duplicate  dup@1.0.0');
  });

  it('refuses a workspace without deny.toml, and a deny.toml that does not read, naming file and line', () => {
    const empty = path.join(dir, 'nodeny');
    mkdirSync(empty);
    writeFileSync(path.join(empty, 'Cargo.lock'), LOCK);
    const none = cratewatch('deny', empty);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('no deny.toml, .deny.toml, .cargo/deny.toml beside the Cargo.lock; pass --config FILE');
    const bad = path.join(dir, 'bad.toml');
    writeFileSync(bad, '[bans]\nmultiple-versions = "sometimes"\n');
    const r = cratewatch('deny', ws, '--config', bad);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      `cratewatch deny: ${bad}, line 2, field \`bans.multiple-versions\`: expected "deny", "warn" or "allow", not "sometimes"`,
    );
    const scan = cratewatch('scan', ws, '--deny-config', bad);
    expect(scan.code).toBe(2);
  });

  it('has --help', () => {
    const r = cratewatch('deny', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('--config <file>');
    expect(r.stdout).toContain('1 a deny-level problem');
  });
});
