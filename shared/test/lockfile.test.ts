import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { LockedVersionError, parseLockfile } from '../src/lockfile.js';

describe('parseLockfile', () => {
  it('resolves dependency entries to ids, and gives git forks of a crates.io version their own id', () => {
    const lock = parseLockfile(`version = 3
[[package]]
name = "a"
version = "1.0.0"
dependencies = ["b 1.0.0 (registry+https://github.com/rust-lang/crates.io-index)", "b 1.0.0 (git+https://x.org/b?rev=1)", "c"]
[[package]]
name = "b"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
[[package]]
name = "b"
version = "1.0.0"
source = "git+https://x.org/b?rev=1#1"
[[package]]
name = "c"
version = "0.2.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
`);
    expect(lock.version).toBe(3);
    expect(lock.packages[0]!.dependencies).toEqual([
      'b@1.0.0 (registry+https://github.com/rust-lang/crates.io-index)',
      'b@1.0.0 (git+https://x.org/b?rev=1)',
      'c@0.2.0',
    ]);
  });

  it('names the file and the field of a broken entry', () => {
    expect(() => parseLockfile('version = 4\n[[package]]\nname = "a"\n', 'ws/Cargo.lock')).toThrow(/ws\/Cargo\.lock, field `package\[0\]\.version`/);
    expect(() => parseLockfile('version = 4\n[[package]]\nname = "a"\nversion = "1.0.0"\ndependencies = ["zzz"]\n', 'L')).toThrow(/field `package\[0\]\.dependencies\[0\]`: dependency "zzz" names no package/);
    expect(() => parseLockfile('version = 9\n', 'L')).toThrow(/unsupported lockfile version 9/);
    expect(() => parseLockfile('version = = 4\n', 'L')).toThrow(/L, line 1: not valid TOML/);
  });

  it('refuses a version that is not SemVer, naming the file, the line and the package', () => {
    const text = 'version = 4\n\n[[package]]\nname = "a"\nversion = "1.0.0"\n\n[[package]]\nname = "foo"\nsource = "x"\nversion = "not-a-version"\n';
    let err: unknown;
    try {
      parseLockfile(text, 'ws/Cargo.lock');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LockedVersionError);
    expect(err).toBeInstanceOf(FormatError); // every caller already refuses a FormatError (DLQ, HTTP 400, CLI exit 2)
    expect((err as LockedVersionError).message).toBe('ws/Cargo.lock, line 10, field `package[1].version`: package "foo": version "not-a-version" is not SemVer');
    expect((err as LockedVersionError).where).toEqual({ line: 10, field: 'package[1].version' });
    expect((err as LockedVersionError).packageName).toBe('foo');
  });

  it('refuses what Cargo never writes as a version (partial, v-prefixed, a cargo-vet git suffix)', () => {
    for (const v of ['1.0', 'v1.0.0', '=1.0.0', ' 1.0.0', '1.0.0@git:1f3c657c8073aec4f0b6ebac7be33b4851644745']) {
      expect(() => parseLockfile(`version = 4\n[[package]]\nname = "a"\nversion = ${JSON.stringify(v)}\n`), v).toThrow(/^Cargo\.lock, line 4, field `package\[0\]\.version`: package "a": version .* is not SemVer/);
    }
  });

  it('accepts pre-releases and build metadata (a real lock has wasip2 1.0.2+wasi-0.2.9)', () => {
    const lock = parseLockfile('version = 4\n[[package]]\nname = "wasip2"\nversion = "1.0.2+wasi-0.2.9"\n[[package]]\nname = "b"\nversion = "2.0.0-rc.1"\n');
    expect(lock.packages.map((p) => p.id)).toEqual(['wasip2@1.0.2+wasi-0.2.9', 'b@2.0.0-rc.1']);
  });

  it('names the field when the layout gives no line (an inline package table)', () => {
    expect(() => parseLockfile('version = 4\npackage = [{ name = "a", version = "1.x" }]\n')).toThrow(
      /^Cargo\.lock, field `package\[0\]\.version`: package "a": version "1\.x" is not SemVer$/,
    );
  });
});
