import { describe, expect, it } from 'vitest';
import { FormatError, parseDenyConfig, parseSpecString, specMatches } from '../../src/index.js';

const TOML = `[graph]
all-features = true
targets = ["x86_64-unknown-linux-gnu"]

[advisories]
ignore = ["RUSTSEC-2020-0001"]

[licenses]
allow = ["MIT"]
confidence-threshold = 0.9

[[licenses.clarify]]
crate = "ring"
expression = "ISC"

[bans]
multiple-versions = "deny"
skip-tree = ["windows-sys"]
frobnicate = 1

[sources]
unknown-git = "deny"

[sources.allow-org]
github = ["acme"]
sourceforge = ["x"]

[output]
feature-depth = 1
`;

describe('parseDenyConfig', () => {
  it('reads the supported keys and names every other one with its line', () => {
    const c = parseDenyConfig(TOML, 'ws/deny.toml');
    expect(c.licenses!.allow).toEqual([{ license: 'MIT', key: 'licenses.allow[0]', line: 9 }]);
    expect(c.bans!.multipleVersions).toBe('deny');
    expect(c.bans!.multipleVersionsRef).toEqual({ key: 'bans.multiple-versions', line: 17 });
    expect(c.sources!.unknownGit).toBe('deny');
    expect(c.sources!.unknownRegistry).toBe('warn'); // cargo-deny's default
    expect(c.sources!.allowed.map((a) => a.url)).toEqual(['https://github.com/rust-lang/crates.io-index']);
    expect(c.warnings.map((w) => `${w.line}: ${w.key}`)).toEqual([
      '3: graph.targets',
      '6: advisories.ignore',
      '10: licenses.confidence-threshold',
      '12: licenses.clarify',
      '18: bans.skip-tree',
      '19: bans.frobnicate',
      '28: output',
      '26: sources.allow-org.sourceforge',
    ]);
    expect(c.warnings[0]!.message).toBe('not supported (ignored): every target is judged (as cargo-deny does without it)');
    expect(c.warnings[5]!.message).toBe('not a key cratewatch knows (ignored)');
  });

  it('says that without [graph] all-features cargo-deny sees fewer crates, and runs only the configured checks', () => {
    const c = parseDenyConfig('[bans]\nmultiple-versions = "warn"\n');
    expect(c.warnings.map((w) => w.key)).toEqual(['graph.all-features']);
    expect(c.licenses).toBeUndefined();
    expect(c.sources).toBeUndefined();
    expect(c.bans!.wildcards).toBe('allow');
  });

  it('refuses bad values naming the file, line and key', () => {
    const bad = (text: string) => {
      try {
        parseDenyConfig(text, 'deny.toml');
      } catch (err) {
        expect(err).toBeInstanceOf(FormatError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('[bans]\nmultiple-versions = "nope"\n')).toBe(
      'deny.toml, line 2, field `bans.multiple-versions`: expected "deny", "warn" or "allow", not "nope"',
    );
    expect(bad('[bans]\nskip = ["not a crate"]\n')).toMatch(
      /^deny\.toml, line 2, field `bans\.skip\[0\]`: "not a crate" is not a crate name/,
    );
    expect(bad('[bans]\ndeny = ["x:>=nope"]\n')).toMatch(
      /field `bans\.deny\[0\]`: "x:>=nope": ">=nope" is not a Cargo version requirement/,
    );
    expect(bad('[licenses]\nallow = "MIT"\n')).toBe('deny.toml, line 2, field `licenses.allow`: expected a list of strings');
    expect(bad('[licenses\n')).toMatch(/^deny\.toml, line 1: not valid TOML/);
    expect(bad('[sources]\nrequired-git-spec = "commit"\n')).toMatch(
      /line 2, field `sources.required-git-spec`: expected one of any, branch, tag, rev/,
    );
  });
});

describe('package specs', () => {
  it('reads name, name@version (exact) and name:requirement', () => {
    expect(parseSpecString('serde')).toEqual({ name: 'serde', req: undefined, text: 'serde' });
    expect(specMatches(parseSpecString('serde@1.0.100'), { name: 'serde', version: '1.0.100' })).toBe(true);
    expect(specMatches(parseSpecString('serde@1.0.100'), { name: 'serde', version: '1.0.101' })).toBe(false);
    expect(specMatches(parseSpecString('windows-sys:<=0.52'), { name: 'windows-sys', version: '0.52.9' })).toBe(true);
    expect(specMatches(parseSpecString('windows-sys:<=0.52'), { name: 'windows-sys', version: '0.59.0' })).toBe(false);
    expect(specMatches(parseSpecString('windows-sys:<=0.52'), { name: 'windows_sys', version: '0.52.0' })).toBe(false);
  });
});
