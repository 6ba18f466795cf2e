/**
 * The git RustSec source against a real git repository built by replaying the advisory-db's real
 * history (../shared/data/rustsec/history.jsonl) commit by commit, with real Kafka receiving the
 * events. Each poll's events are checked against a model of the repository's files: every added or
 * changed file that parses gives its id, every refused file goes to the DLQ, and every id that no
 * file holds any more gives exactly one tombstone. Then: stopping mid-poll and starting again gives
 * no gap and no duplicate, even when new commits land in between.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, dlqTopic, parseAdvisory } from '@cratewatch/shared';
import { RustsecGitSource, type RustsecGitCheckpoint } from '../src/sources/rustsec-git.js';
import { collect, gitIn, hasSharedData, runCli, sharedData, tempDir, unique, useKafka, waitFor, type Got } from './fixtures/harness.js';

interface Row {
  commit: string;
  time: string;
  status: 'A' | 'M' | 'D';
  path: string;
  content: string | null;
}

function loadHistory(): { commit: string; rows: Row[] }[] {
  const groups: { commit: string; rows: Row[] }[] = [];
  for (const line of readFileSync(join(sharedData, 'rustsec', 'history.jsonl'), 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as Row;
    const last = groups[groups.length - 1];
    if (last?.commit === row.commit) last.rows.push(row);
    else groups.push({ commit: row.commit, rows: [row] });
  }
  return groups;
}

/** What consumers must see going from one snapshot of the files to the next. */
class Model {
  files = new Map<string, string>();
  ids = new Map<string, string>(); // path -> last id that parsed

  expectTo(next: Map<string, string>): { produced: string[]; tombstones: string[]; refused: string[] } {
    const produced: string[] = [];
    const refused: string[] = [];
    const released = new Set<string>();
    const ids = new Map(this.ids);
    for (const [p, text] of next) {
      if (this.files.get(p) === text) continue;
      try {
        const id = parseAdvisory(text, p).id;
        const prev = ids.get(p);
        if (prev && prev !== id) released.add(prev);
        ids.set(p, id);
        produced.push(id);
      } catch {
        refused.push(p);
      }
    }
    for (const p of this.files.keys()) {
      if (next.has(p)) continue;
      const id = ids.get(p);
      if (id) released.add(id);
      ids.delete(p);
    }
    const live = new Set(ids.values());
    this.files = new Map(next);
    this.ids = ids;
    return { produced: produced.sort(), tombstones: [...released].filter((id) => !live.has(id)).sort(), refused: refused.sort() };
  }
}

function applyCommit(work: string, files: Map<string, string>, rows: Row[], message: string): string {
  for (const r of rows) {
    const abs = join(work, r.path);
    if (r.status === 'D') {
      rmSync(abs, { force: true });
      files.delete(r.path);
    } else {
      mkdirSync(dirname(abs), { recursive: true });
      writeFileSync(abs, r.content ?? '');
      files.set(r.path, r.content ?? '');
    }
  }
  gitIn(work, 'add', '-A');
  gitIn(work, 'commit', '-q', '--allow-empty', '--no-verify', '-m', message);
  return gitIn(work, 'rev-parse', 'HEAD').trim();
}

function newWorkRepo(): string {
  const work = tempDir('advisory-db');
  gitIn(work, 'init', '-q', '-b', 'main');
  // A unique first commit makes every commit id of this run unique, so Kafka headers identify them.
  writeFileSync(join(work, 'README.md'), `replay ${unique('run')}\n`);
  gitIn(work, 'add', '-A');
  gitIn(work, 'commit', '-q', '-m', 'start');
  return work;
}

const summarize = (got: Got[], commit: string) => {
  const mine = got.filter((m) => m.headers.commit === commit);
  return {
    produced: mine
      .filter((m) => m.topic === TOPICS.advisories && m.value !== null)
      .map((m) => m.key!)
      .sort(),
    tombstones: mine
      .filter((m) => m.topic === TOPICS.advisories && m.value === null)
      .map((m) => m.key!)
      .sort(),
    refused: mine
      .filter((m) => m.topic === dlqTopic(TOPICS.advisories))
      .map((m) => m.key!)
      .sort(),
  };
};

