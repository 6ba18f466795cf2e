/**
 * The CLI a Rust engineer expects (issue 13, part 1), as a process: --help on every command and
 * query subcommand, --version, -q, the exit codes (0 / 1 policy / 2 input / 3 internal), one line
 * without a stack for a known error, and the inputs that used to pass silently, now named.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRATES, cratewatch, ensureBuilt, root } from './helpers.js';

const q = (...args: string[]) => cratewatch(args, { quiet: true });
const version = (JSON.parse(readFileSync(path.join(root, 'cli/package.json'), 'utf8')) as { version: string }).version;
const STACK = /\n\s+at /;

const pkg = (n: string, v: string, deps: string[] = [], source: string | null = CRATES) =>
  `\n[[package]]\nname = "${n}"\nversion = "${v}"\n${source ? `source = "${source}"\n` : ''}${deps.length ? `dependencies = [${deps.map((d) => `"${d}"`).join(', ')}]\n` : ''}`;

let dir = '';
let ok = ''; // a workspace whose one crate is vetted: exit 0
let unvetted = ''; // one whose crate is not: exit 1
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-basics-'));
  ok = path.join(dir, 'ok');
  unvetted = path.join(dir, 'unvetted');
  for (const ws of [ok, unvetted]) {
    mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
    writeFileSync(path.join(ws, 'Cargo.lock'), `version = 4\n${pkg('app', '0.1.0', ['foo'], null)}${pkg('foo', '1.0.0')}`);
    writeFileSync(path.join(ws, 'supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  }
  writeFileSync(
    path.join(ok, 'supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.foo]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n',
  );
});

describe('help and version', () => {
  it('--help on the top level and every command prints usage on stdout and exits 0', () => {
    const top = q('--help');
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: cratewatch [options] [command]');
    for (const c of ['scan', 'gate', 'query', 'certify']) expect(top.stdout).toMatch(new RegExp(`\\n  ${c} +\\S`));
    expect(top.stdout).toContain('Exit codes: 0 ok, 1 policy failure, 2 input or usage error, 3 internal error.');
    const want: Record<string, string[]> = {
      scan: [
        'Usage: cratewatch scan [options] <target>',
        '--advisory-db <dir>',
        '--pools <dir|files>',
        '--vex <file>',
        '--json',
        '-q, --quiet',
      ],
      gate: ['Usage: cratewatch gate [options]', '--base <Cargo.lock>', '--head <Cargo.lock>', '--sarif', '-q, --quiet'],
      query: ['Usage: cratewatch query [options] [command]', 'advisory [options] <id>', 'cypher [options] <query>', 'NEO4J_URI'],
      certify: [
        'Usage: cratewatch certify [options] <crate> <version...>',
        '--criteria <name>',
        '--who <auditor>',
        '--store <dir>',
        '-q, --quiet',
      ],
    };
    for (const [c, lines] of Object.entries(want)) {
      for (const form of [
        [c, '--help'],
        [c, '-h'],
        ['help', c],
      ]) {
        const r = q(...form);
        expect(r.code, form.join(' ')).toBe(0);
        for (const l of lines) expect(r.stdout, `${form.join(' ')}: ${l}`).toContain(l);
        expect(r.stderr).toBe('');
      }
    }
  });

  it('query <question> --help for every question, without a graph', () => {
    const want: Record<string, string> = {
      advisory: '<id>',
      crate: '<name>',
      workspace: '<id>',
      coverage: '[workspace]',
      findings: '--severity <s>',
      risk: '--team <team>',
      cypher: '--param <name=value>',
    };
    for (const [sub, text] of Object.entries(want)) {
      for (const form of [
        ['query', sub, '--help'],
        ['query', 'help', sub],
      ]) {
        const r = cratewatch(form, { quiet: true, env: { NEO4J_URI: undefined } });
        expect(r.code, form.join(' ')).toBe(0);
        expect(r.stdout).toContain(`Usage: cratewatch query ${sub} [options]`);
        expect(r.stdout).toContain(text);
        expect(r.stdout).toContain('--json');
        expect(r.stderr).toBe('');
      }
    }
  });

  it('--version and -V print the package version', () => {
    for (const flag of ['--version', '-V']) {
      const r = q(flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${version}\n`);
    }
  });

  it('npx cratewatch: the linked bin is the committed shim (linked by npm ci before any build), and answers', () => {
    const link = path.join(root, 'node_modules/.bin/cratewatch');
    expect(realpathSync(link)).toBe(path.join(root, 'cli/bin/cratewatch.js'));
    expect(spawnSync('git', ['ls-files', '--error-unmatch', 'cli/bin/cratewatch.js'], { cwd: root }).status).toBe(0);
    const r = spawnSync('npx', ['--no-install', 'cratewatch', '--version'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });
});

describe('exit codes', () => {
  it('0 when everything is vetted, 1 on a policy failure', () => {
    expect(q('scan', ok).code).toBe(0);
    expect(q('scan', unvetted).code).toBe(1);
    expect(q('gate', '--base', path.join(ok, 'Cargo.lock'), '--head', path.join(ok, 'Cargo.lock')).code).toBe(0);
  });

  it('2 for a usage error: one line, no stack, a suggestion for a misspelt flag', () => {
    for (const [args, line] of [
      [['scan', ok, '--jsn'], "cratewatch scan: unknown option '--jsn'\n(Did you mean --json?)\n"],
      [['scan'], "cratewatch scan: missing required argument 'target'\n"],
      [['gate', '--base', 'x', 'extra'], 'cratewatch gate: too many arguments. Expected 0 arguments but got 1.\n'],
      [['frobnicate'], "cratewatch: unknown command 'frobnicate'\n(cratewatch --help lists the commands)\n"],
      [['scan', path.join(dir, 'nope')], `cratewatch scan: ${path.join(dir, 'nope')}: no such file or directory\n`],
    ] as [string[], string][]) {
      const r = q(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toBe(line);
    }
    const none = q();
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('Usage: cratewatch');
    const noQuestion = q('query');
    expect(noQuestion.code).toBe(2);
    expect(noQuestion.stderr).toContain('Usage: cratewatch query [options] [command]');
    expect(noQuestion.stderr).toMatch(/cratewatch query: a subcommand is needed \(above\)\n$/);
  });

  it('2 for an unreachable Neo4j: one line naming the URI, never the password', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = cratewatch(['query', 'risk'], {
      env: { NEO4J_URI: `bolt://neo4j:uri-secret-1@127.0.0.1:${port}`, NEO4J_USER: 'neo4j', NEO4J_PASSWORD: 'env-secret-2' },
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cratewatch query: cannot reach Neo4j at bolt://127.0.0.1:${port} (NEO4J_URI): connect ECONNREFUSED 127.0.0.1:${port}\n`,
    );
    expect(r.stderr).not.toMatch(/secret/);
    const unset = cratewatch(['query', 'risk'], { env: { NEO4J_URI: undefined } });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toMatch(/^cratewatch query: NEO4J_URI is not set/);
    const scheme = cratewatch(['query', 'risk'], { env: { NEO4J_URI: 'nope://127.0.0.1:1' } });
    expect(scheme.code).toBe(2);
    expect(scheme.stderr).toBe('cratewatch query: NEO4J_URI nope://127.0.0.1:1: Unknown scheme: nope\n');
  });

  it('3 for an internal error (a crash): said as one, its stack only with CRATEWATCH_DEBUG=1', () => {
    // A failure the CLI has no name for: JSON.stringify itself throwing while --json is written.
    const crash = ['--import', `data:text/javascript,JSON.stringify = () => { throw new Error('boom in stringify'); };`];
    const r = cratewatch(['scan', ok, '--json'], { quiet: true, node: crash });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('cratewatch: internal error: boom in stringify\n(a bug in cratewatch: CRATEWATCH_DEBUG=1 prints the stack)\n');
    const debug = cratewatch(['scan', ok, '--json'], { quiet: true, node: crash, env: { CRATEWATCH_DEBUG: '1' } });
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(STACK);
  });
});

describe('-q / --quiet', () => {
  it('silences progress, before or after the command; the report is unchanged', () => {
    const loud = cratewatch(['scan', unvetted]);
    expect(loud.stderr).toContain('cratewatch: resolving');
    for (const args of [
      ['-q', 'scan', unvetted],
      ['scan', unvetted, '-q'],
      ['--quiet', 'scan', unvetted],
      ['scan', '--quiet', unvetted],
    ]) {
      const r = cratewatch(args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr, args.join(' ')).toBe('');
      expect(r.stdout).toBe(loud.stdout);
    }
  });
});

describe('inputs that used to pass silently are named', () => {
  it('a 0-byte or blank Cargo.lock: scan and gate exit 2, naming the file and line', () => {
    const ws = path.join(dir, 'empty');
    mkdirSync(ws, { recursive: true });
    const lock = path.join(ws, 'Cargo.lock');
    writeFileSync(lock, '');
    const scan = q('scan', ws);
    expect(scan.code).toBe(2);
    expect(scan.stderr).toBe(`cratewatch scan: ${lock}, line 1: empty file (0 bytes): not a Cargo.lock\n`);
    const good = path.join(ok, 'Cargo.lock');
    for (const args of [
      ['--base', lock, '--head', good],
      ['--base', good, '--head', lock],
    ]) {
      const gate = q('gate', ...args);
      expect(gate.code).toBe(2);
      expect(gate.stderr).toBe(`cratewatch gate: ${lock}, line 1: empty file (0 bytes): not a Cargo.lock\n`);
    }
    writeFileSync(lock, '\n\n');
    expect(q('scan', lock).stderr).toBe(`cratewatch scan: ${lock}, line 1: empty file (only whitespace): not a Cargo.lock\n`);
    writeFileSync(lock, 'version = 4\n');
    expect(q('scan', lock).stderr).toMatch(/field `package`: no \[\[package\]\] table/);
  });

  it('a duplicate [[package]]: exit 2 naming the duplicate, its version and both lines', () => {
    const lock = path.join(dir, 'dup.lock');
    writeFileSync(
      lock,
      `version = 4\n${pkg('app', '0.1.0', ['serde_json'], null)}${pkg('serde_json', '1.0.108')}${pkg('serde_json', '1.0.108')}`,
    );
    const r = q('scan', lock);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cratewatch scan: ${lock}, line 13, field \`package[2]\`: package "serde_json" 1.0.108 (${CRATES}) is locked twice (first at line 8): delete the duplicate [[package]] table\n`,
    );
    expect(r.stderr).not.toContain('ambiguous');
  });

  it('--pools on a folder without pools: exit 2 naming the folder (scan and gate)', () => {
    const empty = path.join(dir, 'no-pools');
    mkdirSync(empty, { recursive: true });
    writeFileSync(path.join(empty, 'README.md'), 'not a pool\n');
    const want = `--pools ${empty}: no audit pool in this folder (no *.toml file; expected e.g. mozilla.audits.toml)\n`;
    const scan = q('scan', unvetted, '--pools', empty);
    expect(scan.code).toBe(2);
    expect(scan.stderr).toBe(`cratewatch scan: ${want}`);
    const lock = path.join(unvetted, 'Cargo.lock');
    const gate = q('gate', '--base', lock, '--head', lock, '--pools', empty);
    expect(gate.code).toBe(2);
    expect(gate.stderr).toBe(`cratewatch gate: ${want}`);
  });
});
