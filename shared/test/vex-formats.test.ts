/**
 * CycloneDX VEX and CSAF VEX read into the VEX model beside OpenVEX (`parseVexFile`): the same
 * statuses and justifications, products by purl, and the same rule deciding which statement applies
 * (`vexStatementFor`). Malformed documents are refused naming file and field.
 */
import { describe, expect, it } from 'vitest';
import { isVexDocumentFileName, parseVexFile, vexStatementFor, vexWhy, type VexDocument } from '../src/index.js';
import { validateCycloneDx } from './cyclonedx-schema.js';

const hit = (id: string, crate: string, version: string, aliases: string[] = []) => ({ advisory: { id, aliases }, crate, version });
const applies = (docs: VexDocument[], id: string, crate: string, version: string, aliases: string[] = []) =>
  vexStatementFor(docs, hit(id, crate, version, aliases));

/** A CycloneDX VEX (1.5): its components by bom-ref, one analysis each way. */
const cdxVex = () => ({
  bomFormat: 'CycloneDX',
  specVersion: '1.5',
  version: 1,
  serialNumber: 'urn:uuid:0b7f7a0c-3f5e-4c57-9d7e-6c1b2f4e5a61',
  metadata: { timestamp: '2026-02-01T00:00:00Z' },
  components: [
    { type: 'library', 'bom-ref': 'smallvec', name: 'smallvec', version: '1.13.2', purl: 'pkg:cargo/smallvec@1.13.2' },
    { type: 'library', 'bom-ref': 'h2', name: 'h2', version: '0.3.26', purl: 'pkg:cargo/h2@0.3.26' },
  ],
  vulnerabilities: [
    {
      id: 'RUSTSEC-2099-0001',
      source: { name: 'RustSec', url: 'https://rustsec.org/advisories/RUSTSEC-2099-0001' },
      references: [{ id: 'CVE-2099-0001', source: { name: 'NVD' } }],
      analysis: {
        state: 'not_affected',
        justification: 'code_not_reachable',
        detail: 'we never call insert_many',
        lastUpdated: '2026-02-02T00:00:00Z',
      },
      affects: [{ ref: 'smallvec' }],
    },
    {
      id: 'GHSA-aaaa-bbbb-cccc',
      analysis: { state: 'exploitable', response: ['update'] },
      recommendation: 'upgrade h2 to 0.3.27',
      affects: [{ ref: 'h2' }],
    },
    { id: 'RUSTSEC-2099-0003', analysis: { state: 'resolved' }, affects: [{ ref: 'pkg:cargo/h2@0.3.26' }] },
    {
      id: 'RUSTSEC-2099-0004',
      analysis: { state: 'in_triage' },
      affects: [{ ref: 'urn:cdx:0b7f7a0c-3f5e-4c57-9d7e-6c1b2f4e5a61/1#smallvec' }],
    },
    { id: 'RUSTSEC-2099-0005', analysis: { state: 'false_positive' }, affects: [{ ref: 'smallvec' }] },
    { id: 'RUSTSEC-2099-0006', ratings: [{ severity: 'high' }], affects: [{ ref: 'smallvec' }] }, // no analysis: a listing, not a statement
  ],
});

const CDX_XML = `<?xml version="1.0" encoding="UTF-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.6" version="1">
  <metadata><timestamp>2026-02-01T00:00:00Z</timestamp></metadata>
  <components>
    <component type="library" bom-ref="sv"><name>smallvec</name><version>1.13.2</version><purl>pkg:cargo/smallvec@1.13.2</purl></component>
  </components>
  <vulnerabilities>
    <vulnerability>
      <id>RUSTSEC-2099-0001</id>
      <references><reference><id>CVE-2099-0001</id><source><name>NVD</name></source></reference></references>
      <analysis><state>not_affected</state><justification>protected_by_compiler</justification><responses><response>will_not_fix</response></responses><detail>bounds checks stay on</detail></analysis>
      <affects><target><ref>sv</ref></target></affects>
    </vulnerability>
  </vulnerabilities>
</bom>
`;

