import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CRATES, cratewatch as run, ensureBuilt } from './helpers.js';

const cratewatch = (...args: string[]) => run(args);

const lockText = (pkgs: [string, string, string[]?][]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${pkgs.map(([n]) => `"${n}"`).join(', ')}]\n` +
  pkgs
    .map(
      ([n, v, d]) =>
        `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "${CRATES}"\n${d ? `dependencies = [${d.map((x) => `"${x}"`).join(', ')}]\n` : ''}`,
    )
    .join('');

let dir = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-'));
  mkdirSync(path.join(dir, 'ws/supply-chain'), { recursive: true });
  writeFileSync(path.join(dir, 'base.lock'), lockText([['foo', '1.0.0']]));
  writeFileSync(
    path.join(dir, 'ws/Cargo.lock'),
    lockText([
      ['foo', '1.1.0'],
      ['bar', '2.0.0'],
    ]),
  );
  writeFileSync(path.join(dir, 'ws/supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(dir, 'ws/supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.foo]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n',
  );
  writeFileSync(path.join(dir, 'pool.audits.toml'), '[[audits.foo]]\nwho = "p"\ncriteria = "safe-to-deploy"\ndelta = "1.0.0 -> 1.1.0"\n');
});

describe('cratewatch CLI (built, as a process)', () => {
  it('scan: text report with the unvetted list and suggested audits; exit 1', () => {
    const r = cratewatch('scan', path.join(dir, 'ws'));
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('2 third-party packages');
    expect(r.stdout).toContain('foo@1.1.0: unvetted; needs safe-to-deploy');
    expect(r.stdout).toContain('fix: cargo vet certify foo 1.0.0 1.1.0 --criteria safe-to-deploy');
    expect(r.stdout).toContain('fix: cargo vet certify bar 2.0.0 --criteria safe-to-deploy  (full audit)');
    expect(r.stderr).toContain('cratewatch: resolving');
  });

  it('scan --json with a pool that closes the gap for foo', () => {
    const r = cratewatch('scan', path.join(dir, 'ws/Cargo.lock'), '--pools', path.join(dir, 'pool.audits.toml'), '--json');
    const j = JSON.parse(r.stdout);
    expect(j.summary).toMatchObject({ thirdParty: 2, vetted: 1, unvetted: 1 });
    expect(j.unvetted.map((p: { id: string }) => p.id)).toEqual(['bar@2.0.0']);
    expect(j.poolCoverage).toMatchObject({ thirdParty: 2, safeToDeploy: 0 }); // the pool alone has no full audit
    expect(r.code).toBe(1);
  });

  it('gate: fails on the upgrade and the addition, passes once pools vet them; SARIF', () => {
    const base = path.join(dir, 'base.lock');
    const head = path.join(dir, 'ws/Cargo.lock');
    const store = path.join(dir, 'ws/supply-chain');
    const fail = cratewatch('gate', '--base', base, '--head', head, '--store', store);
    expect(fail.code).toBe(1);
    expect(fail.stdout).toContain('FAIL upgraded foo@1.1.0');
    expect(fail.stdout).toContain('FAIL added bar@2.0.0');
    const s = JSON.parse(cratewatch('gate', '--base', base, '--head', head, '--store', store, '--sarif').stdout);
    expect(s.version).toBe('2.1.0');
    expect(s.runs[0].results).toHaveLength(2);
    expect(s.runs[0].results[0]).toMatchObject({ ruleId: 'unvetted-crate', level: 'error' });
    expect(s.runs[0].results[0].locations[0].physicalLocation.region.startLine).toBeGreaterThan(1);
    writeFileSync(path.join(dir, 'pool2.audits.toml'), '[[audits.bar]]\nwho = "p"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\n');
    const pass = cratewatch(
      'gate',
      '--base',
      base,
      '--head',
      head,
      '--store',
      store,
      '--pools',
      `${path.join(dir, 'pool.audits.toml')},${path.join(dir, 'pool2.audits.toml')}`,
      '--json',
    );
    expect(JSON.parse(pass.stdout).blocking).toEqual([]);
    expect(pass.code).toBe(0);
    expect(cratewatch('gate', '--base', head, '--head', head, '--store', store).code).toBe(0); // nothing changed
  });

  it('scan and gate: a store cargo vet --locked refuses exits 2 and names file, table and key', () => {
    const bad = path.join(dir, 'badstore');
    mkdirSync(bad, { recursive: true });
    writeFileSync(
      path.join(bad, 'config.toml'),
      '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n\n[policy.foo]\ncriteria = "safe-to-run"\n',
    );
    writeFileSync(path.join(bad, 'audits.toml'), '\n# cargo-vet audits file\n\n[audits]\n');
    const head = path.join(dir, 'ws/Cargo.lock');
    const r = cratewatch('scan', head, '--store', bad);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('There are some issues with your third-party policy entries');
    expect(r.stderr).toMatch(
      /badstore\/config.toml:7, \[policy.foo\]: foo has a crates.io version in the graph: its policy must be versioned; replace \[policy.foo\] with \[policy."foo:1.1.0"\]/,
    );
    const j = JSON.parse(cratewatch('scan', head, '--store', bad, '--json').stdout);
    expect(j.conclusion).toBe('fail (store)');
    expect(j.storeErrors.reported[0]).toMatchObject({
      code: 'policy-third-party-needs-version',
      file: 'supply-chain/config.toml',
      table: '[policy.foo]',
    });
    const g = cratewatch('gate', '--base', path.join(dir, 'base.lock'), '--head', head, '--store', bad, '--sarif');
    expect(g.code).toBe(2);
    const s = JSON.parse(g.stdout);
    expect(s.runs[0].results[0]).toMatchObject({ ruleId: 'invalid-store', level: 'error' });
    expect(s.runs[0].results[0].locations[0].physicalLocation.region.startLine).toBe(7);
  });

  it('usage and input errors exit 2 and say where', () => {
    expect(cratewatch('gate', '--head', 'x').code).toBe(2);
    expect(cratewatch('frobnicate').code).toBe(2);
    writeFileSync(path.join(dir, 'bad.lock'), '[[package]]\nname = 3\n');
    const bad = cratewatch('scan', path.join(dir, 'bad.lock'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bad.lock, field `package\[0\].name`/);
  });

  it('scan and gate: a locked version that is not SemVer exits 2, naming file, line and package', () => {
    const lock = path.join(dir, 'notsemver.lock');
    writeFileSync(
      lock,
      lockText([
        ['foo', '1.0.0'],
        ['bar', '2.0'],
      ]),
    );
    const want = `${lock}, line 15, field \`package[2].version\`: package "bar": version "2.0" is not SemVer`;
    const scan = run(['scan', lock], { quiet: true }); // quiet: stderr is only the error
    expect(scan.code).toBe(2);
    expect(scan.stderr).toBe(`cratewatch scan: ${want}\n`);
    for (const args of [
      ['--base', lock, '--head', path.join(dir, 'ws/Cargo.lock')],
      ['--base', path.join(dir, 'base.lock'), '--head', lock],
    ]) {
      const gate = run(['gate', ...args], { quiet: true });
      expect(gate.code).toBe(2);
      expect(gate.stderr).toBe(`cratewatch gate: ${want}\n`);
    }
  });

  it('scan reads cargo-metadata.json beside the Cargo.lock: exact dependency kinds (a dev-only crate needs safe-to-run); stale metadata is refused, naming both files', () => {
    const ws = path.join(dir, 'kinds');
    mkdirSync(ws, { recursive: true });
    writeFileSync(
      path.join(ws, 'Cargo.lock'),
      lockText([
        ['foo', '1.0.0'],
        ['bar', '2.0.0'],
      ]),
    );
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
    writeFileSync(path.join(ws, 'cargo-metadata.json'), JSON.stringify(metadata));
    const r = cratewatch('scan', ws, '--json');
    const j = JSON.parse(r.stdout);
    expect(r.stderr).toContain(`dependency kinds from ${path.join(ws, 'cargo-metadata.json')}`);
    expect(j).toMatchObject({ kindsKnown: true, metadata: path.join(ws, 'cargo-metadata.json'), kindDependent: [] });
    expect(Object.fromEntries(j.unvetted.map((p: { id: string; missing: string[] }) => [p.id, p.missing]))).toEqual({
      'foo@1.0.0': ['safe-to-deploy'],
      'bar@2.0.0': ['safe-to-run'],
    });
    // Without the metadata (a lone lockfile elsewhere), the same crate's verdict depends on the kind.
    writeFileSync(
      path.join(dir, 'kinds.lock'),
      lockText([
        ['foo', '1.0.0'],
        ['bar', '2.0.0'],
      ]),
    );
    expect(JSON.parse(cratewatch('scan', path.join(dir, 'kinds.lock'), '--json').stdout)).toMatchObject({
      kindsKnown: false,
      metadata: null,
    });

    // The lockfile gained a crate the metadata does not know: refused, never judged on the old graph.
    writeFileSync(
      path.join(ws, 'Cargo.lock'),
      lockText([
        ['foo', '1.0.0'],
        ['bar', '2.0.0'],
        ['baz', '0.3.0'],
      ]),
    );
    const stale = cratewatch('scan', ws);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain(
      `${path.join(ws, 'cargo-metadata.json')}, field \`packages\`: does not match ${path.join(ws, 'Cargo.lock')} (package baz@0.3.0 only in ${path.join(ws, 'Cargo.lock')})`,
    );
    writeFileSync(path.join(ws, 'cargo-metadata.json'), '{"packages": [');
    const broken = cratewatch('scan', ws);
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain(`${path.join(ws, 'cargo-metadata.json')}: not JSON`);
  });
});
