import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { logger } from '@cratewatch/runtime';
import { HttpClient } from '../src/http.js';
import { Checkpoints, SOURCES, STATE_FILES, type SourceContext } from '../src/registry.js';

const dir = mkdtempSync(join(tmpdir(), 'cw-registry-'));
/** Building a source connects to nothing: a producer is only used by a poll. */
const ctx = (): SourceContext & { made: number } => {
  const c = {
    producer: {} as Producer,
    state: new Checkpoints(dir),
    log: logger('test/registry'),
    made: 0,
    http: () => (c.made++, new HttpClient()),
  };
  return c;
};

describe('STATE_FILES and Checkpoints', () => {
  it('every source keeps its own file (or folder) in the state directory', () => {
    const names = Object.values(STATE_FILES);
    expect(new Set(names).size).toBe(names.length);
    // The names a deployment's state directory already holds: renaming one would lose its checkpoint.
    expect(STATE_FILES).toMatchObject({
      rustsec: 'rustsec.json',
      rustsecGit: 'rustsec-git.json',
      workspaces: 'workspaces.json',
      maintainers: 'maintainers.json',
      cratesIndex: 'crates-index.json',
      cratesFeed: 'crates-feed.json',
      cratesDump: 'crates-dump.json',
    });
  });

  it('each checkpoint starts from the empty state of its source, in the state directory', () => {
    const cp = new Checkpoints(dir);
    expect(cp.path('pools')).toBe(join(dir, 'pools'));
    expect(cp.rustsec().load()).toEqual({ files: {} });
    expect(cp.rustsecArchive().load()).toEqual({});
    expect(cp.workspaces().load()).toEqual({ workspaces: {} });
    expect(cp.maintainers().load()).toEqual({ crates: {} });
    expect(cp.cratesFeed().load()).toEqual({ seen: {} });
    expect(cp.cratesDump().load()).toEqual({ bucketsDone: 0, inBucket: 0 });
  });
});

describe('SOURCES', () => {
  it('builds each polled source under the name its logs and metrics use', () => {
    const c = ctx();
    const tracked = () => ['serde'];
    expect(SOURCES.rustsec({ db: join(dir, 'advisory-db') }, c).name).toBe('rustsec');
    expect(SOURCES.rustsec({ git: join(dir, 'repo'), branch: 'main' }, c).name).toBe('rustsec');
    expect(SOURCES.pools([], c).name).toBe('pools');
    expect(SOURCES.maintainers({ options: {}, tracked }, c).name).toBe('maintainers');
    expect(SOURCES['crates-index']({ options: {}, tracked }, c).name).toBe('crates-index');
    expect(SOURCES['crates-feed']({ options: {}, tracked: 'all' }, c).name).toBe('crates-feed');
    expect(SOURCES['crates-dump']({ dump: join(dir, 'db-dump.tar.gz'), dryRun: true }, { ...c, producer: null }).name).toBe('crates-dump');
  });

  it('asks for the HTTP client only when the source reads over HTTP', () => {
    const c = ctx();
    SOURCES.rustsec({ db: join(dir, 'advisory-db') }, c);
    SOURCES.rustsec({ git: join(dir, 'repo'), branch: 'main' }, c);
    SOURCES.workspaces(c);
    expect(c.made).toBe(0);
    SOURCES.rustsec({ archive: 'http://127.0.0.1:9/advisory-db.tar.gz' }, c);
    expect(c.made).toBe(1);
  });

  it('a pools source lists the pools it was given', () => {
    const refs = [{ name: 'mozilla', url: 'http://127.0.0.1:9/audits.toml' }];
    expect(SOURCES.pools(refs, ctx()).pools).toEqual(refs);
  });
});
