/**
 * Restart tests for the sources that had none (issue 4: "stopping a source mid-poll and starting it
 * again produces no gap and no duplicate event"): the RustSec directory and archive sources, the
 * maintainers source, a watched workspace folder (stopped through their AbortSignal after some
 * acknowledged sends, then a fresh source object on the same checkpoint, as a new process would
 * be), and the git workspace and endpoint CLI processes (SIGTERM / SIGKILL between changes). Every
 * test counts the events per key over the whole run, read back from real Kafka: each expected key
 * exactly once, or exactly once per change.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tar from 'tar';
import type { Producer } from 'kafkajs';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, validateEvent } from '@cratewatch/shared';
import { HttpClient } from '../src/http.js';
import { RustsecSource, type RustsecCheckpoint } from '../src/sources/rustsec.js';
import { RustsecArchiveSource, type ArchiveCheckpoint } from '../src/sources/rustsec-archive.js';
import { MaintainersSource, type MaintainersCheckpoint } from '../src/sources/maintainers.js';
import { WorkspaceSource, type WorkspaceCheckpoint } from '../src/sources/workspaces.js';
import { collect, countByKey, gitIn, loopback, runCli, sleep, tempDir, unique, useKafka, waitFor, type Got } from './fixtures/harness.js';
import { fakeUpstreams, type FakeCrate } from './fixtures/maintainers-upstreams.js';

const lock = readFileSync(join(__dirname, 'fixtures', 'workspace-small.lock'), 'utf8');

const advisory = (id: string, pkg: string, patched = '>= 1.0.0') =>
  `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "${pkg}"\ndate = "2099-01-01"\n\n[versions]\npatched = ["${patched}"]\n\`\`\`\n\n# Test advisory ${id}\n\nBody.\n`;

/** The real producer, with `abort()` called once `after` sends of `topic` were acknowledged. */
function stopAfter(producer: Producer, after: number, ac: AbortController, topic?: string): Producer {
  let sends = 0;
  const counted = (topics: string[]) => {
    if (!topic || topics.includes(topic)) if (++sends === after) ac.abort();
  };
  return new Proxy(producer, {
    get(target, prop, recv) {
      if (prop === 'sendBatch') {
        return async (batch: Parameters<Producer['sendBatch']>[0]) => {
          const r = await target.sendBatch(batch);
          counted((batch.topicMessages ?? []).map((t) => t.topic));
          return r;
        };
      }
      if (prop === 'send') {
        return async (record: Parameters<Producer['send']>[0]) => {
          const r = await target.send(record);
          counted([record.topic]);
          return r;
        };
      }
      return Reflect.get(target, prop, recv);
    },
  });
}

/** The HEAD commit the workspace checkpoint in `stateDir` records for `id` (written atomically: tmp + rename). */
function checkpointHead(stateDir: string, id: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(stateDir, 'workspaces.json'), 'utf8')) as WorkspaceCheckpoint).heads?.[id];
  } catch {
    return undefined; // not written yet
  }
}

/** Waits until `n` messages arrived, then a little longer so a duplicate would show. */
async function settle(c: { got: Got[] }, n: number, what: string): Promise<void> {
  await waitFor(what, () => c.got.length >= n, 60_000);
  await sleep(1000);
}

