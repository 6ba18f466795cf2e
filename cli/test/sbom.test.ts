/**
 * CycloneDX in the CLI (built, as a process): `scan` / `gate` read a CycloneDX SBOM wherever they
 * read a Cargo.lock (a file named as CycloneDX names SBOMs, or the one SBOM of a folder without a
 * Cargo.lock); CycloneDX and CSAF VEX beside OpenVEX; `cratewatch sbom` writes a CycloneDX 1.6
 * document that the official schema accepts and that reads back to the same verdicts.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { validateCycloneDx } from '../../shared/test/cyclonedx-schema.js';
import { CRATES, cratewatch as run, ensureBuilt, root } from './helpers.js';

const cratewatch = (...args: string[]) => run(args, { quiet: true });
const projects = path.join(root, '../shared/data/projects');

const advisory = (id: string, pkg: string, aliases: string[]) => `\`\`\`toml
[advisory]
id = "${id}"
package = "${pkg}"
date = "2098-01-01"
aliases = [${aliases.map((a) => `"${a}"`).join(', ')}]
cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"

[versions]
patched = [">= 9.0.0"]
\`\`\`

# ${pkg} has a hole
`;

const LOCK =
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["bar", "foo"]\n` +
  `\n[[package]]\nname = "bar"\nversion = "2.0.0"\nsource = "${CRATES}"\n` +
  `\n[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\n`;

/** The same workspace as cargo-cyclonedx writes it (XML, 1.4). */
const XML = `<?xml version="1.0" encoding="utf-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" version="1">
  <metadata>
    <component type="application" bom-ref="path+file:///w/app#0.1.0">
      <name>app</name><version>0.1.0</version>
      <purl>pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.</purl>
    </component>
  </metadata>
  <components>
    <component type="library" bom-ref="${CRATES}#bar@2.0.0"><name>bar</name><version>2.0.0</version><scope>required</scope><purl>pkg:cargo/bar@2.0.0</purl></component>
    <component type="library" bom-ref="${CRATES}#foo@1.1.0"><name>foo</name><version>1.1.0</version><scope>required</scope><purl>pkg:cargo/foo@1.1.0</purl></component>
  </components>
  <dependencies>
    <dependency ref="path+file:///w/app#0.1.0"><dependency ref="${CRATES}#bar@2.0.0"/><dependency ref="${CRATES}#foo@1.1.0"/></dependency>
    <dependency ref="${CRATES}#bar@2.0.0"/>
    <dependency ref="${CRATES}#foo@1.1.0"/>
  </dependencies>
</bom>
`;

let dir = '';
let ws = '';
let db = '';
beforeAll(() => {
  ensureBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-cdx-'));
  ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
  writeFileSync(path.join(ws, 'Cargo.lock'), LOCK);
  writeFileSync(path.join(ws, 'supply-chain/config.toml'), '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n');
  writeFileSync(
    path.join(ws, 'supply-chain/audits.toml'),
    '\n# cargo-vet audits file\n\n[[audits.bar]]\nwho = "Ada <ada@example.com>"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\n',
  );
  db = path.join(dir, 'advisory-db');
  for (const [id, pkg, aliases] of [
    ['RUSTSEC-2098-0001', 'foo', ['CVE-2098-0001']],
    ['RUSTSEC-2098-0002', 'bar', ['GHSA-aaaa-bbbb-cccc']],
  ] as [string, string, string[]][]) {
    mkdirSync(path.join(db, 'crates', pkg), { recursive: true });
    writeFileSync(path.join(db, 'crates', pkg, `${id}.md`), advisory(id, pkg, aliases));
  }
});

/** A copy of the workspace whose packages come from `file` (no Cargo.lock), its store kept. */
function sbomWorkspace(name: string, file: string, text: string): string {
  const d = path.join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  cpSync(path.join(ws, 'supply-chain'), path.join(d, 'supply-chain'), { recursive: true });
  writeFileSync(path.join(d, file), text);
  return d;
}

