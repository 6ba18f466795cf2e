/**
 * The RustSec archive source against a loopback HTTP server serving a real .tar.gz of the
 * advisory-db (../shared/data/rustsec, under a codeload-style top folder), with real Kafka:
 * first load, 304 on an unchanged ETag, a 5xx burst and a 429 with Retry-After before a new
 * archive (one added, one changed, one deleted, one malformed advisory), a truncated body, and a
 * cut-short gzip that fails the poll without advancing the checkpoint.
 */
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as tar from 'tar';
import { Checkpoint, logger } from '@cratewatch/runtime';
import { TOPICS, dlqTopic } from '@cratewatch/shared';
import { HttpClient } from '../src/http.js';
import { RustsecArchiveSource, type ArchiveCheckpoint } from '../src/sources/rustsec-archive.js';
import type { RustsecCheckpoint } from '../src/sources/rustsec.js';
import { collect, hasSharedData, useKafka, loopback, sharedData, tempDir, unique, waitFor } from './fixtures/harness.js';

async function tarball(dbDir: string): Promise<Buffer> {
  const out = join(tempDir('tgz'), 'db.tar.gz');
  await tar.c({ gzip: true, file: out, cwd: join(dbDir, '..'), portable: true }, [dbDir.split('/').pop()!]);
  return readFileSync(out);
}

const advisory = (id: string, pkg: string, patched = '>= 1.0.0') =>
  `\`\`\`toml\n[advisory]\nid = "${id}"\npackage = "${pkg}"\ndate = "2099-01-01"\n\n[versions]\npatched = ["${patched}"]\n\`\`\`\n\n# Test advisory ${id}\n\nBody.\n`;

