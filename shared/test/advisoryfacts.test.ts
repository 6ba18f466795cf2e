import { describe, expect, it } from 'vitest';
import {
  advisoryFacts,
  aliasesByKind,
  bySeverity,
  countBySeverity,
  describeRanges,
  inReadingOrder,
  normaliseRange,
  patchedRanges,
} from '../src/advisoryfacts.js';
import { parseAdvisory, type AdvisoryHit } from '../src/advisory.js';
import { parseLockfile } from '../src/lockfile.js';

const advisory = (id: string, extra: string, patched = '[">= 9.0.0"]') =>
  parseAdvisory(
    `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "foo"\ndate = "2024-01-01"\n${extra}\n[versions]\npatched = ${patched}\n\`\`\`\n\n# ${id}\n`,
    `crates/foo/${id}.md`,
  );

describe('advisory facts', () => {
  it('patched ranges stay ranges: each entry is one range, its commas are its bounds (lower bound first)', () => {
    const a = advisory('RUSTSEC-2024-0001', '', '[">=1.13.3", "<1.12.0,>= 1.11.5", "^0.9.2"]');
    expect(patchedRanges(a)).toEqual(['>= 1.13.3', '>= 1.11.5, < 1.12.0', '^0.9.2']);
    expect(describeRanges(patchedRanges(a))).toBe('>= 1.13.3 or >= 1.11.5, < 1.12.0 or ^0.9.2');
    expect(describeRanges([])).toBe('no patched version');
    expect(normaliseRange('<=  2.0')).toBe('<= 2.0');
  });

  it('CVSS with its score and vector, aliases by kind, the rustsec.org link and the announcement url', () => {
    const a = advisory(
      'RUSTSEC-2024-0002',
      'aliases = ["CVE-2024-1", "GHSA-aaaa-bbbb-cccc", "OSV-1"]\ncvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"',
    );
    const f = advisoryFacts(a);
    expect(f).toMatchObject({
      severity: 'critical',
      score: 9.8,
      cve: ['CVE-2024-1'],
      ghsa: ['GHSA-aaaa-bbbb-cccc'],
      link: 'https://rustsec.org/advisories/RUSTSEC-2024-0002',
    });
    expect(f.cvss).toEqual({ vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', version: '3.1', score: 9.8, estimated: false });
    expect(aliasesByKind(a).other).toEqual(['OSV-1']);
    expect(advisoryFacts(advisory('RUSTSEC-2024-0003', 'url = "https://github.com/x/y/issues/1"'))).toMatchObject({
      link: 'https://rustsec.org/advisories/RUSTSEC-2024-0003',
      url: 'https://github.com/x/y/issues/1',
    });
    expect(f.url).toBeNull();
    expect(advisoryFacts(advisory('RUSTSEC-2024-0003', '')).cvss).toBeNull(); // no CVSS: said as none, rated medium as the scorer rates it
  });

  it('orders hits by CVSS score, highest first, then by id; counts them by severity', () => {
    const pkg = parseLockfile(
      `version = 4\n[[package]]\nname = "foo"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\n`,
    ).packages[0]!;
    const hit = (id: string, cvss?: string): AdvisoryHit => ({ advisory: advisory(id, cvss ? `cvss = "${cvss}"` : ''), package: pkg });
    const hits = [
      hit('RUSTSEC-2024-0010', 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N'), // 1.8 low
      hit('RUSTSEC-2024-0011'), // none: medium, 5
      hit('RUSTSEC-2024-0013', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), // 9.8
      hit('RUSTSEC-2024-0012', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), // 9.8
      hit('RUSTSEC-2024-0014', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H'), // 7.5 high
    ];
    expect([...hits].sort(bySeverity).map((h) => h.advisory.id)).toEqual([
      'RUSTSEC-2024-0012',
      'RUSTSEC-2024-0013',
      'RUSTSEC-2024-0014',
      'RUSTSEC-2024-0011',
      'RUSTSEC-2024-0010',
    ]);
    expect(countBySeverity(hits)).toEqual({ critical: 2, high: 1, medium: 1, low: 1, info: 0 });
    // An informational advisory (rated low, 2) never comes before a vulnerability, even a lower-rated one.
    const info: AdvisoryHit = { advisory: advisory('RUSTSEC-2024-0009', 'informational = "unsound"'), package: pkg };
    expect(inReadingOrder([info, ...hits]).map((h) => h.advisory.id)).toEqual([
      'RUSTSEC-2024-0012',
      'RUSTSEC-2024-0013',
      'RUSTSEC-2024-0014',
      'RUSTSEC-2024-0011',
      'RUSTSEC-2024-0010',
      'RUSTSEC-2024-0009',
    ]);
  });
});
