#!/usr/bin/env node
/**
 * Parsing every RustSec advisory and matching them against every shared lockfile, as whole
 * processes, side by side with a baseline process that does the same file reads and module loading
 * but no parsing or matching. Prints median wall time, the ratio to the baseline, peak RSS, and the
 * in-process parse/match split that advisory-hits.mjs reports.
 *
 *   npm run build && node bench/advisories.mjs        (RUNS=n, default 7)
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const runs = Number(process.env.RUNS ?? 7);
if (!existsSync(resolve(here, '../../shared/data/rustsec'))) {
  console.error('advisories bench: needs ../shared/data');
  process.exit(2);
}
const hasTime = existsSync('/usr/bin/time');

function run(args) {
  const start = process.hrtime.bigint();
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { encoding: 'utf8' })
    : spawnSync(process.execPath, args, { encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  const rssKiB = hasTime ? Number(r.stderr.trim().split('\n').pop()) : NaN;
  return { ms, stdout: r.stdout, rssKiB };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const full = [];
const base = [];
let summary;
for (let i = 0; i < runs; i++) {
  // interleaved, so both see the same machine state
  base.push(run([join(here, 'advisories-baseline.mjs')]));
  const r = run([join(here, 'advisory-hits.mjs'), '--no-write']);
  summary = JSON.parse(r.stdout.trim().split('\n').pop());
  full.push(r);
}
const f = median(full.map((r) => r.ms));
const b = median(base.map((r) => r.ms));
console.log(
  JSON.stringify({
    runs,
    advisories: summary.advisories,
    lockfiles: summary.lockfiles,
    lockedPackages: summary.lockedPackages,
    hits: summary.hits,
    parseAndMatch: { medianMs: Math.round(f), peakRssMiB: Math.round(median(full.map((r) => r.rssKiB)) / 1024) },
    baselineReadOnly: { medianMs: Math.round(b), peakRssMiB: Math.round(median(base.map((r) => r.rssKiB)) / 1024) },
    ratio: +(f / b).toFixed(2),
    inProcessLastRun: { advisoryParseMs: summary.parseMs, lockfileParseMs: summary.lockfileParseMs, matchMs: summary.matchMs },
  }),
);
