import { describe, expect, it } from 'vitest';
import semver from 'semver';
import { compareVersions, intervalContains, isSemVer, requirementToInterval } from '../src/rustsemver.js';

const inReq = (req: string, v: string) => intervalContains(requirementToInterval(req), v);

describe('RustSec requirements', () => {
  it('reads a comma-separated pair as one interval (npm semver calls it invalid)', () => {
    expect(semver.validRange('>= 1.8.4, < 1.9.0')).toBeNull(); // the difference we translate
    expect(inReq('>= 1.8.4, < 1.9.0', '1.8.4')).toBe(true);
    expect(inReq('>= 1.8.4, < 1.9.0', '1.8.9')).toBe(true);
    expect(inReq('>= 1.8.4, < 1.9.0', '1.9.0')).toBe(false);
    expect(inReq('>= 1.8.4, < 1.9.0', '1.8.3')).toBe(false);
    expect(inReq('< 0.10.0, >= 0.9.3', '0.9.5')).toBe(true); // upper bound written first
  });

  it('reads a bare version as caret (npm reads it as exact)', () => {
    expect(semver.satisfies('0.13.11', '0.13.10')).toBe(false);
    expect(inReq('0.13.10', '0.13.11')).toBe(true);
    expect(inReq('0.13.10', '0.14.0')).toBe(false);
    expect(inReq('1.2.3', '1.9.0')).toBe(true);
    expect(inReq('0.0.3', '0.0.4')).toBe(false);
    expect(inReq('^ 0.3.1', '0.3.9')).toBe(true); // space after the operator
  });

  it('fills a partial version with zeros, unlike Cargo', () => {
    expect(inReq('<= 1.2', '1.2.0')).toBe(true);
    expect(inReq('<= 1.2', '1.2.1')).toBe(false); // Cargo would say <1.3.0
    expect(inReq('> 1.2', '1.2.1')).toBe(true); // Cargo would say >=1.3.0
    expect(inReq('= 1.2', '1.2.0')).toBe(true);
    expect(inReq('= 1.2', '1.2.5')).toBe(false); // Cargo: >=1.2.0, <1.3.0
    expect(inReq('< 300.0', '111.25.0')).toBe(true);
    expect(inReq('< 300.0', '300.0.0')).toBe(false);
  });

  it('compares pre-releases in plain SemVer order (npm and Cargo hide them from ranges)', () => {
    expect(semver.satisfies('0.104.0-alpha.7', '>=0.103.12')).toBe(false); // npm excludes the pre-release
    expect(inReq('>= 0.103.12', '0.104.0-alpha.7')).toBe(true);
    expect(inReq('>= 0.104.0-alpha.6', '0.104.0-alpha.7')).toBe(true);
    expect(inReq('>= 0.104.0-alpha.6', '0.104.0-alpha.5')).toBe(false);
    expect(inReq('< 0.102.0-alpha.0', '0.101.7')).toBe(true);
    expect(inReq('< 0.102.0-alpha.0', '0.102.0-alpha.0')).toBe(false);
    expect(inReq('>= 0.3.0-rc.2', '0.3.0')).toBe(true);
  });

  it('ends caret and tilde at X.Y.Z-0 so the next major pre-release is outside', () => {
    expect(inReq('^1.0.0', '2.0.0-alpha')).toBe(false);
    expect(inReq('^1.0.0', '1.99.0')).toBe(true);
    expect(inReq('~1.2', '1.3.0-beta')).toBe(false);
    expect(inReq('~1.2', '1.2.9')).toBe(true);
    expect(inReq('~1', '1.9.0')).toBe(true);
    expect(inReq('^0.2', '0.2.9')).toBe(true);
    expect(inReq('^0.2', '0.3.0')).toBe(false);
    expect(inReq('^0', '0.9.0')).toBe(true);
  });

  it('ignores build metadata when comparing', () => {
    expect(compareVersions('0.9.34+deprecated', '0.9.34')).toBe(0);
    expect(inReq('>= 0.8.4', '0.9.34+deprecated')).toBe(true);
    expect(inReq('<= 300.3.1', '300.3.1+3.3.1')).toBe(true);
  });

  it('refuses what RustSec refuses, with the requirement in the message', () => {
    expect(() => requirementToInterval('>= 1.0, >= 2.0')).toThrow(/more than one lower bound in ">= 1.0, >= 2.0"/);
    expect(() => requirementToInterval('^1.0, < 2.0')).toThrow(/must stand alone/);
    expect(() => requirementToInterval('1.*')).toThrow(/wildcard/);
    expect(() => requirementToInterval('>= 2.0, < 1.0')).toThrow(/empty range/);
    expect(() => requirementToInterval('>= 1, < 2, < 3')).toThrow(/too many comparators/);
    expect(() => requirementToInterval('>= banana')).toThrow(/not a version comparator/);
  });
});

describe('isSemVer: a version as Cargo writes one', () => {
  it('takes full versions with pre-release and build metadata', () => {
    for (const v of ['0.1.5', '1.0.0-rc.1', '1.0.2+wasi-0.2.9', '300.3.1+3.3.1', '1.0.0-alpha.1+b.01']) expect(isSemVer(v), v).toBe(true);
  });
  it('refuses what Node semver would let through or Cargo never writes', () => {
    for (const v of [
      'v1.2.3',
      '=1.2.3',
      ' 1.2.3',
      '1.2.3 ',
      '1.2',
      '01.2.3',
      '1.2.3-01',
      '',
      'latest',
      '0.1.5@git:1f3c657c8073aec4f0b6ebac7be33b4851644745',
    ]) {
      expect(isSemVer(v), JSON.stringify(v)).toBe(false);
    }
  });
});
