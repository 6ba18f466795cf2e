/**
 * `cratewatch certify` on copies of real stores: the audit is written, the exemption it makes
 * unneeded goes (as `cargo vet certify` prunes), every file is what `cargo vet fmt` writes, the
 * shared parser reads it back, and `cratewatch scan` of the workspace now vets the version. Where
 * cargo-vet 0.10 is installed (never by a test), the real `cargo vet --locked` accepts the store.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkLayout, parseAuditsFile, parseConfigFile, parseImportsLock, readStore } from '@cratewatch/shared';
import { cratewatch, ensureBuilt, root } from './helpers.js';

const dataDir = path.resolve(root, '../shared/data');
const hasData = existsSync(path.join(dataDir, 'projects', 'libprio-rs', 'supply-chain'));
if (!hasData) console.warn(`skipping certify on real stores: ${dataDir} is absent`);
const fixtures = path.join(root, 'shared/test/vet/fixtures/differential');

const tmp: string[] = [];
/** A writable copy of a workspace folder (Cargo.lock, supply-chain/, manifests if any). */
function copy(from: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-certify-'));
  tmp.push(dir);
  cpSync(from, dir, { recursive: true });
  spawnSync('chmod', ['-R', 'u+w', dir]);
  return dir;
}
const readFiles = (ws: string) => {
  const r = (f: string) => readFileSync(path.join(ws, 'supply-chain', f), 'utf8');
  return { config: r('config.toml'), audits: r('audits.toml'), importsLock: r('imports.lock') };
};
interface ScanJson {
  unvetted: { id: string }[];
  summary: { vetted: number; exempted: number; unvetted: number };
  unneededExemptions: { crate: string; version: string }[];
}
const scan = (ws: string) => JSON.parse(cratewatch(['scan', ws, '--json'], { quiet: true }).stdout) as ScanJson;

