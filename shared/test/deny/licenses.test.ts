import { describe, expect, it } from 'vitest';
import {
  checkLicenses,
  evaluate,
  parseAllowedLicense,
  parseDenyConfig,
  parseLicenseExpression,
  requirements,
  satisfies,
  type DenyPackage,
  type DenyPackages,
} from '../../src/index.js';

const req = (s: string) => parseAllowedLicense(s);
const allows = (expr: string, allowed: string[]) =>
  evaluate(parseLicenseExpression(expr), (r) => allowed.some((a) => satisfies(req(a), r)));

describe('SPDX expressions', () => {
  it('gives AND precedence over OR, and parentheses over both', () => {
    expect(allows('MIT OR Apache-2.0 AND BSD-3-Clause', ['MIT'])).toBe(true);
    expect(allows('(MIT OR Apache-2.0) AND BSD-3-Clause', ['MIT'])).toBe(false);
    expect(allows('(MIT OR Apache-2.0) AND BSD-3-Clause', ['Apache-2.0', 'BSD-3-Clause'])).toBe(true);
    expect(allows('MIT AND (Apache-2.0 OR ISC)', ['MIT', 'ISC'])).toBe(true);
  });

  it("reads old crates' `/` as OR and operators in any case", () => {
    expect(allows('MIT/Apache-2.0', ['Apache-2.0'])).toBe(true);
    expect(allows('mit or apache-2.0', ['MIT'])).toBe(true);
    expect(requirements(parseLicenseExpression('Unlicense/MIT')).map((r) => r.license)).toEqual(['Unlicense', 'MIT']);
  });

  it('treats a license with an exception as a license of its own', () => {
    expect(allows('Apache-2.0 WITH LLVM-exception', ['Apache-2.0'])).toBe(false);
    expect(allows('Apache-2.0 WITH LLVM-exception', ['Apache-2.0 WITH LLVM-exception'])).toBe(true);
    expect(allows('Apache-2.0', ['Apache-2.0 WITH LLVM-exception'])).toBe(false);
  });

  it('lets a later version satisfy `+`, except for GNU licenses, which become -or-later ids', () => {
    expect(allows('MPL-1.1+', ['MPL-2.0'])).toBe(true);
    expect(allows('MPL-2.0+', ['MPL-1.1'])).toBe(false);
    expect(allows('MPL-1.1', ['MPL-2.0'])).toBe(false);
    expect(parseLicenseExpression('GPL-2.0+')).toEqual({ req: { license: 'GPL-2.0-or-later', orLater: false } });
    expect(allows('GPL-2.0+', ['GPL-3.0-or-later'])).toBe(false);
    expect(allows('GPL-2.0+', ['GPL-2.0-or-later'])).toBe(true);
    // The deprecated id is not its -only successor (cargo-deny 0.18.4+ is pedantic about GNU ids).
    expect(allows('GPL-2.0', ['GPL-2.0-only'])).toBe(false);
  });

  it('refuses what is not SPDX, and an allow entry that is an expression', () => {
    expect(() => parseLicenseExpression('MIT OR Whatever-1.0')).toThrow(/not an SPDX license expression/);
    expect(() => parseLicenseExpression('MIT AND')).toThrow(/not an SPDX/);
    expect(() => parseLicenseExpression('  ')).toThrow(/empty/);
    expect(() => parseAllowedLicense('MIT OR Apache-2.0')).toThrow(/each license on its own/);
    expect(() => parseAllowedLicense('MPL-1.1+')).toThrow(/\+/);
    expect(parseLicenseExpression('LicenseRef-Acme')).toEqual({ req: { license: 'LicenseRef-Acme', orLater: false } });
  });
});

function pkgs(
  list: {
    name: string;
    version?: string;
    license?: string | null;
    member?: boolean;
    publish?: string[] | null;
    devOnly?: boolean;
    source?: string;
    licenseFile?: string;
  }[],
): DenyPackages {
  const packages = new Map<string, DenyPackage>();
  const root: DenyPackage = {
    id: 'root@0.1.0',
    name: 'root',
    version: '0.1.0',
    member: true,
    deps: [],
    meta: { license: 'MIT', licenseFile: null, publish: [], dependencies: [] },
  };
  packages.set(root.id, root);
  for (const p of list) {
    const id = `${p.name}@${p.version ?? '1.0.0'}`;
    packages.set(id, {
      id,
      name: p.name,
      version: p.version ?? '1.0.0',
      source: p.member ? undefined : (p.source ?? 'registry+https://github.com/rust-lang/crates.io-index'),
      member: p.member ?? false,
      deps: [],
      meta: {
        license: p.license === undefined ? 'MIT' : p.license,
        licenseFile: p.licenseFile ?? null,
        publish: p.publish ?? null,
        dependencies: [],
      },
    });
    root.deps.push({ to: id, kinds: [p.devOnly ? 'dev' : 'normal'] });
  }
  return { packages, metadata: true };
}
const config = (licenses: string) => parseDenyConfig(`[licenses]\n${licenses}\n`).licenses!;

