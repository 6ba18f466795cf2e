/**
 * `cratewatch scan` with VEX statements (built, as a process): `vex.json` / `*.openvex.json` beside
 * the Cargo.lock and each `--vex FILE`; hits a not_affected / fixed statement covers are listed apart
 * and do not fail the scan; affected / under_investigation keep them with the statement's text.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CRATES, cratewatch as run, ensureBuilt } from './helpers.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });

const advisory = (id: string, pkg: string, aliases: string[] = [], informational?: string) => `\`\`\`toml
[advisory]
id = "${id}"
package = "${pkg}"
date = "2098-01-01"
aliases = [${aliases.map((a) => `"${a}"`).join(', ')}]
${informational ? `informational = "${informational}"\n` : ''}
[versions]
patched = [">= 9.0.0"]
\`\`\`

# ${pkg} has a hole
`;

const vexDoc = (statements: Record<string, unknown>[], timestamp = '2026-01-01T00:00:00Z') =>
  JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', timestamp, statements });
const about = (name: string, crate: string, status: string, extra: Record<string, unknown> = {}) => ({
  vulnerability: { name },
  products: [{ '@id': `pkg:cargo/${crate}` }],
  status,
  ...extra,
});

let dir = '';
let ws = '';
let db = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-vex-'));
  ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
  writeFileSync(
    path.join(ws, 'Cargo.lock'),
    `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["bar", "foo"]\n` +
      `\n[[package]]\nname = "bar"\nversion = "2.0.0"\nsource = "${CRATES}"\n` +
      `\n[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\n`,
  );
  // Everything vetted, so the exit code is the advisories' alone.
  writeFileSync(path.join(ws, 'supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(ws, 'supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.bar]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\n\n[[audits.foo]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "1.1.0"\n',
  );
  db = path.join(dir, 'advisory-db');
  for (const [id, pkg, aliases, info] of [
    ['RUSTSEC-2098-0001', 'foo', ['CVE-2098-0001']],
    ['RUSTSEC-2098-0002', 'bar', ['GHSA-aaaa-bbbb-cccc']],
    ['RUSTSEC-2098-0003', 'bar', [], 'unmaintained'],
  ] as [string, string, string[], string?][]) {
    mkdirSync(path.join(db, 'crates', pkg), { recursive: true });
    writeFileSync(path.join(db, 'crates', pkg, `${id}.md`), advisory(id, pkg, aliases, info));
  }
});

beforeEach(() => {
  for (const f of ['vex.json', 'team.openvex.json']) rmSync(path.join(ws, f), { force: true });
});

describe('cratewatch scan --vex', () => {
  it('without VEX: both vulnerabilities count, exit 1', () => {
    const r = cratewatch('scan', ws, '--advisory-db', db);
    expect(r.stdout).toContain('RustSec: 2 vulnerabilities, 1 informational\n');
    expect(r.stdout).not.toContain('VEX');
    expect(r.code).toBe(1);
  });

  it('vex.json beside the Cargo.lock suppresses a hit (by its CVE alias): listed apart, not counted; the other still fails the scan', () => {
    writeFileSync(
      path.join(ws, 'vex.json'),
      vexDoc([
        about('CVE-2098-0001', 'foo', 'not_affected', {
          justification: 'vulnerable_code_not_in_execute_path',
          impact_statement: 'we never parse untrusted input',
        }),
      ]),
    );
    for (const target of [ws, path.join(ws, 'Cargo.lock')]) {
      const r = cratewatch('scan', target, '--advisory-db', db);
      expect(r.stdout).toContain('RustSec: 1 vulnerabilities, 1 informational; suppressed by VEX: 1\n');
      expect(r.stdout).toContain(
        `Suppressed by VEX (1, not counted):\n  RUSTSEC-2098-0001 foo@1.1.0: foo has a hole\n      vex.not_affected: vulnerable_code_not_in_execute_path: we never parse untrusted input (${path.join(ws, 'vex.json')} statements[0], 2026-01-01T00:00:00Z)\n`,
      );
      expect(r.stdout.split('Suppressed by VEX')[0]).toContain('RUSTSEC-2098-0002 bar@2.0.0');
      expect(r.stdout.split('Suppressed by VEX')[0]).not.toContain('RUSTSEC-2098-0001');
      expect(r.code).toBe(1);
    }
  });

  it('--vex FILE adds documents (repeatable); with every vulnerability suppressed the scan passes, and --json carries them', () => {
    writeFileSync(
      path.join(ws, 'vex.json'),
      vexDoc([about('RUSTSEC-2098-0001', 'foo', 'not_affected', { impact_statement: 'feature off' })]),
    );
    const extra = path.join(dir, 'extra.json'); // any name given explicitly
    writeFileSync(extra, vexDoc([about('ghsa-aaaa-bbbb-cccc', 'bar', 'fixed')]));
    const text = cratewatch('scan', ws, '--advisory-db', db, '--vex', extra);
    expect(text.stdout).toContain('RustSec: 0 vulnerabilities, 1 informational; suppressed by VEX: 2\n');
    expect(text.code).toBe(0);
    const j = JSON.parse(cratewatch('scan', ws, '--advisory-db', db, '--vex', extra, '--vex', extra, '--json').stdout);
    expect(j.vexDocuments).toEqual([path.join(ws, 'vex.json'), extra]);
    expect(j.advisories).toEqual([
      { id: 'RUSTSEC-2098-0003', package: 'bar@2.0.0', informational: 'unmaintained', title: 'bar has a hole', vex: null },
    ]);
    expect([...j.suppressedByVex].sort((x: { id: string }, y: { id: string }) => x.id.localeCompare(y.id))).toEqual([
      // in advisory-db order: sorted here
      {
        id: 'RUSTSEC-2098-0001',
        package: 'foo@1.1.0',
        informational: null,
        title: 'foo has a hole',
        vex: {
          status: 'not_affected',
          justification: null,
          impactStatement: 'feature off',
          actionStatement: null,
          statusNotes: null,
          file: path.join(ws, 'vex.json'),
          statement: 0,
          timestamp: '2026-01-01T00:00:00Z',
        },
      },
      {
        id: 'RUSTSEC-2098-0002',
        package: 'bar@2.0.0',
        informational: null,
        title: 'bar has a hole',
        vex: {
          status: 'fixed',
          justification: null,
          impactStatement: null,
          actionStatement: null,
          statusNotes: null,
          file: extra,
          statement: 0,
          timestamp: '2026-01-01T00:00:00Z',
        },
      },
    ]);
  });

  it('under_investigation and affected keep the hit (exit 1) with the statement shown; a later statement beats an earlier one across files', () => {
    writeFileSync(
      path.join(ws, 'vex.json'),
      vexDoc([about('RUSTSEC-2098-0001', 'foo', 'not_affected', { justification: 'component_not_present' })], '2026-01-01T00:00:00Z'),
    );
    writeFileSync(
      path.join(ws, 'team.openvex.json'),
      vexDoc(
        [about('RUSTSEC-2098-0001', 'foo', 'under_investigation', { status_notes: 'reachable from the CLI?' })],
        '2026-02-01T00:00:00Z',
      ),
    );
    const r = cratewatch('scan', ws, '--advisory-db', db);
    expect(r.stdout).toContain(
      `  RUSTSEC-2098-0001 foo@1.1.0: foo has a hole\n      vex.under_investigation: reachable from the CLI? (${path.join(ws, 'team.openvex.json')} statements[0], 2026-02-01T00:00:00Z)\n`,
    );
    expect(r.stdout).toContain('suppressed by VEX: 0');
    expect(r.code).toBe(1);
    const j = JSON.parse(cratewatch('scan', ws, '--advisory-db', db, '--json').stdout);
    expect(j.advisories.find((x: { id: string }) => x.id === 'RUSTSEC-2098-0001').vex).toMatchObject({
      status: 'under_investigation',
      statusNotes: 'reachable from the CLI?',
    });
    expect(j.suppressedByVex).toEqual([]);
  });

  it("only the workspace folder's own files: not beside a lone <name>.lock, not other names", () => {
    const lone = path.join(dir, 'lone');
    mkdirSync(lone, { recursive: true });
    copyFileSync(path.join(ws, 'Cargo.lock'), path.join(lone, 'other.lock'));
    writeFileSync(
      path.join(lone, 'vex.json'),
      vexDoc([about('RUSTSEC-2098-0001', 'foo', 'fixed'), about('RUSTSEC-2098-0002', 'bar', 'fixed')]),
    );
    writeFileSync(
      path.join(ws, 'my-vex.json'),
      vexDoc([about('RUSTSEC-2098-0001', 'foo', 'fixed'), about('RUSTSEC-2098-0002', 'bar', 'fixed')]),
    );
    try {
      expect(JSON.parse(cratewatch('scan', path.join(lone, 'other.lock'), '--advisory-db', db, '--json').stdout).suppressedByVex).toEqual(
        [],
      );
      expect(JSON.parse(cratewatch('scan', ws, '--advisory-db', db, '--json').stdout).suppressedByVex).toEqual([]);
    } finally {
      rmSync(path.join(ws, 'my-vex.json'));
    }
  });

  it('a bad VEX file or a missing --vex file is an input error: exit 2 naming the file and the JSON path', () => {
    writeFileSync(path.join(ws, 'vex.json'), vexDoc([about('RUSTSEC-2098-0001', 'foo', 'not_affected')]));
    const bad = cratewatch('scan', ws, '--advisory-db', db);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `cratewatch scan: ${path.join(ws, 'vex.json')}, field \`statements[0].justification\`: a not_affected statement must give a \`justification\` or an \`impact_statement\` (why the product is not affected)\n`,
    );
    rmSync(path.join(ws, 'vex.json'));
    const csaf = path.join(dir, 'csaf.json');
    writeFileSync(csaf, JSON.stringify({ document: { category: 'csaf_vex' } }));
    // A CSAF document is read as CSAF VEX now (test/sbom.test.ts): one without its tracking is refused, named.
    expect(cratewatch('scan', ws, '--vex', csaf).stderr).toContain(`${csaf}, field \`document.tracking\`: is required`);
    const missing = cratewatch('scan', ws, '--vex', path.join(dir, 'nope.json'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`--vex ${path.join(dir, 'nope.json')}: no such file`);
  });
});
