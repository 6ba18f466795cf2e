/**
 * `cratewatch-ingest run --config cratewatch.toml` as a process: every configured source starts on
 * its interval (RustSec from a local git repository, a trusted pool and the maintainers on a
 * loopback server, a path workspace, a git workspace, the endpoint), events reach real Kafka, a
 * change picked up on the next interval, and SIGTERM stops it cleanly.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOPICS } from '@cratewatch/shared';
import { collect, gitIn, kafkaSetup, repoRoot, tempDir, unique, waitFor } from './fixtures/rustsec-harness.js';
import { fakeUpstreams, type FakeCrate, type FakeRepo } from './fixtures/maintainers-upstreams.js';
import { kafkaBrokers } from '../../../test/helpers.js';

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
  let k: Awaited<ReturnType<typeof kafkaSetup>>;
  beforeAll(async () => {
    k = await kafkaSetup('config-run');
  });
  afterAll(async () => {
    await k?.close();
  });

  it('starts every configured source on its interval and stops on SIGTERM', async () => {
    const run = unique('run');
    const [a, b] = [`alpha-${run}`, `beta-${run}`];
    const dir = tempDir('cfg');
    // RustSec: a tiny advisory-db git repository.
    const db = join(dir, 'advisory-db');
    mkdirSync(join(db, 'crates', a), { recursive: true });
    const advId = `RUSTSEC-${run.toUpperCase()}`;
    writeFileSync(join(db, 'crates', a, `${advId}.md`), `\`\`\`toml\n[advisory]\nid = "${advId}"\npackage = "${a}"\ndate = "2099-01-01"\n\n[versions]\npatched = [">= 1.0.1"]\n\`\`\`\n\n# Test\n\nBody.\n`);
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
    const repos = new Map<string, FakeRepo>([[`o/${a}`, { signed: [true, false], authors: ['alice'], releases: ['2025-01-01'], tags: [] }]]);
    const up = await fakeUpstreams(crates, repos, () => ({ remaining: 5000, resetAt: new Date(Date.now() + 3600_000).toISOString() }));
    const poolName = `pool-${run}`;
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

[rustsec]
git = "advisory-db"

[pools]
registry = false
[pools.trusted]
${poolName} = "${up.url}/pool/audits.toml"

[maintainers]
crates-api = "${up.url}"
github-api = "${up.url}"

[crates]
enabled = false

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
    const proc = spawn(process.execPath, [join(repoRoot, 'services', 'ingest', 'dist', 'main.js'), 'run', '--config', cfgFile], {
      env: { ...process.env, KAFKA_BROKERS: kafkaBrokers().join(','), CRATEWATCH_STATE_DIR: join(dir, 'state'), CW_RUN_GH: 'gh-token-for-run-test', CW_RUN_INGEST: 'ingest-token-for-run-test-0123' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stderr.on('data', (c) => (out += c));
    proc.stdout.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    const c = await collect(k.kafka, [TOPICS.advisories, TOPICS.workspaces, TOPICS.maintainers], (m) => (m.key ?? '').includes(run) || (m.key ?? '').includes(run.toUpperCase()));
    try {
      await waitFor('ready', () => out.includes('"msg":"ready"') || (proc.exitCode !== null && Promise.reject(new Error(out))), 60_000);
      const keys = () => new Set(c.got.map((m) => `${m.topic}|${m.key}`));
      await waitFor(
        'every source',
        () => [`${TOPICS.advisories}|${advId}`, `${TOPICS.workspaces}|path-${run}`, `${TOPICS.workspaces}|git-${run}`, `${TOPICS.maintainers}|${a}`, `${TOPICS.maintainers}|${b}`].every((x) => keys().has(x)),
        60_000,
      );
      expect(up.requests.some((r) => r.url === '/pool/audits.toml')).toBe(true);
      // The endpoint is up with the configured token.
      const posted = await fetch(`http://127.0.0.1:${port}/workspaces/posted-${run}`, { method: 'POST', body: lockOf(a, b), headers: { authorization: 'Bearer ingest-token-for-run-test-0123' } });
      expect(posted.status).toBe(202);
      // A commit to the git workspace is picked up on a later interval.
      writeFileSync(join(wsGit, 'Cargo.lock'), lockOf(a, b, '1.0.1'));
      gitIn(wsGit, 'commit', '-q', '-am', 'bump');
      await waitFor('git workspace re-emitted', () => c.got.filter((m) => m.key === `git-${run}`).length === 2, 30_000);
      // Intervals repeat polls but unchanged sources send nothing new.
      await new Promise((r) => setTimeout(r, 2500));
      expect(c.got.filter((m) => m.key === advId).length).toBe(1);
      expect(c.got.filter((m) => m.key === `path-${run}`).length).toBe(1);
      expect(c.got.filter((m) => m.key === a).length).toBe(1);
    } finally {
      proc.kill('SIGTERM');
      expect(await exited, out).toBe(0);
      await c.stop();
      await up.close();
    }
    expect(out).not.toContain('gh-token-for-run-test');
    expect(out).not.toContain('ingest-token-for-run-test-0123');
  });
});