/** A CSAF 2.0 VEX: a product tree with purls, a relationship, a product group; one of each status. */
const csaf = () => ({
  document: {
    category: 'csaf_vex',
    csaf_version: '2.0',
    publisher: { category: 'vendor', name: 'Example Security', namespace: 'https://example.com' },
    title: 'app VEX',
    tracking: {
      id: 'EX-2026-001',
      current_release_date: '2026-03-01T00:00:00Z',
      initial_release_date: '2026-03-01T00:00:00Z',
      status: 'final',
      version: '1',
      revision_history: [{ date: '2026-03-01T00:00:00Z', number: '1', summary: 'first' }],
    },
  },
  product_tree: {
    branches: [
      {
        category: 'vendor',
        name: 'crates.io',
        branches: [
          {
            category: 'product_name',
            name: 'smallvec',
            branches: [
              {
                category: 'product_version',
                name: '1.13.2',
                product: {
                  product_id: 'SV-1.13.2',
                  name: 'smallvec 1.13.2',
                  product_identification_helper: { purl: 'pkg:cargo/smallvec@1.13.2' },
                },
              },
            ],
          },
          {
            category: 'product_name',
            name: 'h2',
            branches: [
              {
                category: 'product_version',
                name: '0.3.26',
                product: { product_id: 'H2', name: 'h2 0.3.26', product_identification_helper: { purl: 'pkg:cargo/h2@0.3.26' } },
              },
            ],
          },
        ],
      },
    ],
    full_product_names: [{ product_id: 'APP', name: 'app 0.1.0', product_identification_helper: { purl: 'pkg:cargo/app@0.1.0' } }],
    relationships: [
      {
        category: 'default_component_of',
        product_reference: 'H2',
        relates_to_product_reference: 'APP',
        full_product_name: { product_id: 'APP:H2', name: 'h2 in app' },
      },
    ],
    product_groups: [{ group_id: 'G-ALL', product_ids: ['SV-1.13.2', 'APP:H2'] }],
  },
  vulnerabilities: [
    {
      cve: 'CVE-2099-0001',
      ids: [{ system_name: 'RustSec', text: 'RUSTSEC-2099-0001' }],
      product_status: { known_not_affected: ['SV-1.13.2'], known_affected: ['APP:H2'] },
      flags: [{ label: 'vulnerable_code_not_in_execute_path', group_ids: ['G-ALL'] }],
      remediations: [{ category: 'vendor_fix', details: 'upgrade h2 to 0.3.27', product_ids: ['APP:H2'] }],
    },
    { ids: [{ system_name: 'RustSec', text: 'RUSTSEC-2099-0002' }], product_status: { fixed: ['H2'], under_investigation: ['SV-1.13.2'] } },
    {
      cve: 'CVE-2099-0003',
      product_status: { known_not_affected: ['H2'] },
      threats: [{ category: 'impact', details: 'only reachable through the server role, which app does not build', product_ids: ['H2'] }],
    },
  ],
});