describe('restart: RustSec directory and archive sources (AbortSignal mid-poll, real Kafka)', () => {
  const k = useKafka('restart-rustsec');

  /** An advisory-db of `n` advisories of this run, ids `${run}-00`…; returns their ids. */
  const makeDb = (db: string, run: string, n: number): string[] => {
    mkdirSync(join(db, 'crates', 'restart-test'), { recursive: true });
    const ids = Array.from({ length: n }, (_, i) => `${run}-${String(i).padStart(2, '0')}`);
    for (const id of ids) writeFileSync(join(db, 'crates', 'restart-test', `${id}.md`), advisory(id, 'restart-test'));
    return ids;
  };
  /** Second state of the db: 3 changed, 3 deleted, 3 added. */
  const change = (db: string, run: string, ids: string[]) => {
    const changed = ids.slice(0, 3);
    const deleted = ids.slice(3, 6);
    const added = [0, 1, 2].map((i) => `${run}-NEW${i}`);
    for (const id of changed) writeFileSync(join(db, 'crates', 'restart-test', `${id}.md`), advisory(id, 'restart-test', '>= 2.0.0'));
    for (const id of deleted) rmSync(join(db, 'crates', 'restart-test', `${id}.md`));
    for (const id of added) writeFileSync(join(db, 'crates', 'restart-test', `${id}.md`), advisory(id, 'restart-test'));
    return { changed, deleted, added };
  };
  /** Per key over the whole run: every first-state id once, plus once per later change. */
  const expected = (ids: string[], d: ReturnType<typeof change>) => {
    const want: Record<string, number> = {};
    for (const id of ids) want[id] = 1;
    for (const id of [...d.changed, ...d.deleted]) want[id] = 2; // a new version, or its tombstone
    for (const id of d.added) want[id] = 1;
    return want;
  };

  it('directory: stopped after 2 of 4 batches, then mid-way through a change; every advisory once per change, each deletion one tombstone', async () => {
    const run = `RUSTSEC-${unique('rd').toUpperCase()}`;
    const db = join(tempDir('restart-db'), 'advisory-db');
    const ids = makeDb(db, run, 40);
    const state = join(tempDir('state'), 'rustsec.json');
    const source = (p: Producer) =>
      new RustsecSource(db, p, new Checkpoint<RustsecCheckpoint>(state, { files: {} }), logger('test/restart'), { batchSize: 10 });
    const c = await collect(k.kafka, [TOPICS.advisories], (m) => (m.key ?? '').startsWith(run));
    try {
      const ac1 = new AbortController();
      const first = await source(stopAfter(k.producer, 2, ac1)).poll(ac1.signal);
      expect(first).toMatchObject({ produced: 20, complete: false });
      const second = await source(k.producer).poll();
      expect(second).toMatchObject({ produced: 20, unchanged: 20, tombstones: 0, complete: true });

      const d = change(db, run, ids);
      // Batches of 10: the 6 new/changed files and 3 tombstones fit one; stop before it with 4.
      const ac2 = new AbortController();
      const stopped = await new RustsecSource(
        db,
        stopAfter(k.producer, 1, ac2),
        new Checkpoint<RustsecCheckpoint>(state, { files: {} }),
        logger('test/restart'),
        { batchSize: 4 },
      ).poll(ac2.signal);
      expect(stopped).toMatchObject({ produced: 4, tombstones: 0, complete: false });
      const resumed = await source(k.producer).poll();
      expect(resumed).toMatchObject({ produced: 2, tombstones: 3, complete: true });
      expect(await source(k.producer).poll()).toMatchObject({ produced: 0, tombstones: 0, refused: 0, complete: true });

      const want = expected(ids, d);
      await settle(
        c,
        Object.values(want).reduce((a, b) => a + b, 0),
        'every advisory event',
      );
      expect(countByKey(c.got)).toEqual(want);
      for (const id of d.deleted) expect(c.got.filter((m) => m.key === id).map((m) => m.value === null)).toEqual([false, true]);
      for (const id of d.changed)
        expect(JSON.parse(c.got.filter((m) => m.key === id).at(-1)!.value!).advisory.versions.patched).toEqual(['>= 2.0.0']);
    } finally {
      await c.stop();
    }
  });

  it('archive: stopped mid-way, the archive is fetched again (validator not saved) and only the rest is sent; then 304', async () => {
    const run = `RUSTSEC-${unique('ra').toUpperCase()}`;
    const work = tempDir('restart-archive');
    const db = join(work, 'advisory-db-main');
    const ids = makeDb(db, run, 30);
    const tarball = async () => {
      const out = join(tempDir('tgz'), 'db.tar.gz');
      await tar.c({ gzip: true, file: out, cwd: work, portable: true }, ['advisory-db-main']);
      return readFileSync(out);
    };
    let body = await tarball();
    let etag = '"v1"';
    const server = await loopback((req, res) => {
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end();
      res.writeHead(200, { etag, 'content-type': 'application/gzip', 'content-length': String(body.length) }).end(body);
    });
    const http = new HttpClient({ minIntervalMs: 0, baseMs: 20 });
    const sd = tempDir('state');
    const source = (p: Producer) =>
      new RustsecArchiveSource(
        `${server.url}/advisory-db-main.tar.gz`,
        http,
        p,
        new Checkpoint<ArchiveCheckpoint>(join(sd, 'a.json'), {}),
        new Checkpoint<RustsecCheckpoint>(join(sd, 'f.json'), { files: {} }),
        logger('test/restart'),
        { batchSize: 10 },
      );
    const c = await collect(k.kafka, [TOPICS.advisories], (m) => (m.key ?? '').startsWith(run));
    try {
      const ac1 = new AbortController();
      expect(await source(stopAfter(k.producer, 1, ac1)).poll(ac1.signal)).toMatchObject({ notModified: false, complete: false });
      const resumed = await source(k.producer).poll();
      expect(resumed.complete).toBe(true);
      expect(server.requests[1]!.headers['if-none-match']).toBeUndefined(); // the stopped poll saved no validator
      expect(await source(k.producer).poll()).toEqual({ notModified: true });

      const d = change(db, run, ids);
      body = await tarball();
      etag = '"v2"';
      const ac2 = new AbortController();
      expect(
        await new RustsecArchiveSource(
          `${server.url}/advisory-db-main.tar.gz`,
          http,
          stopAfter(k.producer, 1, ac2),
          new Checkpoint<ArchiveCheckpoint>(join(sd, 'a.json'), {}),
          new Checkpoint<RustsecCheckpoint>(join(sd, 'f.json'), { files: {} }),
          logger('test/restart'),
          { batchSize: 4 },
        ).poll(ac2.signal),
      ).toMatchObject({ produced: 4, complete: false });
      expect(await source(k.producer).poll()).toMatchObject({ produced: 2, tombstones: 3, complete: true });
      expect(await source(k.producer).poll()).toEqual({ notModified: true });

      const want = expected(ids, d);
      await settle(
        c,
        Object.values(want).reduce((a, b) => a + b, 0),
        'every advisory event',
      );
      expect(countByKey(c.got)).toEqual(want);
    } finally {
      await c.stop();
      await server.close();
      await http.close();
    }
  });
});

