import { describe, expect, it } from 'vitest';
import { parseLockfile } from '../src/lockfile.js';

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
});
