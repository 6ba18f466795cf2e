import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { isAffected, matchLockfile, parseAdvisory } from '../src/advisory.js';
import { parseLockfile } from '../src/lockfile.js';
import { advisorySeverity, rateCvss } from '../src/severity.js';

const advisory = (front: string, body = '# A title\n\nSome text.\n') => `\`\`\`toml\n${front}\n\`\`\`\n\n${body}`;

const BASIC = `[advisory]
id = "RUSTSEC-2099-0001"
package = "demo"
date = "2099-01-01"
aliases = ["CVE-2099-1"]
cvss = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"

[versions]
patched = [">= 1.2.0"]
unaffected = ["< 1.0.0"]`;

const LOCK = `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["demo 1.1.0", "demo 2.0.0", "local"]

[[package]]
name = "demo"
version = "1.1.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "aa"

[[package]]
name = "demo"
version = "2.0.0"
source = "git+https://example.org/demo?rev=abc#abc"

[[package]]
name = "local"
version = "0.1.0"
`;

describe('parseAdvisory', () => {
  it('reads every field of the front matter and the title', () => {
    const a = parseAdvisory(advisory(BASIC), 'crates/demo/RUSTSEC-2099-0001.md');
    expect(a).toMatchObject({
      id: 'RUSTSEC-2099-0001',
      package: 'demo',
      collection: 'crates',
      title: 'A title',
      description: 'Some text.',
      aliases: ['CVE-2099-1'],
      versions: { patched: ['>= 1.2.0'], unaffected: ['< 1.0.0'] },
    });
  });

  it('marks advisories under rust/ as toolchain advisories', () => {
    expect(parseAdvisory(advisory(BASIC), 'rust/std/RUSTSEC-2099-0001.md').collection).toBe('rust');
  });

  it('names the file and the field on a bad requirement', () => {
    const bad = BASIC.replace('">= 1.2.0"', '">= 1.2.0", ">= 1.0, >= 2.0"');
    expect(() => parseAdvisory(advisory(bad), 'crates/demo/X.md')).toThrow(FormatError);
    expect(() => parseAdvisory(advisory(bad), 'crates/demo/X.md')).toThrow(/crates\/demo\/X\.md, field `versions\.patched\[1\]`/);
  });

  it('names the file and line on bad TOML, and missing fields by name', () => {
    expect(() => parseAdvisory(advisory('[advisory]\nid = "RUSTSEC-1"\npackage = \n'), 'f.md')).toThrow(/f\.md, line \d+/);
    expect(() => parseAdvisory(advisory(BASIC.replace('package = "demo"\n', '')), 'f.md')).toThrow(/field `advisory\.package`/);
    expect(() => parseAdvisory('no front matter', 'f.md')).toThrow(/f\.md, line 1: no ```toml/);
    expect(() => parseAdvisory(advisory(BASIC, 'no heading'), 'f.md')).toThrow(/field `title`/);
  });
});

describe('matchLockfile', () => {
  const lock = parseLockfile(LOCK);
  const a = parseAdvisory(advisory(BASIC), 'crates/demo/RUSTSEC-2099-0001.md');

  it('matches only crates.io packages whose version lies outside every unaffected range', () => {
    const hits = matchLockfile([a], lock);
    expect(hits.map((h) => h.package.id)).toEqual(['demo@1.1.0']); // the git fork 2.0.0 is not matched
    expect(isAffected(a, '0.9.0')).toBe(false);
    expect(isAffected(a, '1.2.0')).toBe(false);
    expect(isAffected(a, '1.0.0')).toBe(true);
  });

  it('a version that is not SemVer is affected by nothing, and does not throw', () => {
    // 1.0.0 is affected (above); the same number audited at a git revision is no crates.io release.
    expect(isAffected(a, '1.0.0@git:1f3c657c8073aec4f0b6ebac7be33b4851644745')).toBe(false);
    for (const v of ['1.0', 'v1.0.0', 'latest', '']) expect(isAffected(a, v), v).toBe(false);
  });

  it('never matches withdrawn or toolchain advisories', () => {
    const withdrawn = parseAdvisory(
      advisory(BASIC.replace('date = "2099-01-01"', 'date = "2099-01-01"\nwithdrawn = "2099-02-01"')),
      'crates/demo/W.md',
    );
    const rust = parseAdvisory(advisory(BASIC), 'rust/demo/R.md');
    expect(matchLockfile([withdrawn, rust], lock)).toEqual([]);
  });

  it('treats an empty patched list as every version affected', () => {
    const all = parseAdvisory(
      advisory(BASIC.replace('patched = [">= 1.2.0"]', 'patched = []').replace('unaffected = ["< 1.0.0"]', '')),
      'crates/demo/A.md',
    );
    expect(matchLockfile([all], lock)).toHaveLength(1);
  });
});

describe('severity', () => {
  it('computes CVSS 3.1 base scores exactly', () => {
    expect(rateCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H')).toMatchObject({ score: 9.8, severity: 'critical' });
    expect(rateCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H')).toMatchObject({ score: 10, severity: 'critical' });
    expect(rateCvss('CVSS:3.1/AV:L/AC:H/PR:L/UI:R/S:U/C:L/I:N/A:N')).toMatchObject({ score: 2.2, severity: 'low' });
    expect(rateCvss('CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H')).toMatchObject({ score: 5.9, severity: 'medium' });
    expect(rateCvss('CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:L/I:L/A:N')).toMatchObject({ score: 6.4, severity: 'medium' });
  });

  it('keeps informational advisories low', () => {
    expect(advisorySeverity({ informational: 'unsound', cvss: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }).severity).toBe('low');
    expect(advisorySeverity({ informational: 'notice' }).severity).toBe('info');
    expect(advisorySeverity({}).severity).toBe('medium');
  });
});