describe('restart: maintainers and a watched workspace folder (AbortSignal mid-poll, real Kafka)', () => {
  const k = useKafka('restart-maint');

  it('maintainers: stopped after 3 of 8 crates, a fresh source sends exactly the other 5, then nothing', async () => {
    const run = unique('rm');
    const names = Array.from({ length: 8 }, (_, i) => `crate${i}-${run}`);
    const crates = new Map<string, FakeCrate>(names.map((n, i) => [n, { owners: [{ login: `owner${i}`, kind: 'user' }] }]));
    const up = await fakeUpstreams(crates, new Map(), () => ({ remaining: 5000, resetAt: new Date(Date.now() + 3600_000).toISOString() }));
    const http = new HttpClient({ minIntervalMs: 0, baseMs: 20 });
    const state = join(tempDir('state'), 'maintainers.json');
    const source = (p: Producer) =>
      new MaintainersSource(p, http, new Checkpoint<MaintainersCheckpoint>(state, { crates: {} }), logger('test/restart'), {
        cratesApi: up.url,
        githubApi: up.url,
        tokenEnv: 'CW_RESTART_NO_TOKEN',
      });
    const c = await collect(k.kafka, [TOPICS.maintainers], (m) => (m.key ?? '').endsWith(run));
    try {
      const ac = new AbortController();
      expect(await source(stopAfter(k.producer, 3, ac, TOPICS.maintainers)).poll(names, ac.signal)).toMatchObject({ produced: 3 });
      expect(await source(k.producer).poll(names)).toMatchObject({ produced: 5, unchanged: 3 });
      expect(await source(k.producer).poll(names)).toMatchObject({ produced: 0, unchanged: 8 });
      // An owner change after the restart is one more event for that crate only.
      crates.get(names[0]!)!.owners.push({ login: 'newcomer', kind: 'user' });
      expect(await source(k.producer).poll(names)).toMatchObject({ produced: 1, unchanged: 7 });
      await settle(c, 9, 'maintainer events');
      expect(countByKey(c.got)).toEqual(Object.fromEntries(names.map((n, i) => [n, i === 0 ? 2 : 1])));
      const last = validateEvent(TOPICS.maintainers, JSON.parse(c.got.filter((m) => m.key === names[0]).at(-1)!.value!));
      expect(last.signals.ownershipChange!.value).toMatchObject({ added: ['newcomer'] });
    } finally {
      await c.stop();
      await up.close();
      await http.close();
    }
  });

  it('watched folder: stopped after 2 of 6 workspaces, the next poll sends the other 4; a change later is one event', async () => {
    const run = unique('rw');
    const dir = tempDir('watched');
    const ids = Array.from({ length: 6 }, (_, i) => `ws${i}-${run}`);
    for (const id of ids) writeFileSync(join(dir, `${id}.lock`), lock);
    const state = join(tempDir('state'), 'workspaces.json');
    const source = (p: Producer) =>
      new WorkspaceSource(p, new Checkpoint<WorkspaceCheckpoint>(state, { workspaces: {} }), logger('test/restart'));
    const c = await collect(k.kafka, [TOPICS.workspaces], (m) => (m.key ?? '').endsWith(run));
    try {
      const ac = new AbortController();
      expect(await source(stopAfter(k.producer, 2, ac, TOPICS.workspaces)).pollFolder(dir, 'acme', 'platform', ac.signal)).toEqual({
        sent: 2,
        failed: 0,
        complete: false,
      });
      expect(await source(k.producer).pollFolder(dir, 'acme', 'platform')).toEqual({ sent: 4, failed: 0, complete: true });
      expect(await source(k.producer).pollFolder(dir, 'acme', 'platform')).toEqual({ sent: 0, failed: 0, complete: true });
      writeFileSync(join(dir, `${ids[4]}.lock`), lock.replace('1.15.0', '1.15.1'));
      expect(await source(k.producer).pollFolder(dir, 'acme', 'platform')).toEqual({ sent: 1, failed: 0, complete: true });
      await settle(c, 7, 'workspace events');
      expect(countByKey(c.got)).toEqual(Object.fromEntries(ids.map((id, i) => [id, i === 4 ? 2 : 1])));
    } finally {
      await c.stop();
    }
  });
});