describe.skipIf(!hasSharedData)('RustSec git source: replay of the real advisory-db history (needs ../shared/data)', () => {
  const k = useKafka('rustsec-git');

  const makeSource = (work: string, state: string, producer: Producer, batchSize = 200) =>
    new RustsecGitSource(
      { url: work, branch: 'main', repoDir: join(state, 'rustsec-git'), batchSize },
      producer,
      new Checkpoint<RustsecGitCheckpoint>(join(state, 'rustsec-git.json'), { files: {} }),
      logger('test/rustsec-git'),
    );

  it('produces exactly the right change events for every commit of history.jsonl', async () => {
    const history = loadHistory();
    const work = newWorkRepo();
    const state = tempDir('state');
    const source = makeSource(work, state, k.producer);
    const model = new Model();
    const files = new Map<string, string>();
    const expected = new Map<string, ReturnType<Model['expectTo']>>();

    const first = await source.poll();
    expect(first).toMatchObject({ produced: 0, tombstones: 0, refused: 0, complete: true });
    let totals = { produced: 0, tombstones: 0, refused: 0 };
    const started = Date.now();
    let commitMs = 0;
    let pollMs = 0;
    for (const [i, g] of history.entries()) {
      const t0 = Date.now();
      const sha = applyCommit(work, files, g.rows, `replay ${g.commit}`);
      commitMs += Date.now() - t0;
      // Poll after every commit for the first 150, then every 4 commits (and after the last).
      if (i >= 150 && i % 4 !== 3 && i !== history.length - 1) continue;
      const t1 = Date.now();
      const r = await source.poll();
      pollMs += Date.now() - t1;
      expect(r.to).toBe(sha);
      const want = model.expectTo(files);
      expected.set(sha, want);
      expect({ produced: r.produced, tombstones: r.tombstones, refused: r.refused }, `commit ${g.commit}`).toEqual({
        produced: want.produced.length,
        tombstones: want.tombstones.length,
        refused: want.refused.length,
      });
      totals = {
        produced: totals.produced + r.produced,
        tombstones: totals.tombstones + r.tombstones,
        refused: totals.refused + r.refused,
      };
    }
    // A broken file, and a broken edit of a live advisory: both refused, the rest goes on.
    const live = [...files.keys()].find((p) => p.startsWith('crates/'))!;
    const sha = applyCommit(
      work,
      files,
      [
        {
          commit: 'x',
          time: '',
          status: 'A',
          path: 'crates/zzz-broken/RUSTSEC-2099-0001.md',
          content: '```toml\n[advisory]\nid = "RUSTSEC-2099-0001"\n```\n# no package\n',
        },
        { commit: 'x', time: '', status: 'M', path: live, content: files.get(live)!.replace('[advisory]', '[advisory\n') },
      ],
      'broken files',
    );
    const broken = await source.poll();
    const wantBroken = model.expectTo(files);
    expected.set(sha, wantBroken);
    expect(wantBroken.refused).toEqual([live, 'crates/zzz-broken/RUSTSEC-2099-0001.md'].sort());
    expect(broken).toMatchObject({ produced: 0, tombstones: 0, refused: 2 });
    totals.refused += 2;
    const elapsed = Date.now() - started;
    console.log(
      `replayed ${history.length} commits in ${elapsed} ms (git commits ${commitMs} ms, ${expected.size} polls ${pollMs} ms)`,
      totals,
    );
    expect(totals.tombstones).toBeGreaterThan(0);

    // What Kafka holds, per commit, is exactly the model's expectation — nothing more, nothing twice.
    const shas = new Set(expected.keys());
    const total = totals.produced + totals.tombstones + totals.refused;
    const c = await collect(k.kafka, [TOPICS.advisories, dlqTopic(TOPICS.advisories)], (m) => shas.has(m.headers.commit ?? ''));
    try {
      await waitFor(`${total} events`, () => c.got.length >= total, 90_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.got.length).toBe(total);
      for (const [sha, want] of expected) expect(summarize(c.got, sha), `commit ${sha}`).toEqual(want);
      // Events carry the parsed advisory and where it came from.
      const one = c.got.find((m) => m.topic === TOPICS.advisories && m.value !== null)!;
      const ev = JSON.parse(one.value!);
      expect(ev.advisory.id).toBe(one.key);
      expect(ev.origin.commit).toBe(one.headers.commit);
      const dlq = c.got.filter((m) => m.topic === dlqTopic(TOPICS.advisories)).map((m) => JSON.parse(m.value!));
      const missing = dlq.find((d) => d.key === 'crates/zzz-broken/RUSTSEC-2099-0001.md');
      expect(missing.error).toContain(work); // the upstream
      expect(missing.error).toContain('crates/zzz-broken/RUSTSEC-2099-0001.md'); // the file
      expect(missing.error).toMatch(/field `versions`/); // the field
      expect(missing.service).toBe('ingest/rustsec-git');
    } finally {
      await c.stop();
    }
  }, 400_000);

  it('a poll stopped mid-way resumes with no gap and no duplicate, even after new commits', async () => {
    const history = loadHistory();
    const work = newWorkRepo();
    const state = tempDir('state');
    const model = new Model();
    const files = new Map<string, string>();
    // Three chunks of history, each one commit in the work repo (many events per poll).
    const chunk = (a: number, b: number) => history.slice(a, b).flatMap((g) => g.rows);
    const t1 = applyCommit(work, files, chunk(0, 300), 'chunk 1');
    const want1 = model.expectTo(files);

    // Stop after 3 acknowledged batches of 25.
    const ac = new AbortController();
    let batches = 0;
    const counting = new Proxy(k.producer, {
      get(target, prop, recv) {
        if (prop === 'sendBatch') {
          return async (...args: Parameters<Producer['sendBatch']>) => {
            const res = await target.sendBatch(...args);
            if (++batches === 3) ac.abort();
            return res;
          };
        }
        return Reflect.get(target, prop, recv);
      },
    });
    const stopped = await makeSource(work, state, counting, 25).poll(ac.signal);
    expect(stopped.complete).toBe(false);
    expect(stopped.produced + stopped.tombstones + stopped.refused).toBe(75);
    const cp = JSON.parse(readFileSync(join(state, 'rustsec-git.json'), 'utf8')) as RustsecGitCheckpoint;
    expect(cp.pending).toEqual({ target: t1, done: 75 });

    // New commits land while it is down; a fresh source (new process state) finishes t1 first.
    const t2 = applyCommit(work, files, chunk(300, 600), 'chunk 2');
    const want2 = model.expectTo(files);
    const resumed = await makeSource(work, state, k.producer, 25).poll();
    expect(resumed.complete).toBe(true);
    expect(resumed.to).toBe(t2);
    const again = await makeSource(work, state, k.producer, 25).poll();
    expect(again).toMatchObject({ produced: 0, tombstones: 0, refused: 0 });

    const count = (w: typeof want1) => w.produced.length + w.tombstones.length + w.refused.length;
    const c = await collect(
      k.kafka,
      [TOPICS.advisories, dlqTopic(TOPICS.advisories)],
      (m) => m.headers.commit === t1 || m.headers.commit === t2,
    );
    try {
      await waitFor('all events', () => c.got.length >= count(want1) + count(want2), 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.got.length).toBe(count(want1) + count(want2));
      expect(summarize(c.got, t1)).toEqual(want1);
      expect(summarize(c.got, t2)).toEqual(want2);
    } finally {
      await c.stop();
    }
  });
  it('the CLI process stopped by SIGTERM mid-poll resumes on restart with no gap and no duplicate', async () => {
    const history = loadHistory();
    const work = newWorkRepo();
    const state = tempDir('state');
    const model = new Model();
    const files = new Map<string, string>();
    const t1 = applyCommit(
      work,
      files,
      history.slice(0, 400).flatMap((g) => g.rows),
      'chunk',
    );
    const want = model.expectTo(files);
    const total = want.produced.length + want.tombstones.length + want.refused.length;
    const cli = () => runCli(['rustsec', '--git', work, '--batch-size', '10'], { CRATEWATCH_STATE_DIR: state });
    const first = cli();
    await waitFor('first acknowledged batch', () => first.output().includes('"msg":"rustsec progress"'), 60_000, 20);
    first.proc.kill('SIGTERM');
    expect(await first.exited, first.output()).toBe(0);
    const cp = JSON.parse(readFileSync(join(state, 'rustsec-git.json'), 'utf8')) as RustsecGitCheckpoint;
    expect(cp.pending?.target).toBe(t1);
    expect(cp.pending!.done).toBeGreaterThan(0);
    expect(cp.pending!.done).toBeLessThan(total);
    const second = cli();
    expect(await second.exited, second.output()).toBe(0);
    expect((JSON.parse(readFileSync(join(state, 'rustsec-git.json'), 'utf8')) as RustsecGitCheckpoint).commit).toBe(t1);

    const c = await collect(k.kafka, [TOPICS.advisories, dlqTopic(TOPICS.advisories)], (m) => m.headers.commit === t1);
    try {
      await waitFor('all events', () => c.got.length >= total, 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(c.got.length).toBe(total);
      expect(summarize(c.got, t1)).toEqual(want);
    } finally {
      await c.stop();
    }
  });
});

describe('RustSec git source: rewritten upstream history and a lost clone', () => {
  const k = useKafka('rustsec-git-rewrite');

  it('compares the whole tree with the checkpoint when the checkpoint commit is gone', async () => {
    const run = `RUSTSEC-${unique('rw').toUpperCase()}`;
    const adv = (id: string, patched: string) =>
      `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "rw"\ndate = "2099-01-01"\n\n[versions]\npatched = ["${patched}"]\n\`\`\`\n\n# ${id}\n\nBody.\n`;
    const work = newWorkRepo();
    const files = new Map<string, string>();
    const model = new Model();
    const row = (status: Row['status'], name: string, content: string | null): Row => ({
      commit: '',
      time: '',
      status,
      path: `crates/rw/${run}-${name}.md`,
      content,
    });
    applyCommit(
      work,
      files,
      [row('A', 'A', adv(`${run}-A`, '>= 1')), row('A', 'B', adv(`${run}-B`, '>= 1')), row('A', 'C', adv(`${run}-C`, '>= 1'))],
      'one',
    );
    model.expectTo(files);
    const state = tempDir('state');
    const mk = () =>
      new RustsecGitSource(
        { url: work, branch: 'main', repoDir: join(state, 'rustsec-git') },
        k.producer,
        new Checkpoint<RustsecGitCheckpoint>(join(state, 'rustsec-git.json'), { files: {} }),
        logger('test/rustsec-git'),
      );
    expect(await mk().poll()).toMatchObject({ produced: 3, tombstones: 0 });

    // Upstream rewrites history (a new root commit) and our clone is lost.
    gitIn(work, 'checkout', '-q', '--orphan', 'rewritten');
    applyCommit(
      work,
      files,
      [row('M', 'B', adv(`${run}-B`, '>= 2')), row('D', 'C', null), row('A', 'D', adv(`${run}-D`, '>= 1'))],
      'rewritten',
    );
    gitIn(work, 'branch', '-q', '-M', 'rewritten', 'main');
    rmSync(join(state, 'rustsec-git'), { recursive: true, force: true });
    const want = model.expectTo(files);
    expect(want).toEqual({ produced: [`${run}-B`, `${run}-D`], tombstones: [`${run}-C`], refused: [] });
    const r = await mk().poll();
    expect(r).toMatchObject({ produced: 2, tombstones: 1, refused: 0, complete: true });
    const c = await collect(k.kafka, [TOPICS.advisories], (m) => m.headers.commit === r.to);
    try {
      await waitFor('events', () => c.got.length >= 3);
      await new Promise((res) => setTimeout(res, 500));
      expect(summarize(c.got, r.to)).toEqual(want);
    } finally {
      await c.stop();
    }
  });

  it('keeps a credential in the git URL out of errors and the checkpoint', async () => {
    const state = tempDir('state');
    const src = new RustsecGitSource(
      { url: 'http://cw:hunter2secret@127.0.0.1:9/advisory-db', branch: 'main', repoDir: join(state, 'rustsec-git') },
      k.producer,
      new Checkpoint<RustsecGitCheckpoint>(join(state, 'rustsec-git.json'), { files: {} }),
      logger('test/rustsec-git'),
    );
    const err = await src.poll().then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/^rustsec http:\/\/127\.0\.0\.1:9\/advisory-db: git clone failed/);
    expect(err?.message).not.toContain('hunter2secret');
  });
});
