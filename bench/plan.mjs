#!/usr/bin/env node
// Times `cratewatch plan` as a whole process on the four shared workspaces x25 (100 workspaces,
// linked into a temp org folder as org/team-<k>/<name>-<k>), sized from a warm crate cache: a
// first run sizes what it can into CRATEWATCH_CRATE_CACHE (a temp folder), the measured runs read
// those sizes back. Crate sources: `--crate-cache DIR` (default cargo's own registry cache,
// ~/.cargo/registry/cache/<index>/), offline. Also the same plan without sizes. Peak memory is the
// child's max RSS (/usr/bin/time -f %M). Run `npx tsc -b` first.
// The cost of one workspace changing on the running org needs the graph side (the scorer): not here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(root, '../shared/data/projects');
const bin = path.join(root, 'cli/dist/main.js');
const NAMES = ['application-services', 'ariel-os', 'libprio-rs', 'spin'];
const COPIES = Number(process.env.COPIES ?? 25);
const RUNS = Number(process.env.RUNS ?? 2);
if (!NAMES.every((n) => existsSync(path.join(data, n)))) {
  console.log(`skipped: ${data} is absent`);
  process.exit(0);
}
if (!existsSync(bin)) {
  console.error('build first: npx tsc -b');
  process.exit(2);
}
const argIdx = process.argv.indexOf('--crate-cache');
const registry = path.join(os.homedir(), '.cargo/registry/cache');
const crateDir =
  argIdx > 0 ? process.argv[argIdx + 1] : existsSync(registry) ? readdirSync(registry).map((d) => path.join(registry, d))[0] : undefined;

const org = mkdtempSync(path.join(os.tmpdir(), 'cratewatch-bench-plan-'));
const cache = path.join(org, '.cache');
const dirs = [];
for (let k = 0; k < COPIES; k++) {
  mkdirSync(path.join(org, `team-${k % 5}`), { recursive: true });
  for (const n of NAMES) {
    const d = path.join(org, `team-${k % 5}`, `${n}-${k}`);
    symlinkSync(path.join(data, n), d);
    dirs.push(d);
  }
}

function once(extra) {
  const args = ['-f', '%e %M', process.execPath, bin, 'plan', ...dirs, '--json', '-q', ...extra];
  const r = spawnSync('/usr/bin/time', args, {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    env: { ...process.env, CRATEWATCH_CRATE_CACHE: cache },
  });
  if (r.status !== 0) throw new Error(`plan failed (${r.status}): ${r.stderr.slice(-2000)}`);
  const [secs, kb] = r.stderr.trim().split('\n').at(-1).split(' ').map(Number);
  const plan = JSON.parse(r.stdout);
  return {
    secs,
    mib: Math.round(kb / 1024),
    audits: plan.audits.length,
    lines: plan.lines,
    summary: plan.summary,
    sized: plan.audits.filter((a) => a.lines !== null).length,
  };
}

try {
  const load = () =>
    os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
  console.log(`plan over ${dirs.length} workspaces (${NAMES.join(', ')} x${COPIES}); load ${load()}`);
  const unsized = once([]);
  console.log(`without sizes: ${unsized.secs}s, peak ${unsized.mib} MiB; ${unsized.summary}`);
  if (crateDir) {
    const warm = once(['--crate-cache', crateDir]);
    console.log(`warming the size cache from ${crateDir}: ${warm.secs}s, peak ${warm.mib} MiB`);
    for (let i = 0; i < RUNS; i++) {
      const r = once(['--crate-cache', crateDir]);
      console.log(`warm run ${i + 1}: ${r.secs}s, peak ${r.mib} MiB; ${r.sized} of ${r.audits} audits sized; ${r.summary}`);
    }
  } else console.log('no crate cache (pass --crate-cache DIR): sized runs skipped');
  console.log(`load after: ${load()}`);
} finally {
  rmSync(org, { recursive: true, force: true });
}