describe('restart: git workspace and endpoint CLI processes (SIGTERM / SIGKILL, real Kafka)', () => {
  const k = useKafka('restart-cli');
  const smallvec = (m: Got) => validateEvent(TOPICS.workspaces, JSON.parse(m.value!)).packages.find((p) => p.name === 'smallvec')!.version;

  it('workspace-git --interval: killed and restarted between commits, one event per content change', async () => {
    const id = unique('ws-git-restart');
    const repo = tempDir('ws-repo');
    gitIn(repo, 'init', '-q', '-b', 'main');
    writeFileSync(join(repo, 'Cargo.lock'), lock);
    gitIn(repo, 'add', '-A');
    gitIn(repo, 'commit', '-q', '-m', 'one');
    const env = { CRATEWATCH_STATE_DIR: tempDir('state') };
    const args = ['workspace-git', '--git', repo, '--id', id, '--org', 'acme', '--interval', '1'];
    const polls = (out: string) => out.split('"msg":"workspace-git done"').length - 1;
    const c = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
    try {
      const a = runCli(args, env);
      await waitFor('first event', () => c.got.length >= 1 || (a.proc.exitCode !== null && Promise.reject(new Error(a.output()))));
      a.proc.kill('SIGTERM');
      expect(await a.exited, a.output()).toBe(0);
      // While it is down: a docs-only commit and a real change.
      writeFileSync(join(repo, 'README.md'), 'docs\n');
      gitIn(repo, 'add', '-A');
      gitIn(repo, 'commit', '-q', '-m', 'docs');
      writeFileSync(join(repo, 'Cargo.lock'), lock.replace('1.15.0', '1.15.1'));
      gitIn(repo, 'commit', '-q', '-am', 'bump');
      const bump = gitIn(repo, 'rev-parse', 'HEAD').trim();
      const b = runCli(args, env);
      await waitFor('second event', () => c.got.length >= 2 || (b.proc.exitCode !== null && Promise.reject(new Error(b.output()))));
      // No clean stop: the checkpoint written after the acknowledgement is what counts, so kill only
      // once it is written. Seeing the event in Kafka is not enough: the broker hands it to our
      // consumer before (or while) the process handles the acknowledgement and saves the checkpoint,
      // and a kill in that window must repeat the event (at-least-once), which is not what this
      // test is about.
      await waitFor(
        'the checkpoint to record the bump',
        () => checkpointHead(env.CRATEWATCH_STATE_DIR, id) === bump || (b.proc.exitCode !== null && Promise.reject(new Error(b.output()))),
      );
      b.proc.kill('SIGKILL');
      await b.exited;
      const d = runCli(args, env);
      await waitFor(
        'three polls after the restart',
        () => polls(d.output()) >= 3 || (d.proc.exitCode !== null && Promise.reject(new Error(d.output()))),
        30_000,
      );
      d.proc.kill('SIGTERM');
      expect(await d.exited, d.output()).toBe(0);
      await sleep(1000);
      expect(countByKey(c.got)).toEqual({ [id]: 2 });
      expect(c.got.map(smallvec)).toEqual(['1.15.0', '1.15.1']);
    } finally {
      await c.stop();
    }
  });

  it('endpoint: restarted (SIGTERM, then SIGKILL) between posts, the same content re-posted sends nothing, a new one sends once', async () => {
    const id = unique('ws-ep-restart');
    const token = `cw-restart-${unique('tok')}`;
    const port = 20000 + Math.floor(Math.random() * 20000);
    const env = { CRATEWATCH_STATE_DIR: tempDir('state'), CW_RESTART_TOKEN: token };
    const start = () =>
      runCli(['endpoint', '--org', 'acme', '--listen', `127.0.0.1:${port}`, '--token-env', 'CW_RESTART_TOKEN'], env, (o) =>
        o.includes('"msg":"ready"'),
      );
    const post = async (body: string) =>
      (await fetch(`http://127.0.0.1:${port}/workspaces/${id}`, { method: 'POST', body, headers: { authorization: `Bearer ${token}` } }))
        .status;
    const v2 = lock.replace('1.15.0', '1.15.1');
    const c = await collect(k.kafka, [TOPICS.workspaces], (m) => m.key === id);
    try {
      const a = start();
      await a.ready;
      expect(await post(lock)).toBe(202);
      a.proc.kill('SIGTERM');
      expect(await a.exited, a.output()).toBe(0);
      const b = start();
      await b.ready;
      expect(await post(lock)).toBe(200); // a CI job retrying after the restart
      expect(await post(v2)).toBe(202);
      b.proc.kill('SIGKILL');
      await b.exited;
      const d = start();
      await d.ready;
      expect(await post(v2)).toBe(200);
      expect(await post(lock)).toBe(202); // going back is a change too
      d.proc.kill('SIGTERM');
      expect(await d.exited, d.output()).toBe(0);
      await settle(c, 3, 'endpoint events');
      expect(countByKey(c.got)).toEqual({ [id]: 3 });
      expect(c.got.map(smallvec)).toEqual(['1.15.0', '1.15.1', '1.15.0']);
    } finally {
      await c.stop();
    }
  });
});