describe('CycloneDX VEX', () => {
  const doc = parseVexFile(JSON.stringify(cdxVex()), 'app/app.vex.json');

  it('is a valid CycloneDX 1.5 document (the fixture)', () => {
    expect(validateCycloneDx(cdxVex(), '1.5')).toEqual([]);
  });

  it('maps each analysis state onto the VEX statuses, by bom-ref, purl and BOM-Link', () => {
    expect(doc.statements.map((s) => [s.path, s.status, s.products[0]!.purls])).toEqual([
      ['vulnerabilities[0]', 'not_affected', ['pkg:cargo/smallvec@1.13.2']],
      ['vulnerabilities[1]', 'affected', ['pkg:cargo/h2@0.3.26']],
      ['vulnerabilities[2]', 'fixed', ['pkg:cargo/h2@0.3.26']],
      ['vulnerabilities[3]', 'under_investigation', ['pkg:cargo/smallvec@1.13.2']],
      ['vulnerabilities[4]', 'not_affected', ['pkg:cargo/smallvec@1.13.2']],
    ]);
    expect(doc.statements[0]).toMatchObject({
      justification: 'vulnerable_code_not_in_execute_path',
      impactStatement: 'we never call insert_many',
      timestamp: '2026-02-02T00:00:00Z',
      vulnerability: { name: 'RUSTSEC-2099-0001', aliases: ['CVE-2099-0001'] },
    });
    expect(doc.statements[1]).toMatchObject({ actionStatement: 'update; upgrade h2 to 0.3.27', timestamp: '2026-02-01T00:00:00Z' });
    expect(doc.statements[4]).toMatchObject({ impactStatement: 'false positive' });
  });

  it('decides hits as OpenVEX statements do: by alias, crate and version', () => {
    const m = applies([doc], 'RUSTSEC-2099-0001', 'smallvec', '1.13.2');
    expect(m?.suppresses).toBe(true);
    expect(vexWhy(m!).detail).toBe(
      'vulnerable_code_not_in_execute_path: we never call insert_many (app/app.vex.json vulnerabilities[0], 2026-02-02T00:00:00Z)',
    );
    expect(applies([doc], 'RUSTSEC-2099-0002', 'h2', '0.3.26', ['GHSA-aaaa-bbbb-cccc'])?.statement.status).toBe('affected');
    expect(applies([doc], 'RUSTSEC-2099-0001', 'smallvec', '1.13.3')).toBeUndefined();
    expect(applies([doc], 'RUSTSEC-2099-0006', 'smallvec', '1.13.2')).toBeUndefined();
  });

  it('reads the XML form; a requires_*/protected_* justification is kept in words', () => {
    const x = parseVexFile(CDX_XML, 'app/app.vex.xml');
    expect(x.statements).toHaveLength(1);
    expect(x.statements[0]).toMatchObject({
      status: 'not_affected',
      justification: 'inline_mitigations_already_exist',
      impactStatement: 'bounds checks stay on',
      vulnerability: { aliases: ['CVE-2099-0001'] },
    });
    expect(applies([x], 'RUSTSEC-2099-0001', 'smallvec', '1.13.2')?.suppresses).toBe(true);
    const req = parseVexFile(CDX_XML.replace('protected_by_compiler', 'requires_configuration'), 'v.vex.xml');
    expect(req.statements[0]).toMatchObject({ impactStatement: 'requires configuration: bounds checks stay on' });
    expect(req.statements[0]!.justification).toBeUndefined();
  });

  const bad = (patch: (d: ReturnType<typeof cdxVex>) => void) => {
    const d = cdxVex();
    patch(d);
    return JSON.stringify(d);
  };
  it.each([
    [
      'an unknown state',
      bad((d) => Object.assign(d.vulnerabilities[0]!.analysis!, { state: 'fine' })),
      /^v\.vex\.json, field `vulnerabilities\[0\]\.analysis\.state`: expected one of not_affected, false_positive/,
    ],
    [
      'an unknown justification',
      bad((d) => Object.assign(d.vulnerabilities[0]!.analysis!, { justification: 'trust_me' })),
      /field `vulnerabilities\[0\]\.analysis\.justification`: expected one of code_not_present/,
    ],
    [
      'not_affected without a reason',
      bad((d) => (d.vulnerabilities[0]!.analysis = { state: 'not_affected' } as never)),
      /field `vulnerabilities\[0\]\.analysis\.justification`: a not_affected analysis must give/,
    ],
    [
      'a ref to nothing',
      bad((d) => (d.vulnerabilities[1]!.affects = [{ ref: 'hyper' }])),
      /field `vulnerabilities\[1\]\.affects\[0\]\.ref`: names no component of this document \(bom-ref "hyper"\)/,
    ],
    ['no affects', bad((d) => (d.vulnerabilities[2]!.affects = [])), /field `vulnerabilities\[2\]\.affects`: is required/],
    ['no id', bad((d) => delete (d.vulnerabilities[2] as { id?: string }).id), /field `vulnerabilities\[2\]\.id`: is required/],
    [
      'a bad timestamp',
      bad((d) => Object.assign(d.vulnerabilities[0]!.analysis!, { lastUpdated: 'yesterday' })),
      /field `vulnerabilities\[0\]\.analysis\.lastUpdated`: expected an RFC 3339 date-time/,
    ],
    ['no timestamp anywhere', bad((d) => (d.metadata = {} as never)), /field `vulnerabilities\[1\]\.analysis\.lastUpdated`: no timestamp/],
    [
      'no analysis at all',
      bad((d) => (d.vulnerabilities = [d.vulnerabilities[5]!])),
      /field `vulnerabilities`: no vulnerability has an `analysis`/,
    ],
  ])('refuses %s', (_n, text, error) => {
    expect(() => parseVexFile(text, 'v.vex.json')).toThrow(error);
  });
});