beforeAll(() => ensureBuilt());
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe.skipIf(!hasData)('cratewatch certify on a copy of libprio-rs (real store)', () => {
  it('a full audit of an exempted version: written in cargo-vet order, the exemption removed, the scan vets it', () => {
    const ws = copy(path.join(dataDir, 'projects', 'libprio-rs'));
    const before = scan(ws);
    const r = cratewatch(
      [
        'certify',
        'funty',
        '2.0.0',
        '--criteria',
        'safe-to-deploy',
        '--who',
        'Test Auditor <test@example.com>',
        '--notes',
        'Read "all" of it',
        '--store',
        path.join(ws, 'supply-chain'),
      ],
      { quiet: true },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('certified funty 2.0.0 for safe-to-deploy (Test Auditor <test@example.com>)');
    expect(r.stdout).toContain('removed the exemption funty 2.0.0 (safe-to-deploy): no longer needed');
    const files = readFiles(ws);
    // read back with the shared parser: the audit is there, the exemption is not
    const audits = parseAuditsFile(files.audits);
    expect(audits.audits.get('funty')).toContainEqual({
      who: ['Test Auditor <test@example.com>'],
      criteria: ['safe-to-deploy'],
      version: '2.0.0',
      notes: 'Read "all" of it',
      aggregatedFrom: [],
    });
    expect(parseConfigFile(files.config).exemptions.has('funty')).toBe(false);
    expect(files.audits).toContain(
      `\n[[audits.funty]]\nwho = "Test Auditor <test@example.com>"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\nnotes = 'Read "all" of it'\n`,
    );
    // every file exactly as cargo vet fmt writes it; imports.lock untouched
    expect(checkLayout(readStore(files, 'supply-chain'))).toEqual([]);
    expect(files.importsLock).toBe(readFileSync(path.join(dataDir, 'projects/libprio-rs/supply-chain/imports.lock'), 'utf8'));
    parseImportsLock(files.importsLock);
    // the scan now vets funty 2.0.0 with the audit, not the exemption
    const after = scan(ws);
    expect(after.summary.vetted).toBe(before.summary.vetted + 1);
    expect(after.summary.exempted).toBe(before.summary.exempted - 1);
    expect(after.summary.unvetted).toBe(before.summary.unvetted);
  });

  it('a delta that closes a gap: the unvetted version is vetted (through the exemption it starts from, which stays)', () => {
    const ws = copy(path.join(dataDir, 'projects', 'libprio-rs'));
    const before = scan(ws);
    expect(before.unvetted.map((u) => u.id)).toContain('aes@0.9.2');
    const r = cratewatch(
      [
        'certify',
        'aes',
        '0.8.2',
        '0.9.2',
        '--criteria',
        'safe-to-deploy',
        '--who',
        'T <t@example.com>',
        '--store',
        path.join(ws, 'supply-chain'),
      ],
      { quiet: true },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('removed the exemption');
    const after = scan(ws);
    expect(after.unvetted.map((u) => u.id)).not.toContain('aes@0.9.2');
    expect(after.summary.unvetted).toBe(before.summary.unvetted - 1);
    expect(
      parseConfigFile(readFiles(ws).config)
        .exemptions.get('aes')
        ?.map((e) => e.version),
    ).toEqual(['0.8.2']);
    expect(checkLayout(readStore(readFiles(ws), 'supply-chain'))).toEqual([]);
  });

  it('refuses bad input naming the field, and leaves the store untouched', () => {
    const ws = copy(path.join(dataDir, 'projects', 'libprio-rs'));
    const store = path.join(ws, 'supply-chain');
    const original = readFiles(ws);
    const cases: [string[], RegExp][] = [
      [['funty', '2.0', '--criteria', 'safe-to-deploy', '--who', 'a'], /to: "2.0" is not a version/],
      [
        ['funty', '2.0.0', '--criteria', 'safe-to-fly', '--who', 'a'],
        /criteria: 'safe-to-fly' is not a criteria of this store \(known: safe-to-run, safe-to-deploy\)/,
      ],
      [['funty', '2.0.0', '--who', 'a'], /criteria: at least one is required/],
      [['Not A Crate', '1.0.0', '--criteria', 'safe-to-run', '--who', 'a'], /crate: "Not A Crate" is not a crate name/],
      [
        ['serde-not-here', '1.0.0', '--criteria', 'safe-to-run', '--who', 'a'],
        /crate: 'serde-not-here' is not a third-party package of this workspace/,
      ],
      [['funty', '2.0.0', '2.0.0', '--criteria', 'safe-to-run', '--who', 'a'], /from: a delta from 2.0.0 to itself/],
    ];
    for (const [args, message] of cases) {
      const r = cratewatch(['certify', ...args, '--store', store], { quiet: true });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
    expect(readFiles(ws)).toEqual(original);
  });
});

describe.skipIf(!hasData)('scan and gate refuse a store out of cargo-vet order, as cargo vet --locked does', () => {
  /** ariel-os with its first two [policy] tables swapped: the same records, not cargo vet fmt's order. */
  function misordered(): string {
    const ws = copy(path.join(dataDir, 'projects', 'ariel-os'));
    const file = path.join(ws, 'supply-chain', 'config.toml');
    const text = readFileSync(file, 'utf8');
    const m = /\n(\[policy\.[^\]]+\]\n(?:[^[\n][^\n]*\n)*)\n(\[policy\.[^\]]+\]\n(?:[^[\n][^\n]*\n)*)/.exec(text)!;
    writeFileSync(file, text.replace(m[0], `\n${m[2]}\n${m[1]}`));
    return ws;
  }

  it('ariel-os as it is: scan passes (exit 0, no store error)', () => {
    const r = cratewatch(['scan', path.join(dataDir, 'projects', 'ariel-os')], { quiet: true });
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
  });

  it("misordered: scan exits 2 with cargo-vet's message naming config.toml; gate too", () => {
    const ws = misordered();
    const r = cratewatch(['scan', ws], { quiet: true });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cargo vet --locked stops with "Your cargo-vet store (supply-chain) has consistency errors"');
    expect(r.stderr).toMatch(
      /config\.toml:\d+, \[policy\.[^\]]+\]: A file in the store is not correctly formatted: supply-chain\/config\.toml line \d+ /,
    );
    const g = cratewatch(
      ['gate', '--base', path.join(ws, 'Cargo.lock'), '--head', path.join(ws, 'Cargo.lock'), '--store', path.join(ws, 'supply-chain')],
      { quiet: true },
    );
    expect(g.code).toBe(2);
    expect(g.stderr).toContain('A file in the store is not correctly formatted: supply-chain/config.toml');
  });
});

/**
 * Recorded from the real `cargo vet certify` (shared/test/vet/fixtures/certify/record.sh): the same
 * arguments on the same store must leave the same three files, byte for byte.
 */
const certifyCases = path.join(root, 'shared/test/vet/fixtures/certify');
describe('cratewatch certify writes what the real cargo vet certify wrote (recorded)', () => {
  const cases = readdirSync(certifyCases).filter((n) => existsSync(path.join(certifyCases, n, 'args')));
  it('has the recorded cases', () => expect(cases.length).toBeGreaterThanOrEqual(4));
  for (const name of cases) {
    const args = readFileSync(path.join(certifyCases, name, 'args'), 'utf8')
      .trimEnd()
      .split('\n');
    it(`${name}: certify ${args.join(' ')}`, () => {
      const ws = copy(path.join(fixtures, 'basics'));
      for (const f of ['config.toml', 'audits.toml', 'imports.lock'])
        cpSync(path.join(certifyCases, name, 'before', f), path.join(ws, 'supply-chain', f));
      const r = cratewatch(['certify', ...args, '--store', path.join(ws, 'supply-chain')], { quiet: true });
      expect(r.code, r.stderr).toBe(0);
      const after = (f: string) => readFileSync(path.join(certifyCases, name, 'after', f), 'utf8');
      expect(readFiles(ws)).toEqual({ config: after('config.toml'), audits: after('audits.toml'), importsLock: after('imports.lock') });
    });
  }
});

describe('certify --who defaults to git config user.name <user.email>, as cargo vet certify does', () => {
  /** Runs the built CLI in the workspace with only `gitconfig` as git's configuration. */
  const withGit = (ws: string, gitconfig: string | undefined, args: string[]) => {
    const cfg = path.join(ws, 'gitconfig');
    writeFileSync(cfg, gitconfig ?? '');
    return spawnSync(process.execPath, [path.join(root, 'cli/dist/main.js'), 'certify', ...args], {
      cwd: ws,
      encoding: 'utf8',
      env: {
        ...process.env,
        CRATEWATCH_QUIET: '1',
        GIT_CONFIG_GLOBAL: cfg,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CEILING_DIRECTORIES: path.dirname(ws),
      },
    });
  };
  it('uses them when both are set; refuses (exit 2, naming --who) when they are not', () => {
    const ws = copy(path.join(fixtures, 'basics'));
    const r = withGit(ws, '[user]\n\tname = Git User\n\temail = git@example.com\n', ['cfg-if', '1.0.0', '--criteria', 'safe-to-deploy']);
    expect(r.status, r.stderr).toBe(0);
    expect(parseAuditsFile(readFiles(ws).audits).audits.get('cfg-if')![0]!.who).toEqual(['Git User <git@example.com>']);
    const none = withGit(copy(path.join(fixtures, 'basics')), undefined, ['cfg-if', '1.0.0', '--criteria', 'safe-to-deploy']);
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('--who is required');
  });
});

/** The real cargo-vet, when installed, and able to run offline (its crates in cargo's cache). */
const vetVersion = spawnSync('cargo', ['vet', '--version'], { encoding: 'utf8' });
const hasCargoVet = vetVersion.status === 0 && /cargo-vet 0\.10\./.test(vetVersion.stdout);
const offline =
  hasCargoVet &&
  spawnSync('cargo', ['metadata', '--format-version', '1', '--offline', '--locked'], {
    cwd: path.join(fixtures, 'basics'),
    env: { ...process.env, CARGO_NET_OFFLINE: 'true' },
  }).status === 0;
if (!offline)
  console.warn(
    `skipping the cargo vet --locked check of certified stores: ${hasCargoVet ? "the fixture's crates are not in cargo's cache (offline)" : 'cargo-vet 0.10 is not installed (cargo install cargo-vet --version 0.10.3 --locked)'}`,
  );

describe.skipIf(!offline)('the real cargo vet --locked on a store certify wrote', () => {
  it('basics fixture: certify closes the memchr gap and audits cfg-if; cargo vet --locked accepts the store and agrees', () => {
    const ws = copy(path.join(fixtures, 'basics'));
    const store = path.join(ws, 'supply-chain');
    for (const args of [
      ['memchr', '2.7.1', '2.7.2'],
      ['cfg-if', '1.0.0'],
    ]) {
      const r = cratewatch(['certify', ...args, '--criteria', 'safe-to-deploy', '--who', 'T <t@example.com>', '--store', store], {
        quiet: true,
      });
      expect(r.code, r.stderr).toBe(0);
    }
    expect(parseConfigFile(readFiles(ws).config).exemptions.has('cfg-if')).toBe(false);
    const written = readFiles(ws);
    const vet = spawnSync('cargo', ['vet', '--locked', '--current-time', '2025-06-01T00:00:00Z', '--output-format=json'], {
      cwd: ws,
      encoding: 'utf8',
      env: { ...process.env, CARGO_NET_OFFLINE: 'true' },
    });
    const out = JSON.parse(vet.stdout) as { error?: { message: string }; conclusion?: string; failures?: { name: string }[] };
    expect(out.error, JSON.stringify(out.error)).toBeUndefined(); // the store is accepted: no BadFormat, no consistency error
    expect(out.conclusion).toBe('fail (vetting)'); // basics still has other unvetted crates
    const failing = out.failures!.map((f) => f.name);
    expect(failing).not.toContain('memchr');
    expect(failing).not.toContain('cfg-if');
    // and cargo vet --locked left every file as certify wrote it
    expect(readFiles(ws)).toEqual(written);
    // our scan of the same workspace (with the same dependency kinds) fails the same crates
    const ours = JSON.parse(
      cratewatch(['scan', ws, '--metadata', path.join(ws, 'metadata.json'), '--json'], { quiet: true }).stdout,
    ) as ScanJson;
    expect(ours.unvetted.map((u) => u.id.split('@')[0]).sort()).toEqual([...new Set(failing)].sort());
  }, 120_000);
});
