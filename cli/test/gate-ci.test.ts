/**
 * `cratewatch gate` for CI (built, as a process): the base read from git (`--base-ref`, on a git
 * repository the test makes: two commits, no network), `--format github` annotations escaped as
 * the runner reads them, and SARIF with what code scanning reads, validated against the official
 * SARIF 2.1.0 schema (cli/test/schemas/, see its README), with fingerprints that survive a line shift.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { escapeData, escapeProperty } from '../src/github.js';
import { CRATES, cratewatch as run, ensureBuilt, root } from './helpers.js';
import { validateSarif as validate } from './sarif-schema.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });

const lock = (crates: [string, string][]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${crates.map(([n]) => `"${n}"`).join(', ')}]\n` +
  crates.map(([n, v]) => `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "${CRATES}"\n`).join('');
const CONFIG = '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n';
/** audits.toml as cargo vet fmt writes it (crates in order). */
const audits = (crates: [string, string][]) =>
  '\n# cargo-vet audits file\n' +
  crates.map(([n, v]) => `\n[[audits.${n}]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "${v}"\n`).join('');
const advisory = (id: string, pkg: string, title: string, extra = '') =>
  `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "${pkg}"\ndate = "2098-01-01"\n${extra}\n[versions]\npatched = [">= 9.0.0"]\n\`\`\`\n\n# ${title}\n\nThe description of ${id}.\n`;

/** The 1-based line of `[[package]]` for crate `name` in a lockfile this test wrote (the line before `name = …`). */
const packageLine = (text: string, name: string) => text.split('\n').indexOf(`name = "${name}"`);

