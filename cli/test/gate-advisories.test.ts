/**
 * `cratewatch gate --advisory-db` (built, as a process): a change that brings in a crate version a
 * RustSec vulnerability affects fails, naming the patched versions; an informational advisory warns;
 * what base already locked is not the change's doing; what the change upgrades away from is said to
 * be fixed; the workspace's VEX statements are honoured as in `scan`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CRATES, cratewatch as run, ensureBuilt } from './helpers.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });

const advisory = (id: string, pkg: string, patched: string, informational?: string) => `\`\`\`toml
[advisory]
id = "${id}"
package = "${pkg}"
date = "2098-01-01"
${informational ? `informational = "${informational}"\n` : ''}
[versions]
patched = ["${patched}"]
\`\`\`

# ${pkg}: ${informational ?? 'a hole'}
`;

/** A lockfile of app (path) depending on each crate given. */
const lock = (crates: [string, string][]) =>
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = [${crates.map(([n]) => `"${n}"`).join(', ')}]\n` +
  crates.map(([n, v]) => `\n[[package]]\nname = "${n}"\nversion = "${v}"\nsource = "${CRATES}"\n`).join('');

let dir = '';
let head = '';
let base = '';
let db = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-gate-adv-'));
  base = path.join(dir, 'base.lock');
  head = path.join(dir, 'ws', 'Cargo.lock');
  mkdirSync(path.join(dir, 'ws', 'supply-chain'), { recursive: true });
  // base: foo 1.0.0 (vulnerable, fixed in 1.1.0) and old 1.0.0 (vulnerable, unfixed).
  writeFileSync(
    base,
    lock([
      ['foo', '1.0.0'],
      ['old', '1.0.0'],
    ]),
  );
  // head: foo upgraded past the fix, old unchanged, bar (vulnerable) and baz (unmaintained) added.
  writeFileSync(
    head,
    lock([
      ['bar', '2.0.0'],
      ['baz', '0.1.0'],
      ['foo', '1.1.0'],
      ['old', '1.0.0'],
    ]),
  );
  // Everything is vetted, so the exit code is the advisories' alone.
  writeFileSync(path.join(dir, 'ws/supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(dir, 'ws/supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n' +
      [
        ['bar', '2.0.0'],
        ['baz', '0.1.0'],
        ['foo', '1.1.0'],
        ['old', '1.0.0'],
      ]
        .map(([n, v]) => `\n[[audits.${n}]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "${v}"\n`)
        .join(''),
  );
  db = path.join(dir, 'advisory-db');
  for (const [id, pkg, patched, info] of [
    ['RUSTSEC-2098-0011', 'foo', '>= 1.1.0'],
    ['RUSTSEC-2098-0012', 'bar', '>= 9.0.0'],
    ['RUSTSEC-2098-0013', 'baz', '>= 9.0.0', 'unmaintained'],
    ['RUSTSEC-2098-0014', 'old', '>= 9.0.0'],
  ] as [string, string, string, string?][]) {
    mkdirSync(path.join(db, 'crates', pkg), { recursive: true });
    writeFileSync(path.join(db, 'crates', pkg, `${id}.md`), advisory(id, pkg, patched, info));
  }
});

beforeEach(() => rmSync(path.join(dir, 'ws', 'vex.json'), { force: true }));

describe('cratewatch gate --advisory-db', () => {
  it('fails on the vulnerable crate the change adds (with the patched versions), warns on the informational one, leaves what base had alone, names what it fixes', () => {
    const r = cratewatch('gate', '--base', base, '--head', head, '--advisory-db', db);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('3 third-party packages added or upgraded; 0 not vetted');
    expect(r.stdout).toContain(
      [
        'RustSec on what the change brings in: 1 vulnerabilities, 1 informational',
        '  FAIL added RUSTSEC-2098-0012 bar@2.0.0: bar: a hole — patched: >= 9.0.0',
        '  warn added RUSTSEC-2098-0013 baz@0.1.0 [unmaintained]: baz: unmaintained',
        '',
        'Fixed by this change: RUSTSEC-2098-0011 (foo@1.0.0)',
      ].join('\n'),
    );
    expect(r.stdout).not.toContain('RUSTSEC-2098-0014'); // old 1.0.0 was locked before: not this change's doing
    // Without --advisory-db the same change passes: advisories are only read when asked.
    expect(cratewatch('gate', '--base', base, '--head', head).code).toBe(0);
  });

  it('a change back to an older, vulnerable version is said as a downgrade', () => {
    const newer = path.join(dir, 'newer.lock');
    writeFileSync(
      newer,
      lock([
        ['bar', '9.1.0'],
        ['baz', '0.1.0'],
        ['foo', '1.1.0'],
        ['old', '1.0.0'],
      ]),
    );
    const r = cratewatch('gate', '--base', newer, '--head', head, '--advisory-db', db);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('  FAIL downgraded RUSTSEC-2098-0012 bar@2.0.0: bar: a hole — patched: >= 9.0.0');
    expect(r.stdout).toContain('  ok   downgraded bar@2.0.0: vetted');
  });

  it('--json and --sarif carry the hits; SARIF locates them on the head lockfile line', () => {
    const j = JSON.parse(cratewatch('gate', '--base', base, '--head', head, '--advisory-db', db, '--json').stdout);
    expect(
      j.advisories.map((h: { id: string; package: string; change: string; informational: string | null }) => [
        h.id,
        h.package,
        h.change,
        h.informational,
      ]),
    ).toEqual([
      ['RUSTSEC-2098-0012', 'bar@2.0.0', 'added', null],
      ['RUSTSEC-2098-0013', 'baz@0.1.0', 'added', 'unmaintained'],
    ]);
    expect(j.fixedAdvisories).toEqual([{ id: 'RUSTSEC-2098-0011', package: 'foo@1.0.0', title: 'foo: a hole' }]);
    const s = JSON.parse(cratewatch('gate', '--base', base, '--head', head, '--advisory-db', db, '--sarif').stdout);
    const results = s.runs[0].results as {
      ruleId: string;
      level: string;
      message: { text: string };
      locations: { physicalLocation: { region: { startLine: number } } }[];
    }[];
    // One rule per advisory (its help, link and CVSS severity: test/gate-ci.test.ts), named by its kind.
    expect(results.map((x) => [x.ruleId, x.level])).toEqual([
      ['RUSTSEC-2098-0012', 'error'],
      ['RUSTSEC-2098-0013', 'warning'],
    ]);
    expect(s.runs[0].tool.driver.rules.map((r: { id: string; name: string }) => [r.id, r.name])).toEqual([
      ['RUSTSEC-2098-0012', 'VulnerableCrate'],
      ['RUSTSEC-2098-0013', 'InformationalAdvisory'],
    ]);
    expect(results[0]!.message.text).toContain('bar@2.0.0 (added): RUSTSEC-2098-0012: bar: a hole. Patched: >= 9.0.0.');
    // bar's `[[package]]` is line 8 of the head lockfile (1-based): after the header and app's five lines.
    expect(results[0]!.locations[0]!.physicalLocation.region.startLine).toBe(8);
  });

  it('a VEX statement beside the head Cargo.lock that the workspace is not affected lets it pass, listed apart; --vex without --advisory-db is a usage error', () => {
    writeFileSync(
      path.join(dir, 'ws', 'vex.json'),
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        timestamp: '2026-01-01T00:00:00Z',
        statements: [
          {
            vulnerability: { name: 'RUSTSEC-2098-0012' },
            products: [{ '@id': 'pkg:cargo/bar@2.0.0' }],
            status: 'not_affected',
            justification: 'vulnerable_code_not_in_execute_path',
            impact_statement: 'we never call it',
          },
        ],
      }),
    );
    const r = cratewatch('gate', '--base', base, '--head', head, '--advisory-db', db);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('RustSec on what the change brings in: 0 vulnerabilities, 1 informational; suppressed by VEX: 1');
    expect(r.stdout).toContain(
      'Suppressed by VEX (1, not counted):\n  RUSTSEC-2098-0012 bar@2.0.0: bar: a hole\n      vex.not_affected: vulnerable_code_not_in_execute_path: we never call it',
    );
    const bad = cratewatch('gate', '--base', base, '--head', head, '--vex', path.join(dir, 'ws', 'vex.json'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--vex needs --advisory-db');
  });
});