describe('CSAF VEX', () => {
  const doc = parseVexFile(JSON.stringify(csaf()), 'app/app.csaf.json');

  it('gives one statement per vulnerability, status and product, with its path in the document', () => {
    expect(doc).toMatchObject({ id: 'EX-2026-001', author: 'Example Security', timestamp: '2026-03-01T00:00:00Z' });
    expect(doc.statements.map((s) => [s.path, s.status, s.products[0]!.purls, s.products[0]!.subcomponents])).toEqual([
      ['vulnerabilities[0].product_status.known_not_affected[0]', 'not_affected', ['pkg:cargo/smallvec@1.13.2'], []],
      ['vulnerabilities[0].product_status.known_affected[0]', 'affected', ['pkg:cargo/app@0.1.0'], ['pkg:cargo/h2@0.3.26']],
      ['vulnerabilities[1].product_status.fixed[0]', 'fixed', ['pkg:cargo/h2@0.3.26'], []],
      ['vulnerabilities[1].product_status.under_investigation[0]', 'under_investigation', ['pkg:cargo/smallvec@1.13.2'], []],
      ['vulnerabilities[2].product_status.known_not_affected[0]', 'not_affected', ['pkg:cargo/h2@0.3.26'], []],
    ]);
    expect(doc.statements[0]).toMatchObject({
      justification: 'vulnerable_code_not_in_execute_path',
      vulnerability: { name: 'CVE-2099-0001', aliases: ['RUSTSEC-2099-0001'] },
    });
    expect(doc.statements[1]).toMatchObject({ actionStatement: 'vendor_fix: upgrade h2 to 0.3.27' });
    expect(doc.statements[4]).toMatchObject({ impactStatement: 'only reachable through the server role, which app does not build' });
  });

  it('decides hits by the RUSTSEC id or the CVE, and a relationship product by its component', () => {
    expect(applies([doc], 'RUSTSEC-2099-0001', 'smallvec', '1.13.2')?.suppresses).toBe(true);
    expect(applies([doc], 'RUSTSEC-2099-0001', 'h2', '0.3.26')?.statement.status).toBe('affected');
    expect(applies([doc], 'RUSTSEC-2099-0002', 'h2', '0.3.26')?.suppresses).toBe(true);
    expect(applies([doc], 'RUSTSEC-2099-0003', 'h2', '0.3.26', ['CVE-2099-0003'])?.suppresses).toBe(true);
    expect(vexWhy(applies([doc], 'RUSTSEC-2099-0002', 'h2', '0.3.26')!).detail).toBe(
      'fixed (app/app.csaf.json vulnerabilities[1].product_status.fixed[0], 2026-03-01T00:00:00Z)',
    );
  });

  const bad = (patch: (d: ReturnType<typeof csaf>) => void) => {
    const d = csaf();
    patch(d);
    return JSON.stringify(d);
  };
  it.each([
    [
      'a product id not in the tree',
      bad((d) => (d.vulnerabilities[1]!.product_status = { fixed: ['NOPE'] } as never)),
      /^v\.json, field `vulnerabilities\[1\]\.product_status\.fixed\[0\]`: product id "NOPE" is not in the product_tree/,
    ],
    [
      'known_not_affected without flag or impact',
      bad((d) => (d.vulnerabilities[2]!.threats = [])),
      /field `vulnerabilities\[2\]\.product_status\.known_not_affected\[0\]`: a known_not_affected product needs a flag/,
    ],
    [
      'an unknown flag label',
      bad((d) => (d.vulnerabilities[0]!.flags = [{ label: 'not_my_problem', group_ids: ['G-ALL'] }])),
      /field `vulnerabilities\[0\]\.flags\[0\]\.label`: expected one of component_not_present/,
    ],
    [
      'no release date',
      bad((d) => delete (d.document.tracking as { current_release_date?: string }).current_release_date),
      /field `document\.tracking\.current_release_date`: is required/,
    ],
    [
      'a vulnerability without a name',
      bad((d) => delete (d.vulnerabilities[1] as { ids?: unknown }).ids),
      /field `vulnerabilities\[1\]\.cve`: the vulnerability needs a `cve` or an `ids\[\]` entry/,
    ],
    [
      'a bad purl in the tree',
      bad((d) => (d.product_tree.full_product_names[0]!.product_identification_helper.purl = 'pkg:cargo/ns/app@1.0.0')),
      /field `product_tree\.full_product_names\[0\]\.product_identification_helper\.purl`: a cargo package URL has no namespace/,
    ],
  ])('refuses %s', (_n, text, error) => {
    expect(() => parseVexFile(text, 'v.json')).toThrow(error);
  });
});

describe('parseVexFile tells the formats apart by content', () => {
  it('reads OpenVEX as before, and names a document that is none of them', () => {
    const openvex = JSON.stringify({
      '@context': 'https://openvex.dev/ns/v0.2.0',
      timestamp: '2026-01-01T00:00:00Z',
      statements: [{ vulnerability: { name: 'RUSTSEC-2099-0001' }, products: [{ '@id': 'pkg:cargo/smallvec' }], status: 'fixed' }],
    });
    expect(parseVexFile(openvex, 'vex.json').statements[0]!.status).toBe('fixed');
    expect(() => parseVexFile('{"hello": 1}', 'vex.json')).toThrow(/^vex\.json, field `@context`: is required/);
    expect(() => parseVexFile('{"bomFormat": "CycloneDX", "specVersion": "1.5"}', 'x.vex.json')).toThrow(
      /field `vulnerabilities`: is required: a CycloneDX VEX document/,
    );
  });

  it('finds VEX files by name beside the workspace, never its SBOM', () => {
    expect(['vex.json', 'a.openvex.json', 'a.vex.json', 'a.vex.xml', 'a.csaf.json'].every(isVexDocumentFileName)).toBe(true);
    expect(['bom.json', 'a.cdx.json', '.vex.json', 'csaf.json', 'a.vex.yaml', 'Cargo.lock'].some(isVexDocumentFileName)).toBe(false);
  });
});
