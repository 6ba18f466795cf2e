/**
 * `cratewatch-ingest run --config cratewatch.toml` as a process: every configured source starts on
 * its interval (RustSec from a local git repository, a trusted pool and a crates.io sparse index on
 * one loopback server, the maintainers on another, a path workspace, a git workspace, the
 * endpoint), events reach real Kafka, a change picked up on the next interval, and SIGTERM stops it
 * cleanly. The index and the maintainers track exactly the crates the workspaces lock.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '@cratewatch/shared';
import { collect, gitIn, runCli, tempDir, unique, useKafka, waitFor } from './fixtures/harness.js';
import { fakeUpstreams, type FakeCrate, type FakeRepo } from './fixtures/maintainers-upstreams.js';
import { serve } from './fixtures/pools-harness.js';
import { indexPath } from '../src/sources/crates-io-index.js';

/** One version line in the sparse index's shape. */
const indexLine = (name: string, vers: string) =>
  JSON.stringify({ name, vers, deps: [], cksum: 'c'.repeat(64), features: {}, yanked: false, links: null, v: 2 });

const lockOf = (a: string, b: string, bVersion = '1.0.0') => `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = [
 "${a}",
 "${b}",
]

[[package]]
name = "${a}"
version = "1.0.0"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "5f0e2c6ed6606019b4e29e69dbaba95b11854410e5347d525002456dbbb786b6"

[[package]]
name = "${b}"
version = "${bVersion}"
source = "registry+https://github.com/rust-lang/crates.io-index"
checksum = "8917285742e9f3e1683f0a9c4e6b57960b7314d0b08d30d1ecd426713ee2eee9"
`;

