/**
 * crates.io database-dump bootstrap over a small generated tarball (real column names), with real
 * Kafka receiving the events.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Producer } from 'kafkajs';
import { TOPICS, dlqTopic } from '@cratewatch/shared';
import { Checkpoint } from '@cratewatch/runtime';
import { DumpBootstrap, type DumpCheckpoint } from '../src/sources/crates-io-dump.js';
import { crateName, generateDump } from '../src/sources/crates-io-dump-gen.js';
import { readRange, recordingLogger, snapshot } from './fixtures/pools-harness.js';
import { tempDir, useKafka } from './fixtures/harness.js';

const k = useKafka('dump-test');

// Each run names its crates with its own prefix, so other producers (a bench) do not interfere.
const runPrefix = () => `gen${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const read = async (from: Record<number, string>, prefix: string) =>
  (await readRange(k.kafka, TOPICS.releases, from, await snapshot(k.admin, TOPICS.releases)))
    .filter((m) => m.key.startsWith(`${prefix}-`))
    .map((m) => ({ key: m.key, ev: JSON.parse(m.value!) }));

describe('crates.io dump bootstrap', () => {
  for (const depsFirst of [false, true]) {
    it(`streams crates, versions and dependencies (${depsFirst ? 'dependencies.csv first' : 'versions.csv first, as the real dump'}) into one event per version; a bad row goes to the DLQ`, async () => {
      const dir = tempDir('dump');
      const bad = `{},${'f'.repeat(64)},not-a-number,1,2020-01-01 00:00:00,,0,2021,{},t,,999999,MIT,,9.9.9,9.9.9,1,,,2020-01-01 00:00:00,f`;
      const pre = runPrefix();
      const cn = (i: number) => crateName(i, pre);
      const g = await generateDump(join(dir, 'db-dump.tar.gz'), {
        crates: 40,
        versions: 300,
        depsPerVersion: 3,
        depsFirst,
        extraVersionLines: [bad],
        prefix: pre,
      });
      const s0 = await snapshot(k.admin, TOPICS.releases);
      const d0 = await snapshot(k.admin, dlqTopic(TOPICS.releases));
      const { log } = recordingLogger();
      const r = await new DumpBootstrap(
        k.producer,
        new Checkpoint<DumpCheckpoint>(join(dir, 'cp.json'), { bucketsDone: 0, inBucket: 0 }),
        log,
      ).run(g.path, { buckets: 8, batch: 64, progressMs: 0 });
      expect(r).toMatchObject({ crates: 40, versions: 300, dependencies: 900, events: 300, refused: 1 });
      const evs = await read(s0, pre);
      expect(evs).toHaveLength(300);
      // Version v belongs to crate ((v-1) % 40) + 1; its dependencies are joined by version id.
      const v7 = evs.find((e) => e.key === cn(7) && e.ev.version === '0.0.0')!.ev;
      expect(v7.dependencies).toEqual([
        { name: cn(((7 + 0) % 40) + 1), req: '^0.1', kind: 'normal', optional: false },
        { name: 'renamed_1', req: '^1.1', kind: 'build', optional: false, target: 'cfg(unix)', package: cn(((7 + 7919) % 40) + 1) },
        { name: cn(((7 + 2 * 7919) % 40) + 1), req: '^2.1', kind: 'dev', optional: true },
      ]);
      expect(v7).toMatchObject({
        crate: cn(7),
        yanked: false,
        features: { default: ['std'], std: [] },
        publisher: 'user8',
        publishedAt: '2020-01-01T00:07:00.000Z',
      });
      expect(evs.filter((e) => e.ev.yanked)).toHaveLength(6); // every 50th version
      // Per crate, events come in publish order.
      const c3 = evs.filter((e) => e.key === cn(3)).map((e) => e.ev.publishedAt);
      expect(c3).toEqual([...c3].sort());
      const dlq = (await readRange(k.kafka, dlqTopic(TOPICS.releases), d0, await snapshot(k.admin, dlqTopic(TOPICS.releases)))).filter(
        (m) => m.value?.includes('db-dump.tar.gz'),
      );
      expect(dlq).toHaveLength(1);
      expect(JSON.parse(dlq[0]!.value!).error).toMatch(
        /crates\.io dump db-dump\.tar\.gz: file data\/versions\.csv, row \d+, field `crate_id`/,
      );
    });
  }

  it('stopped after its first acknowledged batch and run again: every version exactly once', async () => {
    const dir = tempDir('dump-restart');
    const pre = runPrefix();
    const g = await generateDump(join(dir, 'db-dump.tar.gz'), { crates: 30, versions: 240, prefix: pre });
    const cp = () => new Checkpoint<DumpCheckpoint>(join(dir, 'cp.json'), { bucketsDone: 0, inBucket: 0 });
    const ctl = new AbortController();
    let sends = 0;
    const stopping = Object.create(k.producer) as Producer;
    stopping.sendBatch = async (b) => {
      const r = await k.producer.sendBatch(b);
      if (++sends === 2) ctl.abort(new Error('stop'));
      return r;
    };
    const s0 = await snapshot(k.admin, TOPICS.releases);
    await expect(
      new DumpBootstrap(stopping, cp(), recordingLogger().log).run(g.path, { buckets: 4, batch: 25, progressMs: 0, signal: ctl.signal }),
    ).rejects.toThrow();
    const r2 = await new DumpBootstrap(k.producer, cp(), recordingLogger().log).run(g.path, { buckets: 4, batch: 25, progressMs: 0 });
    expect(r2.skipped).toBe(50); // two batches of 25 of the first bucket were acknowledged
    const evs = await read(s0, pre);
    const count = new Map<string, number>();
    for (const e of evs) count.set(`${e.key}@${e.ev.version}`, (count.get(`${e.key}@${e.ev.version}`) ?? 0) + 1);
    expect(count.size).toBe(240);
    expect([...count.values()].every((n) => n === 1)).toBe(true);
    // Done is done: a third run produces nothing.
    const r3 = await new DumpBootstrap(k.producer, cp(), recordingLogger().log).run(g.path, { buckets: 4, progressMs: 0 });
    expect(r3.events).toBe(0);
  });
});
