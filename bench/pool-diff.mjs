#!/usr/bin/env node
// Events/s of the audit-pool diff (services/ingest/src/sources/pools.ts) over every shared pool and
// every month of google/mozilla history, each case a whole process. Side by side:
//   parse  — read + parse every file with the shared cargo-vet reader (the floor),
//   diff   — parse + per-crate diff against the previous version + encode/validate each event,
//            i.e. everything the source does per poll except the HTTP fetch and the Kafka send.
// Prints wall time, events, events/s and peak RSS per case. Run `npx tsc -b` first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(root, '../shared/data/audit-pools');
const dist = path.join(root, 'services/ingest/dist/sources/pools.js');

if (process.argv[2] === '--child') {
  const mode = process.argv[3];
  const { parseAuditsFile, encodeEvent, TOPICS } = await import(path.join(root, 'shared/dist/index.js'));
  const { diffPool } = await import(dist);
  // Sequences: each current pool alone, and each history folder in month order.
  const seqs = readdirSync(data)
    .filter((f) => f.endsWith('.audits.toml'))
    .map((f) => [path.join(data, f)]);
  for (const p of readdirSync(path.join(data, 'history'))) {
    seqs.push(
      readdirSync(path.join(data, 'history', p))
        .sort()
        .map((f) => path.join(data, 'history', p, f)),
    );
  }
  const texts = seqs.map((s) => s.map((f) => readFileSync(f, 'utf8')));
  const t0 = process.hrtime.bigint();
  let events = 0;
  let files = 0;
  const now = new Date().toISOString();
  for (const seq of texts) {
    let state = {};
    for (const text of seq) {
      const parsed = parseAuditsFile(text);
      files++;
      if (mode !== 'diff') continue;
      for (const c of diffPool(state, parsed)) {
        encodeEvent(TOPICS.audits, {
          v: 1,
          pool: 'bench',
          url: 'https://example.invalid/audits.toml',
          crate: c.crate,
          entries: c.entries,
          observedAt: now,
        });
        if (c.hash === '') delete state[c.crate];
        else state[c.crate] = c.hash;
        events++;
      }
    }
  }
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  console.log(JSON.stringify({ mode, files, events, ms, maxRssKiB: process.resourceUsage().maxRSS }));
  process.exit(0);
}

if (!existsSync(path.join(data, 'google.audits.toml'))) {
  console.log(`skipped: ${data} is absent (needs ../shared/data)`);
  process.exit(0);
}
if (!existsSync(dist)) {
  console.error('build first: npx tsc -b');
  process.exit(2);
}
const RUNS = Number(process.env.RUNS ?? 3);
const run = (mode) => {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', mode], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return { ...JSON.parse(r.stdout.trim().split('\n').pop()), wallMs: Number(process.hrtime.bigint() - t0) / 1e6 };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log('case   files  events   in-process ms  whole-process ms  events/s (whole process)  peak RSS');
const inners = {};
for (const mode of ['parse', 'diff']) {
  const rs = Array.from({ length: RUNS }, () => run(mode));
  const wall = median(rs.map((r) => r.wallMs));
  const inner = median(rs.map((r) => r.ms));
  const r = rs[0];
  inners[mode] = { inner, events: r.events };
  const eps = r.events ? Math.round((r.events * 1000) / wall) : 0;
  console.log(
    `${mode.padEnd(6)} ${String(r.files).padStart(5)} ${String(r.events).padStart(7)} ${inner.toFixed(0).padStart(15)} ${wall.toFixed(0).padStart(17)} ${String(eps).padStart(25)}  ${(Math.max(...rs.map((x) => x.maxRssKiB)) / 1024).toFixed(0)} MiB`,
  );
}
console.log(
  `diff alone (diff in-process ms - parse in-process ms): ${Math.round((inners.diff.events * 1000) / Math.max(1, inners.diff.inner - inners.parse.inner))} events/s`,
);