describe('checkLicenses', () => {
  const cfg = config(
    `allow = ["MIT", "Apache-2.0"]\nexceptions = [{ crate = "ring", allow = ["ISC"] }]\nunused-allowed-license = "allow"\nunused-license-exception = "allow"\n[licenses.private]\nignore = true`,
  );

  it('rejects a crate no allowance satisfies, naming the license it lacks and the rule', () => {
    const f = checkLicenses(
      pkgs([
        { name: 'gpl', license: 'GPL-3.0-only OR LGPL-2.1-only' },
        { name: 'ok', license: 'MIT OR GPL-3.0-only' },
      ]),
      cfg,
    );
    expect(f.map((x) => [x.package?.id, x.code, x.level])).toEqual([['gpl@1.0.0', 'rejected', 'deny']]);
    expect(f[0]!.message).toContain('rejected GPL-3.0-only, LGPL-2.1-only');
    expect(f[0]!.rule).toEqual({ key: 'licenses.allow', line: 2 });
  });

  it('applies an exception to its crate only', () => {
    const f = checkLicenses(
      pkgs([
        { name: 'ring', license: 'ISC AND MIT' },
        { name: 'other', license: 'ISC' },
      ]),
      cfg,
    );
    expect(f.map((x) => x.package?.name)).toEqual(['other']);
  });

  it('says a crate without a license field is unlicensed, and names a license-file it cannot read', () => {
    const f = checkLicenses(
      pkgs([
        { name: 'none', license: null, licenseFile: 'LICENSE' },
        { name: 'empty', license: '' },
        { name: 'bad', license: 'MIT OR Nope' },
      ]),
      cfg,
    );
    expect(f.map((x) => [x.package?.name, x.code])).toEqual([
      ['bad', 'unlicensed'],
      ['empty', 'unlicensed'],
      ['none', 'unlicensed'],
    ]);
    expect(f[2]!.message).toMatch(/no license field; license-file LICENSE is not read/);
    expect(f[0]!.message).toMatch(/does not parse/);
  });

  it('leaves out dev-only crates and private members (private.ignore), unless include-dev', () => {
    const list = [
      { name: 'devtool', license: 'GPL-3.0-only', devOnly: true },
      { name: 'secret', license: 'LicenseRef-Mine', member: true, publish: [] },
    ];
    expect(checkLicenses(pkgs(list), cfg)).toEqual([]);
    const withDev = config('allow = ["MIT"]\ninclude-dev = true\nunused-allowed-license = "allow"');
    expect(checkLicenses(pkgs(list), withDev).map((x) => x.package?.name)).toEqual(['devtool', 'secret']);
  });

  it('warns about allowances and exceptions nothing used', () => {
    const c = config('allow = [\n  "MIT",\n  "Zlib",\n]\nexceptions = [{ crate = "gone", allow = ["ISC"] }]');
    const f = checkLicenses(pkgs([{ name: 'a', license: 'MIT' }]), c);
    expect(f.map((x) => [x.code, x.level, x.rule.key, x.rule.line])).toEqual([
      ['license-not-encountered', 'warn', 'licenses.allow[1]', 4],
      ['license-exception-not-encountered', 'warn', 'licenses.exceptions[0]', 6],
    ]);
  });

  it('warns (parse-error) about a field that is not strict SPDX, and judges its lenient reading', () => {
    const f = checkLicenses(
      pkgs([
        { name: 'old', license: 'GPL-3.0+' },
        { name: 'dep', license: 'GPL-2.0' },
        { name: 'case', license: 'mit' },
        { name: 'slash', license: 'MIT/Apache-2.0' },
      ]),
      cfg,
    );
    expect(f.map((x) => [x.package?.name, x.code, x.level])).toEqual([
      ['case', 'parse-error', 'warn'],
      ['dep', 'parse-error', 'warn'],
      ['dep', 'rejected', 'deny'],
      ['old', 'parse-error', 'warn'],
      ['old', 'rejected', 'deny'],
    ]);
    expect(f[3]!.message).toBe(
      'license GPL-3.0+ is not strict SPDX (GPL-3.0 is a deprecated license identifier; a "+" on a GNU license (SPDX writes -or-later)); read leniently',
    );
    expect(f[4]!.message).toContain('rejected GPL-3.0-or-later');
  });

  it('skips crates from private.ignore-sources (host and path exactly, as cargo-deny matches them)', () => {
    const c = config(
      'allow = ["MIT"]\nunused-allowed-license = "allow"\n[licenses.private]\nignore = true\nignore-sources = ["https://crates.corp.example/index/"]',
    );
    const f = checkLicenses(
      pkgs([
        { name: 'inhouse', license: 'LicenseRef-Corp', source: 'sparse+https://crates.corp.example/index/' },
        { name: 'nearby', license: 'LicenseRef-Corp', source: 'sparse+https://crates.corp.example/index2/' },
      ]),
      c,
    );
    expect(f.map((x) => x.package?.name)).toEqual(['nearby']);
  });

  it('rejects a license in the legacy deny list even when it is allowed', () => {
    const c = config('allow = ["MIT", "GPL-3.0-only"]\ndeny = ["GPL-3.0-only"]\nunused-allowed-license = "allow"');
    const f = checkLicenses(pkgs([{ name: 'g', license: 'GPL-3.0-only' }]), c);
    expect(f.map((x) => [x.code, x.rule.key])).toEqual([['rejected', 'licenses.deny[0]']]);
  });
});
