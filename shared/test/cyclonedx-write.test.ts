/* eslint-disable @typescript-eslint/no-explicit-any -- the written document is read back as plain JSON: its shape is what the schema check, not the type, asserts */
/**
 * The CycloneDX 1.6 document cratewatch writes for a workspace: valid against the official schema,
 * read back to the same packages (real workspaces from ../shared/data/projects), the advisories as
 * vulnerabilities with their VEX analysis, and the cargo-vet audits as attestations.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  applyVex,
  cycloneDxDocument,
  graphFromLockfile,
  lockfileFromCycloneDx,
  matchLockfile,
  parseAdvisory,
  parseCycloneDx,
  parseLockfile,
  parseVexDocument,
  readStore,
  resolveVet,
  shortestPathsFromMembers,
  type Lockfile,
  type SbomInput,
  type VetStore,
} from '../src/index.js';
import { validateCycloneDx } from './cyclonedx-schema.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const projects = path.join(root, '../shared/data/projects');
const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const base = {
  tool: { name: 'cratewatch', version: '0.1.0' },
  timestamp: '2026-12-04T20:00:00Z',
  serialNumber: 'urn:uuid:1b4e28ba-2fa1-11d2-883f-0016d3cca427',
};

const byId = (l: Lockfile) => Object.fromEntries(l.packages.map((p) => [p.id, { ...p, dependencies: [...p.dependencies].sort() }]));
const roundTrip = (doc: unknown) => lockfileFromCycloneDx(parseCycloneDx(JSON.stringify(doc), 'written.cdx.json'));

function storeOf(dir: string): VetStore | undefined {
  const sc = path.join(dir, 'supply-chain');
  if (!existsSync(path.join(sc, 'config.toml'))) return undefined;
  const opt = (n: string) => (existsSync(path.join(sc, n)) ? readFileSync(path.join(sc, n), 'utf8') : undefined);
  return readStore(
    { config: readFileSync(path.join(sc, 'config.toml'), 'utf8'), audits: opt('audits.toml'), importsLock: opt('imports.lock') },
    sc,
  );
}

const names = existsSync(projects) ? readdirSync(projects).filter((n) => existsSync(path.join(projects, n, 'Cargo.lock'))) : [];

describe.skipIf(names.length === 0)('real workspaces (../shared/data/projects): write, validate, read back', () => {
  it.each(names)('%s', (name) => {
    const dir = path.join(projects, name);
    const lockfile = parseLockfile(readFileSync(path.join(dir, 'Cargo.lock'), 'utf8'), `${name}/Cargo.lock`);
    const store = storeOf(dir);
    const report = resolveVet({ graph: graphFromLockfile(lockfile), store });
    const doc = cycloneDxDocument({ ...base, workspace: name, lockfile, report, store, paths: shortestPathsFromMembers(lockfile) });
    expect(validateCycloneDx(doc)).toEqual([]);
    // Round trip: every package with its id, source (git commits too), checksum and edges.
    expect(byId(roundTrip(doc))).toEqual(byId(lockfile));
    const components = [doc.metadata as { component: Record<string, unknown> }]
      .map((m) => m.component)
      .concat(doc.components as Record<string, unknown>[]);
    const refs = new Set(components.map((c) => c['bom-ref']));
    expect(components.filter((c) => c.purl !== undefined).length).toBe(lockfile.packages.filter((p) => p.source !== undefined).length);
    // Attestations: one claim per package an audit vets, each on a component, its evidence present.
    const vettedByAudit = report.packages.filter(
      (p) => p.status === 'vetted' && p.path.some((r) => r.source !== 'exemption' && r.table !== 'unpublished'),
    );
    const decl = doc.declarations as { claims: { target: string; evidence: string[] }[]; evidence: { 'bom-ref': string }[] } | undefined;
    expect(decl?.claims.length ?? 0).toBe(vettedByAudit.length);
    if (store) expect(vettedByAudit.length).toBeGreaterThan(0);
    const evidence = new Set(decl?.evidence.map((e) => e['bom-ref']));
    for (const c of decl?.claims ?? []) {
      expect(refs.has(c.target)).toBe(true);
      expect(c.evidence.every((e) => evidence.has(e))).toBe(true);
    }
  });
});

const advisory = (id: string, pkg: string, extra: string) =>
  parseAdvisory(
    `\`\`\`toml
[advisory]
id = "${id}"
package = "${pkg}"
date = "2098-01-02"
url = "https://example.com/${id}"
${extra}
[versions]
patched = [">= 9.0.0", ">= 1.11.5, < 1.12.0"]
\`\`\`

# ${pkg} has a hole

It reads past the end of a buffer.
`,
    `crates/${pkg}/${id}.md`,
  );

describe('a small workspace with advisories, VEX and audits', () => {
  const lockfile = parseLockfile(
    `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["bar", "foo"]\n` +
      `\n[[package]]\nname = "bar"\nversion = "2.0.0"\nsource = "${CRATES}"\nchecksum = "${'b'.repeat(64)}"\ndependencies = ["foo"]\n` +
      `\n[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\n`,
    'ws/Cargo.lock',
  );
  const store = readStore(
    {
      config: '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n',
      audits:
        '\n# cargo-vet audits file\n\n[[audits.bar]]\nwho = "Ada Lovelace <ada@example.com>"\ncriteria = "safe-to-deploy"\nversion = "2.0.0"\nnotes = "read every unsafe block"\n\n[[audits.foo]]\nwho = "Ada Lovelace <ada@example.com>"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n\n[[audits.foo]]\nwho = "Bob"\ncriteria = "safe-to-deploy"\ndelta = "1.0.0 -> 1.1.0"\n',
    },
    'ws/supply-chain',
  );
  const report = resolveVet({ graph: graphFromLockfile(lockfile), store });
  const advisories = [
    advisory(
      'RUSTSEC-2098-0001',
      'foo',
      'aliases = ["CVE-2098-0001", "GHSA-aaaa-bbbb-cccc"]\ncvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"',
    ),
    advisory('RUSTSEC-2098-0002', 'bar', 'informational = "unmaintained"'),
  ];
  const vex = parseVexDocument(
    JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2098-02-01T00:00:00Z',
      statements: [
        {
          vulnerability: { name: 'CVE-2098-0001' },
          products: [{ '@id': 'pkg:cargo/foo@1.1.0' }],
          status: 'not_affected',
          justification: 'vulnerable_code_not_in_execute_path',
          impact_statement: 'app never parses untrusted input',
        },
      ],
    }),
    'ws/vex.json',
  );
  const vexed = applyVex(matchLockfile(advisories, lockfile), [vex]);
  const input: SbomInput = {
    ...base,
    workspace: 'ws',
    lockfile,
    report,
    store,
    hits: [...vexed.exposed, ...vexed.suppressed],
    paths: shortestPathsFromMembers(lockfile),
  };
  const doc = cycloneDxDocument(input) as Record<string, any>;

  it('is valid CycloneDX 1.6 with the one first-party crate as its root', () => {
    expect(validateCycloneDx(doc)).toEqual([]);
    expect(doc.metadata.component).toMatchObject({
      type: 'application',
      'bom-ref': 'app@0.1.0',
      name: 'app',
      properties: [
        { name: 'cratewatch:package-source', value: 'path' },
        { name: 'cratewatch:vet:status', value: 'first-party' },
      ],
    });
    expect(doc.metadata.component.purl).toBeUndefined(); // no folder known: a bare purl would claim crates.io
    expect(doc.components.map((c: any) => [c.purl, c.hashes?.[0]?.content ?? null])).toEqual([
      ['pkg:cargo/bar@2.0.0', 'b'.repeat(64)],
      ['pkg:cargo/foo@1.1.0', null],
    ]);
    expect(doc.dependencies).toEqual([
      { ref: 'app@0.1.0', dependsOn: ['bar@2.0.0', 'foo@1.1.0'] },
      { ref: 'bar@2.0.0', dependsOn: ['foo@1.1.0'] },
      { ref: 'foo@1.1.0', dependsOn: [] },
    ]);
  });

  it('lists each advisory as a vulnerability: RustSec source, references, CVSS, patched, reach, VEX analysis', () => {
    const [v1, v2] = [...doc.vulnerabilities].sort((a: any, b: any) => (a.id < b.id ? -1 : 1));
    expect(v1).toMatchObject({
      'bom-ref': 'RUSTSEC-2098-0001',
      id: 'RUSTSEC-2098-0001',
      source: { name: 'RustSec', url: 'https://rustsec.org/advisories/RUSTSEC-2098-0001' },
      references: [
        { id: 'CVE-2098-0001', source: { name: 'NVD', url: 'https://nvd.nist.gov/vuln/detail/CVE-2098-0001' } },
        { id: 'GHSA-aaaa-bbbb-cccc', source: { name: 'GitHub', url: 'https://github.com/advisories/GHSA-aaaa-bbbb-cccc' } },
      ],
      ratings: [{ score: 9.8, severity: 'critical', method: 'CVSSv31', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      description: 'foo has a hole',
      recommendation: 'Upgrade to a patched version: >= 9.0.0 or >= 1.11.5, < 1.12.0',
      advisories: [{ url: 'https://example.com/RUSTSEC-2098-0001' }],
      published: '2098-01-02T00:00:00Z',
      affects: [{ ref: 'foo@1.1.0' }],
      analysis: { state: 'not_affected', justification: 'code_not_reachable', lastUpdated: '2098-02-01T00:00:00Z' },
      properties: [{ name: 'cratewatch:reached', value: 'foo@1.1.0: direct dependency of app@0.1.0' }],
    });
    expect(v1.analysis.detail).toBe(
      'vulnerable_code_not_in_execute_path: app never parses untrusted input (ws/vex.json statements[0], 2098-02-01T00:00:00Z)',
    );
    expect(v2).toMatchObject({
      id: 'RUSTSEC-2098-0002',
      affects: [{ ref: 'bar@2.0.0' }],
      properties: [
        { name: 'cratewatch:advisory:informational', value: 'unmaintained' },
        { name: 'cratewatch:reached', value: 'bar@2.0.0: direct dependency of app@0.1.0' },
      ],
    });
    expect(v2.analysis).toBeUndefined();
    expect(v2.ratings).toBeUndefined();
  });

  it('attests the audits: the store as assessor, one claim per vetted crate, the audit chain as evidence', () => {
    expect(doc.definitions.standards[0].requirements).toEqual([
      {
        'bom-ref': 'criteria:safe-to-deploy',
        identifier: 'safe-to-deploy',
        title: 'safe-to-deploy',
        text: expect.stringContaining('built-in cargo-vet criteria'),
      },
    ]);
    const d = doc.declarations;
    expect(d.assessors).toEqual([
      { 'bom-ref': 'assessor:local', thirdParty: false, organization: { name: 'ws (its own supply-chain store)' } },
    ]);
    expect(d.claims.map((c: any) => [c.target, c.predicate, c.evidence])).toEqual([
      ['bar@2.0.0', 'bar 2.0.0 meets the cargo-vet criteria safe-to-deploy', ['audit:local::audits:bar[0]']],
      ['foo@1.1.0', 'foo 1.1.0 meets the cargo-vet criteria safe-to-deploy', ['audit:local::audits:foo[0]', 'audit:local::audits:foo[1]']],
    ]);
    expect(d.evidence).toEqual([
      {
        'bom-ref': 'audit:local::audits:bar[0]',
        propertyName: 'cratewatch:audit',
        description: 'full audit of bar 2.0.0 for safe-to-deploy by Ada Lovelace <ada@example.com> (ws (its own supply-chain store))',
        author: { name: 'Ada Lovelace', email: 'ada@example.com' },
        data: [{ name: 'notes', contents: { attachment: { contentType: 'text/plain', content: 'read every unsafe block' } } }],
      },
      {
        'bom-ref': 'audit:local::audits:foo[0]',
        propertyName: 'cratewatch:audit',
        description: 'full audit of foo 1.0.0 for safe-to-deploy by Ada Lovelace <ada@example.com> (ws (its own supply-chain store))',
        author: { name: 'Ada Lovelace', email: 'ada@example.com' },
      },
      {
        'bom-ref': 'audit:local::audits:foo[1]',
        propertyName: 'cratewatch:audit',
        description: 'delta audit of foo 1.0.0 -> 1.1.0 for safe-to-deploy by Bob (ws (its own supply-chain store))',
        author: { name: 'Bob' },
      },
    ]);
    expect(d.attestations).toEqual([
      {
        summary: 'cargo-vet audits recorded by ws (its own supply-chain store)',
        assessor: 'assessor:local',
        map: [{ requirement: 'criteria:safe-to-deploy', claims: ['claim:bar@2.0.0', 'claim:foo@1.1.0'] }],
      },
    ]);
    expect(doc.components.find((c: any) => c.name === 'foo').properties).toEqual([
      { name: 'cratewatch:vet:status', value: 'vetted' },
      { name: 'cratewatch:vet:criteria', value: 'safe-to-deploy' },
    ]);
  });

  it('reads back to the same packages, and a workspace of several crates gets a root of its own', () => {
    expect(byId(roundTrip(doc))).toEqual(byId(lockfile));
    const two = parseLockfile(
      `version = 4\n\n[[package]]\nname = "a"\nversion = "0.1.0"\ndependencies = ["b"]\n\n[[package]]\nname = "b"\nversion = "0.1.0"\n`,
    );
    const d2 = cycloneDxDocument({ ...base, workspace: 'mono', lockfile: two, packageDirs: new Map([['b@0.1.0', 'crates/b']]) }) as Record<
      string,
      any
    >;
    expect(validateCycloneDx(d2)).toEqual([]);
    expect(d2.metadata.component).toEqual({ type: 'application', 'bom-ref': 'workspace:mono', name: 'mono' });
    expect(d2.components.map((c: any) => c.purl ?? null)).toEqual([null, 'pkg:cargo/b@0.1.0?download_url=file%3A%2F%2Fcrates%2Fb']);
    expect(byId(roundTrip(d2))).toEqual(byId(two));
  });
});