describe('run --config (process, real Kafka)', () => {
  const k = useKafka('config-run');

  it('starts every configured source on its interval and stops on SIGTERM', async () => {
    const run = unique('run');
    const [a, b] = [`alpha-${run}`, `beta-${run}`];
    const dir = tempDir('cfg');
    // RustSec: a tiny advisory-db git repository.
    const db = join(dir, 'advisory-db');
    mkdirSync(join(db, 'crates', a), { recursive: true });
    const advId = `RUSTSEC-${run.toUpperCase()}`;
    writeFileSync(
      join(db, 'crates', a, `${advId}.md`),
      `\`\`\`toml\n[advisory]\nid = "${advId}"\npackage = "${a}"\ndate = "2099-01-01"\n\n[versions]\npatched = [">= 1.0.1"]\n\`\`\`\n\n# Test\n\nBody.\n`,
    );
    gitIn(db, 'init', '-q', '-b', 'main');
    gitIn(db, 'add', '-A');
    gitIn(db, 'commit', '-q', '-m', 'one');
    // Workspaces: one folder, one git repository.
    mkdirSync(join(dir, 'ws-path'));
    writeFileSync(join(dir, 'ws-path', 'Cargo.lock'), lockOf(a, b));
    const wsGit = join(dir, 'ws-git');
    mkdirSync(wsGit);
    writeFileSync(join(wsGit, 'Cargo.lock'), lockOf(a, b));
    gitIn(wsGit, 'init', '-q', '-b', 'main');
    gitIn(wsGit, 'add', '-A');
    gitIn(wsGit, 'commit', '-q', '-m', 'one');
    // crates.io, GitHub and a pool on loopback.
    const crates = new Map<string, FakeCrate>([
      [a, { repository: `https://github.com/o/${a}`, owners: [{ login: 'alice', kind: 'user' }] }],
      [b, { owners: [{ login: 'bob', kind: 'user' }] }],
    ]);
    const repos = new Map<string, FakeRepo>([
      [`o/${a}`, { signed: [true, false], authors: ['alice'], releases: ['2025-01-01'], tags: [] }],
    ]);
    const up = await fakeUpstreams(crates, repos, () => ({ remaining: 5000, resetAt: new Date(Date.now() + 3600_000).toISOString() }));
    const poolName = `pool-${run}`;
    // A trusted pool and the crates.io sparse index (config.json + one file per crate) on loopback.
    const docs = await serve();
    docs.put(
      '/pool/audits.toml',
      `[criteria.reviewed-${run}]\ndescription = "read by a human"\n\n[[audits.${a}]]\nwho = "t"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n`,
    );
    docs.put('/index/config.json', JSON.stringify({ dl: `${docs.base}/dl`, api: docs.base }));
    docs.put(`/index/${indexPath(a)}`, `${indexLine(a, '0.9.0')}\n${indexLine(a, '1.0.0')}\n`);
    docs.put(`/index/${indexPath(b)}`, `${indexLine(b, '1.0.0')}\n`);
    // Not locked by any workspace: the index source must never ask for it.
    const unlocked = `gamma-${run}`;
    docs.put(`/index/${indexPath(unlocked)}`, `${indexLine(unlocked, '1.0.0')}\n`);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const cfgFile = join(dir, 'cratewatch.toml');
    writeFileSync(
      cfgFile,
      `org = "acme"

[credentials]
github-token-env = "CW_RUN_GH"
ingest-token-env = "CW_RUN_INGEST"

[intervals]
rustsec = 1
pools = 1
maintainers = 1
workspaces = 1
crates = 1

[rustsec]
git = "advisory-db"

[pools]
registry = false
[pools.trusted]
${poolName} = "${docs.base}/pool/audits.toml"

[maintainers]
crates-api = "${up.url}"
github-api = "${up.url}"

[crates]
index = "${docs.base}/index"

[endpoint]
listen = "127.0.0.1:${port}"

[[workspaces]]
id = "path-${run}"
team = "platform"
path = "ws-path"

[[workspaces]]
id = "git-${run}"
git = "ws-git"
`,
    );
    const cli = runCli(
      ['run', '--config', cfgFile],
      { CRATEWATCH_STATE_DIR: join(dir, 'state'), CW_RUN_GH: 'gh-token-for-run-test', CW_RUN_INGEST: 'ingest-token-for-run-test-0123' },
      (o) => o.includes('"msg":"ready"'),
    );
    const { proc, exited } = cli;
    const c = await collect(
      k.kafka,
      [TOPICS.advisories, TOPICS.workspaces, TOPICS.maintainers, TOPICS.releases, TOPICS.audits],
      (m) => (m.key ?? '').includes(run) || (m.key ?? '').includes(run.toUpperCase()),
    );
    try {
      await cli.ready;
      const keys = () => new Set(c.got.map((m) => `${m.topic}|${m.key}`));
      await waitFor(
        'every source',
        () =>
          [
            `${TOPICS.advisories}|${advId}`,
            `${TOPICS.workspaces}|path-${run}`,
            `${TOPICS.workspaces}|git-${run}`,
            `${TOPICS.maintainers}|${a}`,
            `${TOPICS.maintainers}|${b}`,
            `${TOPICS.releases}|${a}`,
            `${TOPICS.releases}|${b}`,
            `${TOPICS.audits}|${poolName}/${a}`,
            `${TOPICS.audits}|${poolName}/*criteria*`,
          ].every((x) => keys().has(x)),
        60_000,
      );
      // The pool as configured (trusted, registry off: no other pool is fetched).
      expect(docs.log.filter((r) => r.path.startsWith('/pool/')).every((r) => r.path === '/pool/audits.toml')).toBe(true);
      // The index read config.json and the locked crates' files only.
      expect(docs.log.some((r) => r.path === '/index/config.json')).toBe(true);
      expect(docs.log.some((r) => r.path.endsWith(`/${unlocked}`))).toBe(false);
      // The endpoint is up with the configured token.
      const posted = await fetch(`http://127.0.0.1:${port}/workspaces/posted-${run}`, {
        method: 'POST',
        body: lockOf(a, b),
        headers: { authorization: 'Bearer ingest-token-for-run-test-0123' },
      });
      expect(posted.status).toBe(202);
      // A commit to the git workspace is picked up on a later interval.
      writeFileSync(join(wsGit, 'Cargo.lock'), lockOf(a, b, '1.0.1'));
      gitIn(wsGit, 'commit', '-q', '-am', 'bump');
      await waitFor('git workspace re-emitted', () => c.got.filter((m) => m.key === `git-${run}`).length === 2, 30_000);
      // Intervals repeat polls but unchanged sources send nothing new.
      await new Promise((r) => setTimeout(r, 2500));
      expect(c.got.filter((m) => m.key === advId).length).toBe(1);
      expect(c.got.filter((m) => m.key === `path-${run}`).length).toBe(1);
      expect(c.got.filter((m) => m.topic === TOPICS.maintainers && m.key === a).length).toBe(1);
      // Every version once, whatever the number of index and pool polls (later ones answered 304).
      const releases = c.got.filter((m) => m.topic === TOPICS.releases).map((m) => `${m.key}@${JSON.parse(m.value!).version}`);
      expect(releases.sort()).toEqual([`${a}@0.9.0`, `${a}@1.0.0`, `${b}@1.0.0`].sort());
      // Later polls are answered 304. All upstreams here share one loopback host, which the client
      // paces at one request a second, so a second round can take a while on a loaded machine.
      await waitFor(
        'a second index poll answered 304',
        () => docs.log.some((r) => r.path === `/index/${indexPath(a)}` && r.status === 304),
        60_000,
      );
      await waitFor(
        'a second pool poll answered 304',
        () => docs.log.some((r) => r.path === '/pool/audits.toml' && r.status === 304),
        60_000,
      );
      expect(docs.log.filter((r) => r.path === `/index/${indexPath(a)}`).length).toBeGreaterThan(1);
      expect(
        c.got
          .filter((m) => m.topic === TOPICS.audits)
          .map((m) => m.key)
          .sort(),
      ).toEqual([`${poolName}/*criteria*`, `${poolName}/${a}`].sort());
      // still every version exactly once after those polls
      expect(c.got.filter((m) => m.topic === TOPICS.releases).length).toBe(3);
    } finally {
      proc.kill('SIGTERM');
      expect(await exited, cli.output()).toBe(0);
      await c.stop();
      await up.close();
      await docs.close();
    }
    expect(cli.output()).not.toContain('gh-token-for-run-test');
    expect(cli.output()).not.toContain('ingest-token-for-run-test-0123');
  });
});