let dir = '';
let repo = '';
let db = '';
let c1 = '';
const headLock = () => path.join(repo, 'ws', 'Cargo.lock');
const git = (...args: string[]) => {
  const r = spawnSync('git', ['-c', 'commit.gpgsign=false', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
    cwd: repo,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
};
const write = (rel: string, text: string) => {
  mkdirSync(path.dirname(path.join(repo, rel)), { recursive: true });
  writeFileSync(path.join(repo, rel), text);
};

beforeAll(() => {
  ensureBuilt();
  dir = realpathSync(mkdtempSync(path.join(tmpdir(), 'cratewatch-gate-ci-')));
  repo = path.join(dir, 'repo');
  mkdirSync(repo);
  git('init', '-q');
  // Base: foo 1.0.0, gone 1.0.0 (vulnerable), keep 1.0.0 (audited).
  write(
    'ws/Cargo.lock',
    lock([
      ['foo', '1.0.0'],
      ['gone', '1.0.0'],
      ['keep', '1.0.0'],
    ]),
  );
  write('ws/supply-chain/config.toml', CONFIG);
  write(
    'ws/supply-chain/audits.toml',
    audits([
      ['foo', '1.0.0'],
      ['gone', '1.0.0'],
      ['keep', '1.0.0'],
    ]),
  );
  git('add', '-A');
  git('commit', '-q', '-m', 'base');
  c1 = git('rev-parse', 'HEAD');
  // Head: bar added (vulnerable, unvetted), baz added (unmaintained, audited), foo upgraded (unvetted),
  // gone removed, keep still locked but its audit removed from the store.
  write(
    'ws/Cargo.lock',
    lock([
      ['bar', '2.0.0'],
      ['baz', '0.1.0'],
      ['foo', '1.1.0'],
      ['keep', '1.0.0'],
    ]),
  );
  write(
    'ws/supply-chain/audits.toml',
    audits([
      ['baz', '0.1.0'],
      ['foo', '1.0.0'],
    ]),
  );
  write('sub/Cargo.lock', lock([['foo', '1.0.0']])); // a lockfile the base commit does not have
  git('add', '-A');
  git('commit', '-q', '-m', 'head');
  db = path.join(dir, 'advisory-db');
  for (const [id, pkg, title, extra] of [
    [
      'RUSTSEC-2098-0021',
      'bar',
      'bar: remote code execution',
      'cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"\naliases = ["CVE-2098-0001"]\n',
    ],
    ['RUSTSEC-2098-0022', 'baz', 'baz: 100% unmaintained, use qux', 'informational = "unmaintained"\n'],
    ['RUSTSEC-2098-0023', 'gone', 'gone: a hole', ''],
  ]) {
    mkdirSync(path.join(db, 'crates', pkg!), { recursive: true });
    writeFileSync(path.join(db, 'crates', pkg!, `${id}.md`), advisory(id!, pkg!, title!, extra));
  }
});

describe('gate --base-ref', () => {
  it('reads base Cargo.lock and store from git: added, upgraded, removed (fixed) and un-vetted by the store change', () => {
    const r = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--advisory-db', db);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  FAIL added bar@2.0.0: unvetted');
    expect(r.stdout).toContain('  ok   added baz@0.1.0: vetted');
    expect(r.stdout).toContain('  FAIL upgraded foo@1.1.0: unvetted');
    expect(r.stdout).toContain('  FAIL no longer vetted keep@1.0.0: unvetted'); // its audit was removed: only the base store shows it
    expect(r.stdout).toContain('  FAIL added RUSTSEC-2098-0021 bar@2.0.0: bar: remote code execution — patched: >= 9.0.0');
    expect(r.stdout).toContain('Fixed by this change: RUSTSEC-2098-0023 (gone@1.0.0)');
    // HEAD~1 names the same commit.
    expect(cratewatch('gate', '--base-ref', 'HEAD~1', '--head', headLock(), '--advisory-db', db).stdout).toBe(r.stdout);
  });

  it('judges the change exactly as --base with the same lockfile does (less what only the base store shows)', () => {
    const baseFile = path.join(dir, 'base.lock');
    writeFileSync(baseFile, git('show', `${c1}:ws/Cargo.lock`) + '\n');
    const byRef = JSON.parse(cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--advisory-db', db, '--json').stdout);
    const byFile = JSON.parse(cratewatch('gate', '--base', baseFile, '--head', headLock(), '--advisory-db', db, '--json').stdout);
    expect(byRef.base).toBe(`${c1}:ws/Cargo.lock`);
    expect(byRef.baseRef).toBe(c1);
    expect(byRef.changed.filter((c: { change: string }) => c.change !== 'no longer vetted')).toEqual(byFile.changed);
    expect(byRef.changed.map((c: { id: string }) => c.id).sort()).toEqual(['bar@2.0.0', 'baz@0.1.0', 'foo@1.1.0', 'keep@1.0.0']);
    for (const k of ['advisories', 'fixedAdvisories', 'suppressedByVex']) expect(byRef[k]).toEqual(byFile[k]);
    expect(byFile.changed.map((c: { id: string }) => c.id)).not.toContain('keep@1.0.0');
  });

  it('errors name the ref and the path: no such commit, no such file at the ref, not a git work tree, no git', () => {
    const noRef = cratewatch('gate', '--base-ref', 'no-such-branch', '--head', headLock());
    expect(noRef.code).toBe(2);
    expect(noRef.stderr).toContain('cratewatch gate: --base-ref no-such-branch: no such commit in');
    const noFile = cratewatch('gate', '--base-ref', c1, '--head', path.join(repo, 'sub', 'Cargo.lock'));
    expect(noFile.code).toBe(2);
    expect(noFile.stderr).toContain(`cratewatch gate: --base-ref ${c1}: sub/Cargo.lock does not exist at ${c1}`);
    const outside = path.join(dir, 'plain');
    mkdirSync(outside, { recursive: true });
    writeFileSync(path.join(outside, 'Cargo.lock'), lock([['foo', '1.0.0']]));
    const notRepo = run(['gate', '--base-ref', 'HEAD', '--head', path.join(outside, 'Cargo.lock')], {
      quiet: true,
      env: { GIT_CEILING_DIRECTORIES: dir },
    });
    expect(notRepo.code).toBe(2);
    expect(notRepo.stderr).toContain(`--base-ref HEAD: ${path.join(outside, 'Cargo.lock')} is not inside a git work tree`);
    const empty = path.join(dir, 'empty-bin');
    mkdirSync(empty, { recursive: true });
    const noGit = run(['gate', '--base-ref', c1, '--head', headLock()], { quiet: true, env: { PATH: empty } });
    expect(noGit.code).toBe(2);
    expect(noGit.stderr).toContain(`--base-ref ${c1}: git is not on PATH`);
    expect(cratewatch('gate', '--base-ref', c1, '--base', headLock(), '--head', headLock()).stderr).toContain(
      'choose one of --base and --base-ref',
    );
  });
});

describe('gate --base-ref with cargo-metadata.json', () => {
  it("reads the base's dependency kinds from git: a dev-only crate the base vetted for safe-to-run, whose audit the change removes, is no longer vetted", () => {
    const kinds = path.join(dir, 'kinds');
    mkdirSync(path.join(kinds, 'supply-chain'), { recursive: true });
    const g = (...args: string[]) =>
      spawnSync('git', ['-c', 'commit.gpgsign=false', '-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: kinds,
        encoding: 'utf8',
      });
    g('init', '-q');
    const pkg = (name: string, version: string, source?: string) => ({
      id: `${name} ${version} (${source ?? 'path+file:///app'})`,
      name,
      version,
      source: source ?? null,
    });
    const [app, foo, bar] = [pkg('app', '0.1.0'), pkg('foo', '1.0.0', CRATES), pkg('bar', '2.0.0', CRATES)];
    const metadata = {
      packages: [app, foo, bar],
      workspace_members: [app.id],
      resolve: {
        nodes: [
          {
            id: app.id,
            deps: [
              { pkg: foo.id, dep_kinds: [{ kind: null }] },
              { pkg: bar.id, dep_kinds: [{ kind: 'dev' }] },
            ],
          },
          { id: foo.id, deps: [] },
          { id: bar.id, deps: [] },
        ],
      },
    };
    writeFileSync(
      path.join(kinds, 'Cargo.lock'),
      lock([
        ['bar', '2.0.0'],
        ['foo', '1.0.0'],
      ]),
    );
    writeFileSync(path.join(kinds, 'cargo-metadata.json'), JSON.stringify(metadata));
    writeFileSync(path.join(kinds, 'supply-chain', 'config.toml'), CONFIG);
    const runAudit = '\n[[audits.bar]]\nwho = "a"\ncriteria = "safe-to-run"\nversion = "2.0.0"\n';
    writeFileSync(
      path.join(kinds, 'supply-chain', 'audits.toml'),
      '\n# cargo-vet audits file\n' + runAudit + audits([['foo', '1.0.0']]).replace('\n# cargo-vet audits file\n', ''),
    );
    g('add', '-A');
    g('commit', '-q', '-m', 'base');
    writeFileSync(path.join(kinds, 'supply-chain', 'audits.toml'), audits([['foo', '1.0.0']])); // bar's audit removed
    const r = run(['gate', '--base-ref', 'HEAD', '--head', path.join(kinds, 'Cargo.lock')], { env: { CRATEWATCH_QUIET: '' } });
    expect(r.stderr).toContain('base dependency kinds from HEAD:cargo-metadata.json');
    expect(r.stdout).toContain('  FAIL no longer vetted bar@2.0.0: unvetted');
    expect(r.code).toBe(1);
    // With a base metadata that no longer matches the base lockfile, it is set aside (said), and the
    // base's kinds are unknown: bar needed safe-to-deploy there too, so its audit's removal changes nothing.
    writeFileSync(
      path.join(kinds, 'Cargo.lock'),
      lock([
        ['bar', '2.0.0'],
        ['baz', '0.1.0'],
        ['foo', '1.0.0'],
      ]),
    );
    g('add', '-A');
    g('commit', '-q', '-m', 'stale metadata');
    writeFileSync(
      path.join(kinds, 'Cargo.lock'),
      lock([
        ['bar', '2.0.0'],
        ['foo', '1.0.0'],
      ]),
    );
    const stale = run(['gate', '--base-ref', 'HEAD', '--head', path.join(kinds, 'Cargo.lock')], { env: { CRATEWATCH_QUIET: '' } });
    expect(stale.stderr).toContain('warning: HEAD:cargo-metadata.json not used');
    expect(stale.stdout).not.toContain('no longer vetted');
  });
});

describe('gate --format', () => {
  it('github: one ::error per unvetted or vulnerable crate and ::warning per informational advisory, on the [[package]] line, escaped; then the text', () => {
    const r = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--advisory-db', db, '--format', 'github');
    expect(r.code).toBe(1);
    const text = readFileSync(headLock(), 'utf8');
    const commands = r.stdout.split('\n').filter((l) => l.startsWith('::'));
    expect(commands.map((l) => l.slice(0, l.indexOf('::', 2) + 2))).toEqual([
      `::error file=ws/Cargo.lock,line=${packageLine(text, 'bar')},title=unvetted-crate%3A bar@2.0.0::`,
      `::error file=ws/Cargo.lock,line=${packageLine(text, 'foo')},title=unvetted-crate%3A foo@1.1.0::`,
      `::error file=ws/Cargo.lock,line=${packageLine(text, 'keep')},title=unvetted-crate%3A keep@1.0.0::`,
      `::error file=ws/Cargo.lock,line=${packageLine(text, 'bar')},title=RUSTSEC-2098-0021%3A bar@2.0.0::`,
      `::warning file=ws/Cargo.lock,line=${packageLine(text, 'baz')},title=RUSTSEC-2098-0022%3A baz@0.1.0::`,
    ]);
    expect(packageLine(text, 'bar')).toBeGreaterThan(5);
    expect(commands[4]).toContain('baz: 100%25 unmaintained, use qux.'); // % escaped in the message; a comma is not
    expect(r.stdout).toContain('  FAIL upgraded foo@1.1.0: unvetted'); // the text report follows
  });

  it('github: a path with : and , is escaped as a property; the escapes are those of the runner', () => {
    expect(escapeData('100%\r\nnext: a, b')).toBe('100%25%0D%0Anext: a, b');
    expect(escapeProperty('a,b:c%\n')).toBe('a%2Cb%3Ac%25%0A');
    const odd = path.join(repo, 'we,ird:ws');
    mkdirSync(odd, { recursive: true });
    writeFileSync(path.join(odd, 'Cargo.lock'), lock([['foo', '1.1.0']]));
    const base = path.join(dir, 'odd-base.lock');
    writeFileSync(base, lock([['foo', '1.0.0']]));
    const r = cratewatch('gate', '--base', base, '--head', path.join(odd, 'Cargo.lock'), '--format', 'github');
    expect(r.stdout.split('\n')[0]).toMatch(
      /^::error file=we%2Cird%3Aws\/Cargo.lock,line=8,title=unvetted-crate%3A foo@1.1.0::foo@1.1.0 \(upgraded\) is not vetted for safe-to-deploy/,
    );
  });

  it('github: a store cargo vet --locked refuses is an ::error on its table line in the store file; exit 2', () => {
    const bad = path.join(repo, 'badstore');
    mkdirSync(bad, { recursive: true });
    writeFileSync(path.join(bad, 'config.toml'), `${CONFIG}\n[policy.foo]\ncriteria = "safe-to-run"\n`);
    writeFileSync(path.join(bad, 'audits.toml'), '\n# cargo-vet audits file\n\n[audits]\n');
    const r = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--store', bad, '--format', 'github');
    expect(r.code).toBe(2);
    expect(r.stdout.split('\n')[0]).toMatch(
      /^::error file=badstore\/config.toml,line=7,title=invalid-store%3A \[policy.foo\]::\[policy.foo\]: foo has a crates.io version in the graph/,
    );
  });

  it('--json and --sarif still work, as aliases; two formats at once or an unknown one are usage errors', () => {
    const a = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--sarif');
    const b = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--format', 'sarif');
    expect(a.stdout).toBe(b.stdout);
    expect(JSON.parse(cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--json').stdout)).toEqual(
      JSON.parse(cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--format', 'json').stdout),
    );
    expect(cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--format', 'text').stdout).toBe(
      cratewatch('gate', '--base-ref', c1, '--head', headLock()).stdout,
    );
    const both = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--json', '--format', 'sarif');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('choose one output format (given: sarif, json)');
    const bad = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--format', 'xml');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("'xml' is invalid");
  });
});

describe('gate --format sarif', () => {
  const sarif = (...extra: string[]) => {
    const r = cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--advisory-db', db, '--format', 'sarif', ...extra);
    expect(r.code).toBe(1);
    return JSON.parse(r.stdout);
  };

  it('validates against the SARIF 2.1.0 schema, and the schema does refuse a broken log', () => {
    const log = sarif();
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const broken = structuredClone(log);
    broken.runs[0].results[0].level = 'fatal';
    broken.runs[0].tool.driver.rules[0].helpUri = 'not a uri';
    expect(validate(broken)).toBe(false);
  });

  it('carries the tool version, per-rule help, help links, security-severity and tags', () => {
    const driver = sarif().runs[0].tool.driver;
    expect(driver.version).toBe(JSON.parse(readFileSync(path.join(root, 'cli/package.json'), 'utf8')).version);
    expect(driver.informationUri).toMatch(/^https:\/\//);
    const rule = (id: string) => driver.rules.find((r: { id: string }) => r.id === id);
    expect(driver.rules.map((r: { id: string }) => r.id)).toEqual(['unvetted-crate', 'RUSTSEC-2098-0021', 'RUSTSEC-2098-0022']);
    expect(rule('RUSTSEC-2098-0021')).toMatchObject({
      shortDescription: { text: 'bar: bar: remote code execution' },
      helpUri: 'https://rustsec.org/advisories/RUSTSEC-2098-0021',
      defaultConfiguration: { level: 'error' },
      properties: { 'security-severity': '9.8', tags: expect.arrayContaining(['security', 'vulnerability', 'critical']) },
    });
    expect(rule('RUSTSEC-2098-0021').help.text).toContain('The description of RUSTSEC-2098-0021.');
    expect(rule('RUSTSEC-2098-0021').help.markdown).toContain('Aliases: CVE-2098-0001');
    expect(rule('RUSTSEC-2098-0022')).toMatchObject({
      defaultConfiguration: { level: 'warning' },
      properties: { 'security-severity': '2.0', tags: expect.arrayContaining(['unmaintained']) },
    });
    expect(rule('unvetted-crate')).toMatchObject({
      helpUri: 'https://mozilla.github.io/cargo-vet/recording-audits.html',
      properties: { 'security-severity': '6.0', tags: expect.arrayContaining(['security', 'cargo-vet']) },
    });
    expect(rule('unvetted-crate').help.markdown).toContain('cargo vet certify');
  });

  it('locates results relative to %SRCROOT% (the git root; --srcroot), on the [[package]] line, never as ../', () => {
    const log = sarif();
    const text = readFileSync(headLock(), 'utf8');
    expect(log.runs[0].originalUriBaseIds['%SRCROOT%'].uri).toBe(`${pathToFileURL(repo).href}/`);
    const locs = log.runs[0].results.map(
      (r: { locations: { physicalLocation: { artifactLocation: unknown; region: { startLine: number } } }[] }) =>
        r.locations[0]!.physicalLocation,
    );
    for (const l of locs) expect(l.artifactLocation).toEqual({ uri: 'ws/Cargo.lock', uriBaseId: '%SRCROOT%' });
    expect(locs[0].region.startLine).toBe(packageLine(text, 'bar'));
    const inWs = sarif('--srcroot', path.join(repo, 'ws'));
    expect(inWs.runs[0].results[0].locations[0].physicalLocation.artifactLocation).toEqual({ uri: 'Cargo.lock', uriBaseId: '%SRCROOT%' });
    const elsewhere = sarif('--srcroot', path.join(dir, 'advisory-db'));
    expect(elsewhere.runs[0].results[0].locations[0].physicalLocation.artifactLocation).toEqual({ uri: pathToFileURL(headLock()).href });
    expect(validate(elsewhere), JSON.stringify(validate.errors)).toBe(true);
    expect(cratewatch('gate', '--base-ref', c1, '--head', headLock(), '--srcroot', path.join(dir, 'nowhere')).stderr).toContain(
      `--srcroot ${path.join(dir, 'nowhere')}: no such folder`,
    );
  });

  it('fingerprints are stable across runs and across a line shift, and differ per finding', () => {
    const prints = (log: {
      runs: { results: { ruleId: string; message: { text: string }; partialFingerprints: Record<string, string> }[] }[];
    }) =>
      Object.fromEntries(
        log.runs[0]!.results.map((r) => [`${r.ruleId} ${r.message.text.split(' ')[0]}`, r.partialFingerprints['cratewatch/v1']]),
      );
    const first = prints(sarif());
    expect(prints(sarif())).toEqual(first);
    expect(new Set(Object.values(first)).size).toBe(Object.keys(first).length);
    // The same crates, shifted down by a new package (aaa, audited) locked before them.
    const shifted = path.join(dir, 'shifted');
    mkdirSync(path.join(shifted, 'supply-chain'), { recursive: true });
    writeFileSync(
      path.join(shifted, 'Cargo.lock'),
      lock([
        ['aaa', '1.0.0'],
        ['bar', '2.0.0'],
        ['baz', '0.1.0'],
        ['foo', '1.1.0'],
        ['keep', '1.0.0'],
      ]),
    );
    writeFileSync(path.join(shifted, 'supply-chain', 'config.toml'), CONFIG);
    writeFileSync(
      path.join(shifted, 'supply-chain', 'audits.toml'),
      audits([
        ['aaa', '1.0.0'],
        ['baz', '0.1.0'],
        ['foo', '1.0.0'],
      ]),
    );
    const base = path.join(dir, 'base-shift.lock');
    writeFileSync(
      base,
      lock([
        ['foo', '1.0.0'],
        ['gone', '1.0.0'],
      ]),
    );
    const r = cratewatch('gate', '--base', base, '--head', path.join(shifted, 'Cargo.lock'), '--advisory-db', db, '--format', 'sarif');
    const moved = JSON.parse(r.stdout);
    const lines = (log: typeof moved) =>
      log.runs[0].results.map(
        (x: { locations: { physicalLocation: { region: { startLine: number } } }[] }) => x.locations[0]!.physicalLocation.region.startLine,
      );
    expect(lines(moved)[0]).toBe(lines(sarif())[0] + 5); // bar's [[package]] moved down by aaa's five lines
    const shiftedPrints = prints(moved);
    for (const k of ['unvetted-crate bar@2.0.0', 'unvetted-crate foo@1.1.0', 'RUSTSEC-2098-0021 bar@2.0.0', 'RUSTSEC-2098-0022 baz@0.1.0'])
      expect(shiftedPrints[k]).toBe(first[k]);
  });
});