const verdicts = (stdout: string) => {
  const j = JSON.parse(stdout);
  return {
    conclusion: j.conclusion,
    summary: j.summary,
    unvetted: j.unvetted.map((u: { id: string; missing: string[] }) => [u.id, u.missing]),
    advisories: j.advisories.map((a: { id: string; package: string }) => [a.id, a.package]).sort(),
  };
};

describe('scan and gate read a CycloneDX SBOM as the workspace', () => {
  it('an XML SBOM as cargo-cyclonedx writes it: the same verdicts as the Cargo.lock, by folder or by file', () => {
    const lock = verdicts(cratewatch('scan', ws, '--advisory-db', db, '--json').stdout);
    expect(lock.unvetted).toEqual([['foo@1.1.0', ['safe-to-deploy']]]);
    const d = sbomWorkspace('xml', 'bom.xml', XML);
    for (const target of [d, path.join(d, 'bom.xml')]) {
      const r = cratewatch('scan', target, '--advisory-db', db, '--json');
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).lockfile).toBe(path.join(d, 'bom.xml'));
      expect(verdicts(r.stdout)).toEqual(lock);
    }
    const text = cratewatch('scan', d);
    expect(text.stdout).toContain(`${path.join(d, 'bom.xml')}: 2 third-party packages, 1 first-party`);
  });

  it('a folder with a Cargo.lock reads the Cargo.lock; with several SBOMs and no Cargo.lock it names them (exit 2)', () => {
    const both = sbomWorkspace(
      'both',
      'app.cdx.xml',
      XML.replace('<purl>pkg:cargo/foo@1.1.0</purl>', '<purl>pkg:cargo/foo@1.2.0</purl>').replace(
        '<version>1.1.0</version>',
        '<version>1.2.0</version>',
      ),
    );
    writeFileSync(path.join(both, 'Cargo.lock'), LOCK);
    expect(JSON.parse(cratewatch('scan', both, '--json').stdout).lockfile).toBe(path.join(both, 'Cargo.lock'));
    rmSync(path.join(both, 'Cargo.lock'));
    writeFileSync(path.join(both, 'bom.xml'), XML);
    const r = cratewatch('scan', both);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(`cratewatch scan: ${both}: no Cargo.lock, and 2 CycloneDX SBOMs (app.cdx.xml, bom.xml): name the one to read\n`);
  });

  it('a bad SBOM is an input error naming file, field and bom-ref', () => {
    const d = sbomWorkspace('bad', 'bom.xml', XML.replace('<purl>pkg:cargo/foo@1.1.0</purl>', '<purl>pkg:cargo/foo@1.1</purl>'));
    const r = cratewatch('scan', d);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `cratewatch scan: ${path.join(d, 'bom.xml')}, field \`components[1].purl\`: component foo (bom-ref "${CRATES}#foo@1.1.0"): package "foo": version "1.1" is not SemVer\n`,
    );
  });

  it('gate --head takes an SBOM', () => {
    const d = sbomWorkspace('gate', 'bom.xml', XML);
    const base = path.join(dir, 'base.lock');
    writeFileSync(
      base,
      `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["bar"]\n\n[[package]]\nname = "bar"\nversion = "2.0.0"\nsource = "${CRATES}"\n`,
    );
    const r = cratewatch('gate', '--base', base, '--head', path.join(d, 'bom.xml'), '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).blocking.map((b: { id: string }) => b.id)).toEqual(['foo@1.1.0']);
  });
});

