#!/usr/bin/env node
// Times the crates.io database-dump bootstrap (services/ingest/src/sources/crates-io-dump.ts) on a
// generated dump of CRATES (default 200,000) crates and VERSIONS (default 2,000,000) versions, two
// dependencies each, written to a temp folder (never the repo) and removed afterwards.
//   node bench/dump-bootstrap.mjs             --dry-run: events built and counted, no Kafka
//   node bench/dump-bootstrap.mjs --kafka     produce to Kafka at KAFKA_BROKERS (events validated)
// The bootstrap runs in a child process: its wall time, events/s and peak RSS
// (process.resourceUsage().maxRSS) are printed; its progress lines go to stderr as it runs.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'services/ingest/dist/sources');
const runtime = path.join(root, 'services/runtime/dist/index.js');

if (process.argv[2] === '--child') {
  const [, , , dump, mode, state] = process.argv;
  const { DumpBootstrap } = await import(path.join(dist, 'crates-io-dump.js'));
  const { Checkpoint, logger, kafkaClient, newProducer, ensureTopics, withAdmin } = await import(runtime);
  let producer = null;
  if (mode === 'kafka') {
    const kafka = kafkaClient('bench-dump');
    await withAdmin(kafka, (a) => ensureTopics(a));
    producer = newProducer(kafka);
    await producer.connect();
  }
  const cp = new Checkpoint(path.join(state, 'cp.json'), { bucketsDone: 0, inBucket: 0 });
  const r = await new DumpBootstrap(producer, cp, logger('bench')).run(dump, { progressMs: 5000, spillDir: state });
  await producer?.disconnect();
  console.log(JSON.stringify({ ...r, maxRssKiB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

if (!existsSync(path.join(dist, 'crates-io-dump.js'))) {
  console.error('build first: npx tsc -b');
  process.exit(2);
}
const kafka = process.argv.includes('--kafka');
if (kafka && !process.env.KAFKA_BROKERS) {
  console.error('--kafka needs KAFKA_BROKERS (infra/local/start prints it)');
  process.exit(2);
}
const CRATES = Number(process.env.CRATES ?? 200_000);
const VERSIONS = Number(process.env.VERSIONS ?? 2_000_000);
const dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-bench-dump-'));
try {
  const { generateDump } = await import(path.join(dist, 'crates-io-dump-gen.js'));
  let t0 = Date.now();
  const g = await generateDump(path.join(dir, 'db-dump.tar.gz'), { crates: CRATES, versions: VERSIONS, depsPerVersion: 2 });
  console.log(
    `generated ${CRATES.toLocaleString('en')} crates, ${VERSIONS.toLocaleString('en')} versions, ${g.dependencies.toLocaleString('en')} dependencies: ${(statSync(g.path).size / 1048576).toFixed(0)} MiB tar.gz in ${((Date.now() - t0) / 1000).toFixed(1)} s`,
  );
  t0 = Date.now();
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', g.path, kafka ? 'kafka' : 'dry-run', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, LOG_LEVEL: 'warn' },
  });
  if (r.status !== 0) throw new Error(`bootstrap failed (${r.status})`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  const wall = (Date.now() - t0) / 1000;
  console.log(`mode: ${kafka ? 'produced to Kafka' : 'dry run (no Kafka)'}`);
  console.log(
    `events ${res.events.toLocaleString('en')} in ${wall.toFixed(1)} s (whole process) = ${Math.round(res.events / wall).toLocaleString('en')} events/s; peak RSS ${(res.maxRssKiB / 1024).toFixed(0)} MiB`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
