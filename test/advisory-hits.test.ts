/**
 * Runs bench/advisory-hits.mjs over the real advisory-db and the real lockfiles in ../shared/data,
 * and checks the hits file against cases derived by hand from the advisories' text.
 * Needs ../shared/data; skips (saying so) when it is absent.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = resolve(__dirname, '..');
const data = resolve(root, '../shared/data');
const hasData = existsSync(join(data, 'rustsec')) && existsSync(join(data, 'projects'));

describe.skipIf(!hasData)('advisory hits over ../shared/data (needs ../shared/data)', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'hits-')), 'hits.tsv');
  const summary = JSON.parse(execFileSync('node', [join(root, 'bench/advisory-hits.mjs'), '--out', out], { encoding: 'utf8' }));
  const rows = readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'));
  const has = (lockfile: string, advisory: string, crate: string, version: string) =>
    rows.some((r) => r[0] === lockfile && r[1] === advisory && r[2] === crate && r[3] === version);
  const kindOf = (lockfile: string, advisory: string, version: string) =>
    rows.find((r) => r[0] === lockfile && r[1] === advisory && r[3] === version)?.[4];

  it('reads every advisory in the database', () => {
    expect(summary.refused).toBe(0);
    expect(summary.advisories).toBeGreaterThan(1000);
    expect(summary.hits).toBe(rows.length);
  });

  // Each case: the advisory's [versions] as written, and why the locked version is (not) affected.
  const cases: [string, string, string, string, boolean, string][] = [
    // patched [">= 0.103.12, < 0.104.0-alpha.1", ">= 0.104.0-alpha.6"]: 0.101.7 lies below both.
    ['spin', 'RUSTSEC-2026-0098', 'rustls-webpki', '0.101.7', true, 'several patched ranges with pre-release bounds'],
    // unaffected ["< 0.102.0-alpha.0"]: 0.101.7 < 0.102.0-alpha.0 in SemVer order.
    ['spin', 'RUSTSEC-2026-0049', 'rustls-webpki', '0.101.7', false, 'unaffected ends at a pre-release'],
    // same advisory: 0.102.8 is above the unaffected bound and below patched ">= 0.103.10".
    ['spin', 'RUSTSEC-2026-0049', 'rustls-webpki', '0.102.8', true, 'just above a pre-release unaffected bound'],
    // patched [">= 0.2.8, < 0.3.0-rc.1", ">= 0.3.0-rc.2"]: 0.4.5 >= 0.3.0-rc.2.
    ['spin', 'RUSTSEC-2022-0055', 'axum-core', '0.4.5', false, 'patched from a release candidate'],
    // a yanked-only fix: unaffected ["<= 0.1.37"], patched [">= 0.1.40"]; 0.1.38/39 were yanked.
    ['application-services', 'RUSTSEC-2023-0078', 'tracing', '0.1.37', false, 'inclusive unaffected bound of a yanked-only fix'],
    // withdrawn = 2025-03-..., patched [] would otherwise mean every version.
    ['spin', 'RUSTSEC-2025-0007', 'ring', '0.17.8', false, 'withdrawn advisory'],
    // withdrawn informational advisory.
    ['application-services', 'RUSTSEC-2020-0053', 'dirs', '4.0.0', false, 'withdrawn informational'],
    // informational = "unsound"; patched [">= 0.10.1", "< 0.10.0, >= 0.9.3", "< 0.9.0, >= 0.8.6"], 0.8.5 below 0.8.6.
    ['application-services', 'RUSTSEC-2026-0097', 'rand', '0.8.5', true, 'informational unsound, upper bound written first'],
    // patched ["^0.3.26", ">= 0.4.4"]: a caret that includes its own version.
    ['application-services', 'RUSTSEC-2024-0332', 'h2', '0.3.26', false, 'caret patched range, inclusive start'],
    // patched [">= 0.14.3", "0.13.10", "0.12.36"]: bare versions are carets; 0.14.27 >= 0.14.3.
    ['application-services', 'RUSTSEC-2021-0020', 'hyper', '0.14.27', false, 'bare versions read as caret'],
    // patched [">= 0.8.4"]: 0.9.34+deprecated, build metadata ignored.
    ['ariel-os', 'RUSTSEC-2018-0005', 'serde_yaml', '0.9.34+deprecated', false, 'build metadata'],
    // patched [">= 111.18, < 300.0", ">= 300.0.5"]: partial versions filled with zeros.
    ['application-services', 'RUSTSEC-2022-0014', 'openssl-src', '300.3.1+3.3.1', false, 'partial versions'],
    // patched [..., "< 29.0.0"]: a "patched" range below the affected ones; 29.0.1 is affected.
    ['spin', 'RUSTSEC-2026-0006', 'wasmtime', '29.0.1', true, 'patched range that is really an unaffected floor'],
    // patched [">= 1.38.2, < 1.39.0", ...]: 1.38.1 just under the backport.
    ['spin', 'RUSTSEC-2025-0023', 'tokio', '1.38.1', true, 'one patch below a backported fix'],
    // patched [">= 0.3.47"]: the boundary version itself is patched.
    ['application-services', 'RUSTSEC-2026-0009', 'time', '0.3.47', false, 'inclusive patched boundary'],
    ['spin', 'RUSTSEC-2026-0009', 'time', '0.3.36', true, 'below the patched boundary'],
  ];

  it.each(cases)('%s %s %s@%s → %s (%s)', (lockfile, advisory, crate, version, expected) => {
    expect(has(lockfile, advisory, crate, version)).toBe(expected);
  });

  it('keeps informational kinds apart from vulnerabilities', () => {
    expect(kindOf('application-services', 'RUSTSEC-2026-0097', '0.8.5')).toBe('unsound');
    expect(kindOf('spin', 'RUSTSEC-2026-0174', '2.12.0')).toBe('notice');
    expect(kindOf('spin', 'RUSTSEC-2025-0023', '1.38.1')).toBe('unsound');
    expect(kindOf('spin', 'RUSTSEC-2026-0006', '29.0.1')).toBe('vulnerability');
  });
});