describe('CycloneDX and CSAF VEX beside OpenVEX', () => {
  it('a CycloneDX VEX beside the SBOM and a CSAF VEX by --vex suppress their hits; scan passes the advisories', () => {
    const d = sbomWorkspace('vex', 'bom.xml', XML);
    writeFileSync(
      path.join(d, 'app.vex.json'),
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        metadata: { timestamp: '2098-02-01T00:00:00Z' },
        vulnerabilities: [
          {
            id: 'CVE-2098-0001',
            analysis: { state: 'not_affected', justification: 'code_not_reachable' },
            affects: [{ ref: 'pkg:cargo/foo@1.1.0' }],
          },
        ],
      }),
    );
    const csaf = path.join(dir, 'team.json');
    writeFileSync(
      csaf,
      JSON.stringify({
        document: { category: 'csaf_vex', csaf_version: '2.0', tracking: { id: 'T-1', current_release_date: '2098-02-02T00:00:00Z' } },
        product_tree: {
          full_product_names: [{ product_id: 'BAR', name: 'bar 2.0.0', product_identification_helper: { purl: 'pkg:cargo/bar@2.0.0' } }],
        },
        vulnerabilities: [{ ids: [{ system_name: 'GitHub', text: 'GHSA-aaaa-bbbb-cccc' }], product_status: { fixed: ['BAR'] } }],
      }),
    );
    const j = JSON.parse(cratewatch('scan', d, '--advisory-db', db, '--vex', csaf, '--json').stdout);
    expect(j.vexDocuments).toEqual([path.join(d, 'app.vex.json'), csaf]);
    expect(j.advisories).toEqual([]);
    expect(
      j.suppressedByVex.map((h: { id: string; vex: { status: string; file: string } }) => [h.id, h.vex.status, h.vex.file]).sort(),
    ).toEqual([
      ['RUSTSEC-2098-0001', 'not_affected', path.join(d, 'app.vex.json')],
      ['RUSTSEC-2098-0002', 'fixed', csaf],
    ]);
    const text = cratewatch('scan', d, '--advisory-db', db, '--vex', csaf);
    expect(text.stdout).toContain(
      `vex.not_affected: vulnerable_code_not_in_execute_path (${path.join(d, 'app.vex.json')} vulnerabilities[0], 2098-02-01T00:00:00Z)`,
    );
    expect(text.stdout).toContain(`vex.fixed: fixed (${csaf} vulnerabilities[0].product_status.fixed[0], 2098-02-02T00:00:00Z)`);
    const bad = cratewatch('scan', d, '--advisory-db', db, '--vex', path.join(d, 'bom.xml'));
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe(
      `cratewatch scan: ${path.join(d, 'bom.xml')}, field \`vulnerabilities\`: is required: a CycloneDX VEX document lists \`vulnerabilities\` with their \`analysis\`\n`,
    );
  });
});

describe('cratewatch sbom', () => {
  it('writes a valid CycloneDX 1.6 document: components, vulnerabilities with VEX analysis, audits as attestations', () => {
    writeFileSync(
      path.join(ws, 'app.vex.json'),
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        metadata: { timestamp: '2098-02-01T00:00:00Z' },
        vulnerabilities: [
          {
            id: 'RUSTSEC-2098-0002',
            analysis: { state: 'in_triage', detail: 'is the parser reachable?' },
            affects: [{ ref: 'pkg:cargo/bar' }],
          },
        ],
      }),
    );
    try {
      const out = path.join(dir, 'ws.cdx.json');
      const r = run(['sbom', ws, '--advisory-db', db, '--output', out]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`wrote ${out}: 3 components, 2 vulnerabilities`);
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(validateCycloneDx(doc)).toEqual([]);
      expect(doc).toMatchObject({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        metadata: { component: { 'bom-ref': 'app@0.1.0' }, tools: { components: [{ name: 'cratewatch' }] } },
      });
      expect(doc.serialNumber).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
      const bar = doc.vulnerabilities.find((v: { id: string }) => v.id === 'RUSTSEC-2098-0002');
      expect(bar).toMatchObject({
        affects: [{ ref: 'bar@2.0.0' }],
        references: [{ id: 'GHSA-aaaa-bbbb-cccc' }],
        ratings: [{ method: 'CVSSv31', score: 9.1, severity: 'critical' }],
        analysis: { state: 'in_triage' },
      });
      expect(doc.vulnerabilities.find((v: { id: string }) => v.id === 'RUSTSEC-2098-0001').analysis).toBeUndefined();
      expect(doc.declarations.claims.map((c: { target: string }) => c.target)).toEqual(['bar@2.0.0']);
      expect(doc.declarations.evidence[0].author).toEqual({ name: 'Ada', email: 'ada@example.com' });
      // Read back: the same verdicts as the Cargo.lock.
      const back = sbomWorkspace('back', 'bom.json', readFileSync(out, 'utf8'));
      expect(verdicts(cratewatch('scan', back, '--json').stdout)).toEqual(verdicts(cratewatch('scan', ws, '--json').stdout));
      // To stdout by default; an invalid store writes nothing (exit 2).
      expect(JSON.parse(cratewatch('sbom', ws).stdout).components).toHaveLength(2);
    } finally {
      rmSync(path.join(ws, 'app.vex.json'));
    }
  });

  it('--vex without --advisory-db is a usage error; sbom --help exits 0', () => {
    expect(cratewatch('sbom', ws, '--vex', 'x.json').code).toBe(2);
    const help = cratewatch('sbom', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('--output <file>');
  });
});

