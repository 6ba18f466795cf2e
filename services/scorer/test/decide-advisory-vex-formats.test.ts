/**
 * The scorer honours CycloneDX VEX and CSAF VEX as it honours OpenVEX: the documents ingest reads
 * (shared `parseVexFile`) decide advisory findings through the same rule (pure: graph rows in,
 * finding events out).
 */
import { describe, expect, it } from 'vitest';
import { FindingEventSchema, parseVexFile, type Advisory } from '@cratewatch/shared';
import { advisoryChanges, type AdvisoryFindingContext } from '../src/decide-advisory.js';

const AT = '2026-03-01T00:00:00.000Z';
const WS = { id: 'acme/app', org: 'acme' };
const advisory = (id: string, pkg: string, aliases: string[] = []): Advisory => ({
  id,
  package: pkg,
  collection: 'crates',
  title: `${pkg} is broken`,
  description: '',
  date: '2098-01-01',
  aliases,
  related: [],
  categories: [],
  keywords: [],
  references: [],
  affected: { arch: [], os: [], functions: {} },
  versions: { patched: ['>= 2.0.0'], unaffected: [] },
});
const A = advisory('RUSTSEC-2098-0001', 'smallvec', ['CVE-2098-1111']);
const B = advisory('RUSTSEC-2098-0002', 'serde');
const ctx = (vex: AdvisoryFindingContext['vex']): AdvisoryFindingContext => ({
  workspace: WS,
  exposure: [
    { version: '1.13.2', advisory: A },
    { version: '1.0.0', advisory: B },
  ],
  current: [],
  vex,
});

const cyclonedx = parseVexFile(
  JSON.stringify({
    bomFormat: 'CycloneDX',
    specVersion: '1.6',
    metadata: { timestamp: '2026-02-01T00:00:00Z' },
    vulnerabilities: [
      {
        id: 'CVE-2098-1111',
        analysis: { state: 'not_affected', justification: 'code_not_reachable', detail: 'insert_many is never called' },
        affects: [{ ref: 'pkg:cargo/smallvec@1.13.2' }],
      },
      { id: 'RUSTSEC-2098-0002', analysis: { state: 'exploitable', response: ['update'] }, affects: [{ ref: 'pkg:cargo/serde' }] },
    ],
  }),
  'acme/app/app.vex.json',
);
const csaf = parseVexFile(
  JSON.stringify({
    document: { category: 'csaf_vex', csaf_version: '2.0', tracking: { id: 'A-1', current_release_date: '2026-02-01T00:00:00Z' } },
    product_tree: {
      full_product_names: [{ product_id: 'SERDE', name: 'serde 1.0.0', product_identification_helper: { purl: 'pkg:cargo/serde@1.0.0' } }],
    },
    vulnerabilities: [{ ids: [{ system_name: 'RustSec', text: 'RUSTSEC-2098-0002' }], product_status: { fixed: ['SERDE'] } }],
  }),
  'acme/app/app.csaf.json',
);

describe('advisory findings with CycloneDX and CSAF VEX', () => {
  it('a CycloneDX not_affected suppresses its finding; exploitable keeps the other open with the statement in its why', () => {
    const { changes, suppressed } = advisoryChanges(ctx([cyclonedx]), AT);
    expect(changes.map((f) => [f.advisory!.id, f.state])).toEqual([['RUSTSEC-2098-0002', 'open']]);
    expect([...suppressed.values()].map((m) => [m.statement.status, m.statement.path])).toEqual([['not_affected', 'vulnerabilities[0]']]);
    for (const f of changes) FindingEventSchema.parse(f);
    expect(changes[0]!.why).toContainEqual({
      signal: 'vex.affected',
      contribution: 0,
      detail: 'update (acme/app/app.vex.json vulnerabilities[1], 2026-02-01T00:00:00Z)',
    });
  });

  it('a CSAF fixed suppresses its finding, beside the CycloneDX document (same instant: the keeping statement wins)', () => {
    expect(advisoryChanges(ctx([csaf]), AT).changes.map((f) => f.advisory!.id)).toEqual(['RUSTSEC-2098-0001']);
    // Both documents speak of serde at the same instant: exploitable (keeps) wins over fixed (suppresses).
    expect(advisoryChanges(ctx([csaf, cyclonedx]), AT).changes.map((f) => f.advisory!.id)).toEqual(['RUSTSEC-2098-0002']);
  });
});