describe.skipIf(!hasSharedData)('RustSec archive source over HTTP (needs ../shared/data)', () => {
  const k = useKafka('rustsec-archive');

  it('loads, answers 304, survives 5xx/429/truncation, and sends exactly what changed', async () => {
    const run = `RUSTSEC-${unique('cw').toUpperCase()}`;
    const work = tempDir('archive-src');
    const db = join(work, 'advisory-db-main');
    mkdirSync(db);
    cpSync(join(sharedData, 'rustsec', 'crates'), join(db, 'crates'), { recursive: true });
    cpSync(join(sharedData, 'rustsec', 'rust'), join(db, 'rust'), { recursive: true });
    // Advisories of this run (unique ids, so Kafka's shared topic can be filtered to them).
    const gone = `${run}-GONE`;
    const kept = `${run}-KEPT`;
    mkdirSync(join(db, 'crates', 'cw-test'));
    writeFileSync(join(db, 'crates', 'cw-test', `${gone}.md`), advisory(gone, 'cw-test'));
    writeFileSync(join(db, 'crates', 'cw-test', `${kept}.md`), advisory(kept, 'cw-test'));
    const fileCount =
      readdirSync(join(db, 'crates'), { recursive: true }).filter((f) => String(f).endsWith('.md')).length +
      readdirSync(join(db, 'rust'), { recursive: true }).filter((f) => String(f).endsWith('.md')).length;
    const v1 = await tarball(db);

    // v2: one added, one changed, one deleted, one malformed.
    const added = `${run}-NEW`;
    writeFileSync(join(db, 'crates', 'cw-test', `${added}.md`), advisory(added, 'cw-test'));
    writeFileSync(join(db, 'crates', 'cw-test', `${kept}.md`), advisory(kept, 'cw-test', '>= 2.0.0'));
    rmSync(join(db, 'crates', 'cw-test', `${gone}.md`));
    writeFileSync(join(db, 'crates', 'cw-test', `${run}-BAD.md`), '```toml\n[advisory]\nid = "X"\n```\n');
    const v2 = await tarball(db);

    let script: string[] = [];
    let current = { body: v1, etag: '"v1"' };
    const server = await loopback((req, res) => {
      const step = script.shift();
      if (step === '503') return void res.writeHead(503).end('busy');
      if (step === '429') return void res.writeHead(429, { 'retry-after': '1' }).end('slow down');
      if (step === 'truncate') {
        res.writeHead(200, { 'content-length': String(current.body.length), etag: current.etag });
        res.write(current.body.subarray(0, 1000));
        return void res.destroy();
      }
      if (step === 'cut-gzip') {
        // A well-formed HTTP response whose archive is cut short: only the unpacker can tell.
        return void res.writeHead(200, { etag: '"cut"' }).end(current.body.subarray(0, Math.floor(current.body.length / 2)));
      }
      if (req.headers['if-none-match'] === current.etag) return void res.writeHead(304, { etag: current.etag }).end();
      res
        .writeHead(200, { 'content-type': 'application/gzip', etag: current.etag, 'content-length': String(current.body.length) })
        .end(current.body);
    });
    const url = `${server.url}/rustsec/advisory-db/tar.gz/refs/heads/main`;
    const state = tempDir('state');
    const retries: string[] = [];
    const http = new HttpClient({ minIntervalMs: 0, baseMs: 50, attempts: 5, onRetry: (i) => retries.push(i.reason) });
    const source = () =>
      new RustsecArchiveSource(
        url,
        http,
        k.producer,
        new Checkpoint<ArchiveCheckpoint>(join(state, 'rustsec-archive.json'), {}),
        new Checkpoint<RustsecCheckpoint>(join(state, 'rustsec.json'), { files: {} }),
        logger('test/rustsec-archive'),
      );
    try {
      const first = await source().poll();
      expect(first.notModified).toBe(false);
      expect(first.produced! + first.refused!).toBe(fileCount);
      expect(first.produced).toBeGreaterThan(1200);

      const second = await source().poll();
      expect(second).toEqual({ notModified: true });
      expect(server.requests.at(-1)!.headers['if-none-match']).toBe('"v1"');

      // New archive behind a 5xx burst, a 429 with Retry-After and a truncated body.
      current = { body: v2, etag: '"v2"' };
      script = ['503', '503', '429', 'truncate'];
      const t0 = Date.now();
      const third = await source().poll();
      expect(Date.now() - t0).toBeGreaterThanOrEqual(900); // Retry-After: 1 honoured
      expect(retries.length).toBe(4);
      expect(retries.join('\n')).toMatch(/HTTP 503[\s\S]*HTTP 429[\s\S]*(truncated|closed)/);
      expect(third).toMatchObject({ notModified: false, produced: 2, tombstones: 1, refused: 1 });

      // A cut-short archive fails the poll, names the URL, and does not move the checkpoint.
      current = { body: v2, etag: '"v3"' };
      script = ['cut-gzip'];
      await expect(source().poll()).rejects.toThrow(new RegExp(`rustsec archive ${server.url.replace(/[.]/g, '\\.')}.*not a readable`));
      const cp = JSON.parse(readFileSync(join(state, 'rustsec-archive.json'), 'utf8')) as ArchiveCheckpoint;
      expect(cp.validator).toEqual({ etag: '"v2"' });
      // Next poll gets the full archive (same content): nothing new.
      expect(await source().poll()).toMatchObject({ notModified: false, produced: 0, tombstones: 0, refused: 0 });
    } finally {
      await server.close();
      await http.close();
    }

    const c = await collect(k.kafka, [TOPICS.advisories, dlqTopic(TOPICS.advisories)], (m) => (m.key ?? '').includes(run));
    try {
      await waitFor('run events', () => c.got.length >= 6);
      await new Promise((r) => setTimeout(r, 1000));
      const seen = c.got.map((m) => `${m.topic}|${m.key}|${m.value === null ? 'tombstone' : 'value'}`).sort();
      expect(seen).toEqual(
        [
          `${TOPICS.advisories}|${gone}|value`,
          `${TOPICS.advisories}|${kept}|value`,
          `${TOPICS.advisories}|${added}|value`,
          `${TOPICS.advisories}|${kept}|value`,
          `${TOPICS.advisories}|${gone}|tombstone`,
          `${dlqTopic(TOPICS.advisories)}|crates/cw-test/${run}-BAD.md|value`,
        ].sort(),
      );
      const dlq = JSON.parse(c.got.find((m) => m.topic === dlqTopic(TOPICS.advisories))!.value!);
      expect(dlq.error).toContain(server.url); // upstream
      expect(dlq.error).toContain(`crates/cw-test/${run}-BAD.md`); // file
      expect(dlq.error).toMatch(/field `(advisory\.package|versions)`/); // field
    } finally {
      await c.stop();
    }
  });
});