describe('cargo metadata beside', () => {
  it("gives an SBOM folder exact dependency kinds, and sbom the path packages' folders", () => {
    const d = sbomWorkspace('kinds', 'bom.xml', XML);
    const pkg = (name: string, version: string, source?: string) => ({
      id: `${name} ${version} (${source ?? 'path+file:///w/app'})`,
      name,
      version,
      source: source ?? null,
      manifest_path: source ? `/home/u/.cargo/registry/${name}/Cargo.toml` : '/w/app/Cargo.toml',
    });
    const [app, foo, bar] = [pkg('app', '0.1.0'), pkg('foo', '1.1.0', CRATES), pkg('bar', '2.0.0', CRATES)];
    const metadata = {
      packages: [app, foo, bar],
      workspace_members: [app.id],
      workspace_root: '/w/app',
      resolve: {
        nodes: [
          {
            id: app.id,
            deps: [
              { pkg: foo.id, dep_kinds: [{ kind: 'dev' }] },
              { pkg: bar.id, dep_kinds: [{ kind: null }] },
            ],
          },
          { id: foo.id, deps: [] },
          { id: bar.id, deps: [] },
        ],
      },
    };
    writeFileSync(path.join(d, 'cargo-metadata.json'), JSON.stringify(metadata));
    const j = JSON.parse(cratewatch('scan', d, '--json').stdout);
    expect(j).toMatchObject({ kindsKnown: true, metadata: path.join(d, 'cargo-metadata.json') });
    expect(j.unvetted.map((u: { id: string; missing: string[] }) => [u.id, u.missing])).toEqual([['foo@1.1.0', ['safe-to-run']]]); // dev-only: safe-to-run
    const doc = JSON.parse(cratewatch('sbom', d).stdout);
    expect(doc.metadata.component.purl).toBe('pkg:cargo/app@0.1.0?download_url=file%3A%2F%2F.');
    expect(validateCycloneDx(doc)).toEqual([]);
  });
});

describe.skipIf(!existsSync(projects))('real workspaces: sbom then scan the SBOM gives what scan of the Cargo.lock gives', () => {
  it.each(['libprio-rs', 'ariel-os'])('%s', (name) => {
    const src = path.join(projects, name);
    const out = path.join(dir, `${name}.cdx.json`);
    expect(cratewatch('sbom', src, '--output', out).code).toBe(0);
    expect(validateCycloneDx(JSON.parse(readFileSync(out, 'utf8')))).toEqual([]);
    const d = path.join(dir, `real-${name}`);
    mkdirSync(d, { recursive: true });
    cpSync(out, path.join(d, 'bom.json'));
    const fromSbom = cratewatch('scan', d, '--store', path.join(src, 'supply-chain'), '--json');
    const fromLock = cratewatch('scan', src, '--json');
    expect(fromSbom.code).toBe(fromLock.code);
    expect(verdicts(fromSbom.stdout)).toEqual(verdicts(fromLock.stdout));
  });
});
