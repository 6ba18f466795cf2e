/**
 * crates.io sparse index and updates feed against a loopback index (real HTTP) and real Kafka.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { TOPICS, dlqTopic } from '@cratewatch/shared';
import { Checkpoint } from '@cratewatch/runtime';
import { HttpClient } from '../src/http.js';
import { CratesIndexSource, indexPath, lockedCrates, type CratesIndexCheckpoint } from '../src/sources/crates-io-index.js';
import { CratesFeedSource, type CratesFeedCheckpoint } from '../src/sources/crates-io-feed.js';
import { readRange, recordingLogger, serve, snapshot, type Served } from './fixtures/pools-harness.js';
import { tempDir, useKafka, uid } from './fixtures/harness.js';

let server: Served;
const http = new HttpClient({ minIntervalMs: 0, baseMs: 20, maxMs: 200, timeoutMs: 5_000, attempts: 5 });

const k = useKafka('crates-io-test');
beforeAll(async () => {
  server = await serve();
});
afterAll(async () => {
  await server?.close();
  await http.close();
});

/** A version line in the real index's shape. */
function line(
  name: string,
  vers: string,
  opts: {
    yanked?: boolean;
    deps?: { name: string; req: string; kind?: string; package?: string; optional?: boolean; target?: string }[];
  } = {},
) {
  return JSON.stringify({
    name,
    vers,
    deps: (opts.deps ?? []).map((d) => ({
      name: d.name,
      req: d.req,
      features: [],
      optional: d.optional ?? false,
      default_features: true,
      target: d.target ?? null,
      kind: d.kind ?? 'normal',
      ...(d.package ? { package: d.package } : {}),
    })),
    cksum: 'a'.repeat(64),
    features: { default: ['std'], std: [] },
    features2: { serde: ['dep:serde'] },
    yanked: opts.yanked ?? false,
    links: null,
    v: 2,
    rust_version: '1.60',
    pubtime: '2025-03-01T10:00:00Z',
  });
}

interface Index {
  prefix: string;
  base: string;
  put: (name: string, lines: string[]) => void;
}
function index(): Index {
  const prefix = `/idx-${uid()}`;
  server.put(`${prefix}/config.json`, JSON.stringify({ dl: 'https://static.crates.io/crates', api: 'https://crates.io' }));
  return { prefix, base: server.base + prefix, put: (name, lines) => server.put(`${prefix}/${indexPath(name)}`, lines.join('\n') + '\n') };
}

const releases = async (from: Record<number, string>, prefix: string) =>
  (await readRange(k.kafka, TOPICS.releases, from, await snapshot(k.admin, TOPICS.releases)))
    .filter((m) => m.key.startsWith(prefix))
    .map((m) => ({ key: m.key, ev: JSON.parse(m.value!) }));

describe('sparse index paths', () => {
  it('lays crates out as cargo does', () => {
    expect(indexPath('a')).toBe('1/a');
    expect(indexPath('ab')).toBe('2/ab');
    expect(indexPath('abc')).toBe('3/a/abc');
    expect(indexPath('Serde')).toBe('se/rd/serde');
    expect(indexPath('cargo-vet')).toBe('ca/rg/cargo-vet');
  });
  it('reads the crates.io packages of a Cargo.lock', () => {
    const lock = `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\n\n[[package]]\nname = "serde"\nversion = "1.0.0"\nsource = "registry+https://github.com/rust-lang/crates.io-index"\nchecksum = "${'b'.repeat(64)}"\n`;
    expect(lockedCrates(lock)).toEqual(['serde']);
  });
});

