#!/usr/bin/env node
// Times `cratewatch scan` and `cratewatch gate` as whole processes on the largest shared workspace
// (spin: ~1000 locked packages) with all six audit pools loaded, next to a baseline without pools.
// Peak memory is the child's max RSS (getrusage of the waited-for child, via /usr/bin/time -f %M
// when present, else process.resourceUsage in a wrapper). Run `npx tsc -b` first.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const data = path.resolve(root, '../shared/data');
const bin = path.join(root, 'cli/dist/main.js');
const ws = path.join(data, 'projects/spin');
if (!existsSync(ws)) {
  console.log(`skipped: ${ws} is absent`);
  process.exit(0);
}
if (!existsSync(bin)) {
  console.error('build first: npx tsc -b');
  process.exit(2);
}
const packages = (readFileSync(path.join(ws, 'Cargo.lock'), 'utf8').match(/^\[\[package\]\]$/gm) ?? []).length;
const pools = path.join(data, 'audit-pools');
const base = path.join(data, 'projects/ariel-os/Cargo.lock'); // an unrelated lockfile as base: every spin package counts as added
const advisoryDb = path.join(data, 'rustsec');
const RUNS = Number(process.env.RUNS ?? 5);
const haveTime = existsSync('/usr/bin/time');

function once(args) {
  const t0 = process.hrtime.bigint();
  const r = haveTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, bin, ...args], {
        encoding: 'utf8',
        env: { ...process.env, CRATEWATCH_QUIET: '1' },
        maxBuffer: 1 << 28,
      })
    : spawnSync(
        process.execPath,
        [
          '-e',
          `const {spawnSync}=require('child_process');const r=spawnSync(process.execPath,${JSON.stringify([bin, ...args])},{stdio:['ignore','ignore','inherit'],env:{...process.env,CRATEWATCH_QUIET:'1'}});console.error(process.resourceUsage().maxRSS);process.exit(r.status)`,
        ],
        { encoding: 'utf8' },
      );
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  // 2 is expected here: cargo-vet 0.10.3 refuses spin's 0.7-format store, and so do we (exit 2),
  // after resolving every package all the same — the work this benchmark times.
  if (r.status !== 0 && r.status !== 1 && r.status !== 2) throw new Error(`cratewatch ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  const kb = Number(r.stderr.trim().split('\n').at(-1));
  return { ms, kb };
}

const cases = [
  ['scan (baseline: store only)', ['scan', ws]],
  ['scan + 6 pools', ['scan', ws, '--pools', pools]],
  ['gate (baseline: store only)', ['gate', '--base', base, '--head', path.join(ws, 'Cargo.lock')]],
  ['gate + 6 pools', ['gate', '--base', base, '--head', path.join(ws, 'Cargo.lock'), '--pools', pools]],
  // The whole RustSec advisory-db on top (about 1,000 advisory files read and matched).
  ...(existsSync(advisoryDb)
    ? [
        ['scan + 6 pools + advisory-db', ['scan', ws, '--pools', pools, '--advisory-db', advisoryDb]],
        [
          'gate + 6 pools + advisory-db',
          ['gate', '--base', base, '--head', path.join(ws, 'Cargo.lock'), '--pools', pools, '--advisory-db', advisoryDb],
        ],
      ]
    : []),
];
console.log(`spin: ${packages} locked packages; ${RUNS} runs each; median wall time of the whole process`);
console.log('case                          median ms   packages/s   peak RSS MiB');
for (const [name, args] of cases) {
  once(args); // warm the file cache
  const runs = Array.from({ length: RUNS }, () => once(args));
  const ms = runs.map((r) => r.ms).sort((a, b) => a - b)[Math.floor(RUNS / 2)];
  const kb = Math.max(...runs.map((r) => r.kb));
  console.log(
    `${name.padEnd(30)}${ms.toFixed(0).padStart(9)}${(packages / (ms / 1000)).toFixed(0).padStart(13)}${(kb / 1024).toFixed(1).padStart(15)}`,
  );
}
