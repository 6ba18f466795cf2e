import { describe, expect, it } from 'vitest';
import { describeReach, reachOf, shortestPathsFromMembers } from '../src/deppath.js';
import { parseLockfile } from '../src/lockfile.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const lock = (pkgs: [name: string, deps: string[], member?: boolean][]) =>
  parseLockfile(
    `version = 4\n` +
      pkgs
        .map(
          ([n, d, m]) =>
            `\n[[package]]\nname = "${n}"\nversion = "1.0.0"\n${m ? '' : `source = "${CRATES}"\n`}dependencies = [${d.map((x) => `"${x}"`).join(', ')}]\n`,
        )
        .join(''),
  );

describe('shortestPathsFromMembers', () => {
  // app → hyper → h2 → tokio; app → tokio is not there, but cli → tokio is: tokio is direct (of cli).
  const l = lock([
    ['app', ['hyper', 'serde'], true],
    ['cli', ['tokio'], true],
    ['h2', ['tokio']],
    ['hyper', ['h2', 'tokio']],
    ['orphan', []],
    ['serde', []],
    ['tokio', ['mio']],
    ['mio', []],
  ]);
  const paths = shortestPathsFromMembers(l);

  it('finds the shortest chain from any member, and says direct when a member depends on it', () => {
    expect(paths.get('tokio@1.0.0')).toEqual(['cli@1.0.0', 'tokio@1.0.0']);
    expect(reachOf(paths.get('tokio@1.0.0'))).toBe('direct');
    expect(describeReach(paths.get('tokio@1.0.0'))).toBe('direct dependency of cli@1.0.0');
    expect(paths.get('h2@1.0.0')).toEqual(['app@1.0.0', 'hyper@1.0.0', 'h2@1.0.0']);
    expect(describeReach(paths.get('mio@1.0.0'))).toBe('cli@1.0.0 → tokio@1.0.0 → mio@1.0.0');
    expect(reachOf(paths.get('mio@1.0.0'))).toBe('transitive');
  });

  it('a member is its own path; a package nobody reaches has none', () => {
    expect(paths.get('app@1.0.0')).toEqual(['app@1.0.0']);
    expect(reachOf(paths.get('app@1.0.0'))).toBe('member');
    expect(paths.has('orphan@1.0.0')).toBe(false);
    expect(describeReach(paths.get('orphan@1.0.0'))).toBe('not reached from any workspace member');
  });

  it('breaks ties by lockfile order (stable): the first member to reach it wins', () => {
    const t = shortestPathsFromMembers(
      lock([
        ['a', ['x'], true],
        ['b', ['x'], true],
        ['x', []],
      ]),
    );
    expect(t.get('x@1.0.0')).toEqual(['a@1.0.0', 'x@1.0.0']);
  });
});