describe('crates.io sparse index source', () => {
  it('emits each version once, nothing on 304, then exactly the new version and the yank flip; follows dependencies', async () => {
    const idx = index();
    const p = `z${uid()}`; // a prefix unique to this run for crate names
    const [a, b, c, dev] = [`${p}-alpha`, `${p}-beta`, `${p}-c`, `${p}-devonly`];
    idx.put(a, [
      line(a, '1.0.0', {
        deps: [
          { name: 'renamed', package: b, req: '^0.3' },
          { name: dev, req: '1', kind: 'dev' },
        ],
      }),
      line(a, '1.1.0', {
        deps: [
          { name: b, req: '^0.3' },
          { name: dev, req: '1', kind: 'dev' },
        ],
      }),
    ]);
    idx.put(b, [line(b, '0.3.0', { deps: [{ name: c, req: '2', kind: 'build', target: 'cfg(unix)' }] })]);
    idx.put(c, [line(c, '2.0.0')]);
    idx.put(dev, [line(dev, '1.0.0')]);
    const cp = new Checkpoint<CratesIndexCheckpoint>(join(tempDir('idx'), 'crates-index.json'), { crates: {} });
    const source = new CratesIndexSource(k.producer, http, cp, recordingLogger().log, { base: idx.base, followDeps: true });
    const s0 = await snapshot(k.admin, TOPICS.releases);
    const r1 = await source.poll([a]);
    expect(r1).toMatchObject({ crates: 3, fetched: 3, published: 4, yankFlips: 0, failed: 0 });
    const s1 = await snapshot(k.admin, TOPICS.releases);
    const first = await releases(s0, p);
    expect(first.map((m) => `${m.key}@${m.ev.version}`).sort()).toEqual([`${a}@1.0.0`, `${a}@1.1.0`, `${b}@0.3.0`, `${c}@2.0.0`]);
    const a10 = first.find((m) => m.ev.version === '1.0.0' && m.key === a)!.ev;
    expect(a10.dependencies).toEqual([
      { name: 'renamed', req: '^0.3', kind: 'normal', optional: false, package: b },
      { name: dev, req: '1', kind: 'dev', optional: false },
    ]);
    expect(a10.features).toEqual({ default: ['std'], std: [], serde: ['dep:serde'] });
    expect(a10).toMatchObject({ checksum: 'a'.repeat(64), yanked: false, publishedAt: '2025-03-01T10:00:00.000Z' });
    expect(first.find((m) => m.key === b)!.ev.dependencies[0]).toMatchObject({ kind: 'build', target: 'cfg(unix)' });

    // Re-poll: every index file revalidated with its ETag and answered 304; nothing produced.
    const mark = server.log.length;
    const r2 = await source.poll([a]);
    expect(r2).toMatchObject({ notModified: 3, published: 0, yankFlips: 0 });
    expect(
      server.log
        .slice(mark)
        .filter((l) => l.path.includes(p))
        .every((l) => l.status === 304 && l.ifNoneMatch),
    ).toBe(true);
    expect(await releases(s1, p)).toEqual([]);

    // Yank 1.0.0, publish 1.2.0.
    idx.put(a, [line(a, '1.0.0', { yanked: true }), line(a, '1.1.0'), line(a, '1.2.0')]);
    const r3 = await source.poll([a]);
    expect(r3).toMatchObject({ published: 1, yankFlips: 1 });
    const third = await releases(s1, p);
    expect(third.map((m) => `${m.ev.version}:${m.ev.yanked}`)).toEqual(['1.0.0:true', '1.2.0:false']);
    // And unyanked again.
    const s3 = await snapshot(k.admin, TOPICS.releases);
    idx.put(a, [line(a, '1.0.0'), line(a, '1.1.0'), line(a, '1.2.0')]);
    await source.poll([a]);
    expect((await releases(s3, p)).map((m) => `${m.ev.version}:${m.ev.yanked}`)).toEqual(['1.0.0:false']);
  });

  it('retries 429 (Retry-After as an HTTP date), a 5xx burst and a truncated body; a malformed line goes to the DLQ naming upstream, file and field, the rest goes on', async () => {
    const idx = index();
    const p = `y${uid()}`;
    const [a, b, c, d] = [`${p}-rl`, `${p}-five`, `${p}-trunc`, `${p}-bad`];
    for (const n of [a, b, c]) idx.put(n, [line(n, '1.0.0'), line(n, '1.0.1')]);
    idx.put(d, [line(d, '1.0.0'), line(d, '1.0.1').replace('"vers":"1.0.1"', '"vers":101'), line(d, '1.0.2')]);
    server.faults.set(`${idx.prefix}/${indexPath(a)}`, [
      { kind: 'status', status: 429, headers: { 'retry-after': new Date(Date.now() + 1500).toUTCString() } },
    ]);
    server.faults.set(`${idx.prefix}/${indexPath(b)}`, [
      { kind: 'status', status: 500 },
      { kind: 'status', status: 503 },
      { kind: 'status', status: 502 },
    ]);
    server.faults.set(`${idx.prefix}/${indexPath(c)}`, [{ kind: 'truncate', keep: 40 }]);
    const { log, lines } = recordingLogger();
    const source = new CratesIndexSource(k.producer, http, new Checkpoint(join(tempDir('idx'), 'c.json'), { crates: {} }), log, {
      base: idx.base,
    });
    const s0 = await snapshot(k.admin, TOPICS.releases);
    const d0 = await snapshot(k.admin, dlqTopic(TOPICS.releases));
    const r = await source.poll([a, b, c, d]);
    expect(r).toMatchObject({ fetched: 4, published: 8, refused: 1, failed: 0 });
    const got = await releases(s0, p);
    expect(got.map((m) => `${m.key}@${m.ev.version}`).sort()).toEqual(
      [a, b, d, c].flatMap((n) => (n === d ? [`${n}@1.0.0`, `${n}@1.0.2`] : [`${n}@1.0.0`, `${n}@1.0.1`])).sort(),
    );
    const dlq = (await readRange(k.kafka, dlqTopic(TOPICS.releases), d0, await snapshot(k.admin, dlqTopic(TOPICS.releases)))).filter(
      (m) => m.key === d,
    );
    expect(dlq).toHaveLength(1);
    const rec = JSON.parse(dlq[0]!.value!);
    expect(rec.error).toContain(idx.base); // upstream
    expect(rec.error).toContain(indexPath(d)); // file
    expect(rec.error).toContain('line 2, field `vers`'); // field
    expect(lines.some((l) => l.msg === 'refused index line')).toBe(true);
    const statuses = (n: string) => server.log.filter((l) => l.path === `${idx.prefix}/${indexPath(n)}`).map((l) => l.status);
    expect(statuses(a)).toEqual([429, 200]);
    expect(statuses(b)).toEqual([500, 503, 502, 200]);
    expect(statuses(c)).toEqual([200, 200]);
  });

  it('stopped after its first acknowledged batch and started again: no gap and no duplicate', async () => {
    const idx = index();
    const p = `x${uid()}`;
    const names = Array.from({ length: 6 }, (_, i) => `${p}-n${i}`);
    for (const n of names) idx.put(n, [line(n, '0.1.0'), line(n, '0.2.0')]);
    const file = join(tempDir('idx-restart'), 'c.json');
    const ctl = new AbortController();
    // The real producer; after its first acknowledged batch, the "process" is told to stop.
    const stopping = Object.create(k.producer) as Producer;
    stopping.sendBatch = async (b) => {
      const r = await k.producer.sendBatch(b);
      ctl.abort(new Error('stop'));
      return r;
    };
    const s0 = await snapshot(k.admin, TOPICS.releases);
    const first = new CratesIndexSource(stopping, http, new Checkpoint(file, { crates: {} }), recordingLogger().log, {
      base: idx.base,
      batch: 3,
    });
    await expect(first.poll(names, ctl.signal)).rejects.toThrow();
    const second = new CratesIndexSource(k.producer, http, new Checkpoint(file, { crates: {} }), recordingLogger().log, {
      base: idx.base,
      batch: 3,
    });
    await second.poll(names);
    const got = await releases(s0, p);
    const count = new Map<string, number>();
    for (const m of got) count.set(`${m.key}@${m.ev.version}`, (count.get(`${m.key}@${m.ev.version}`) ?? 0) + 1);
    expect(count.size).toBe(12);
    expect([...count.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('crates.io updates feed', () => {
  it('re-reads a tracked crate from the index when /api/v1/summary lists it as just updated', async () => {
    const idx = index();
    const p = `w${uid()}`;
    const [a, other] = [`${p}-tracked`, `${p}-other`];
    idx.put(a, [line(a, '1.0.0')]);
    idx.put(other, [line(other, '1.0.0')]);
    const apiPrefix = `/api-${uid()}`;
    const summary = (items: { name: string; v: string; at: string }[]) =>
      server.put(
        `${apiPrefix}/api/v1/summary`,
        JSON.stringify({
          num_downloads: 1,
          num_crates: 2,
          new_crates: [],
          most_downloaded: [],
          just_updated: items.map((i) => ({ id: i.name, name: i.name, newest_version: i.v, max_version: i.v, updated_at: i.at })),
        }),
      );
    const indexSource = new CratesIndexSource(
      k.producer,
      http,
      new Checkpoint(join(tempDir('feed'), 'i.json'), { crates: {} }),
      recordingLogger().log,
      { base: idx.base },
    );
    const feed = new CratesFeedSource(
      indexSource,
      http,
      new Checkpoint<CratesFeedCheckpoint>(join(tempDir('feed'), 'f.json'), { seen: {} }),
      recordingLogger().log,
      server.base + apiPrefix,
    );
    const s0 = await snapshot(k.admin, TOPICS.releases);
    summary([
      { name: a, v: '1.0.0', at: '2025-03-01T10:00:00Z' },
      { name: other, v: '1.0.0', at: '2025-03-01T10:00:00Z' },
    ]);
    expect((await feed.poll(new Set([a]))).triggered).toEqual([a]);
    idx.put(a, [line(a, '1.0.0'), line(a, '1.1.0')]);
    summary([{ name: a, v: '1.1.0', at: '2025-03-01T11:00:00Z' }]);
    expect((await feed.poll(new Set([a]))).triggered).toEqual([a]);
    expect((await feed.poll(new Set([a]))).triggered).toEqual([]); // same feed: nothing new
    const got = await releases(s0, p);
    expect(got.map((m) => `${m.key}@${m.ev.version}`)).toEqual([`${a}@1.0.0`, `${a}@1.1.0`]);
  });
});
