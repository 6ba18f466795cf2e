#!/usr/bin/env node
/**
 * Every (lockfile, advisory, version) hit over all advisories of an advisory-db and all lockfiles
 * under a projects folder, written as TSV (sorted, so two runs diff cleanly).
 *
 *   node bench/advisory-hits.mjs [--db ../shared/data/rustsec] [--projects ../shared/data/projects] [--out bench/out/advisory-hits.tsv]
 *
 * Prints how long parsing and matching took. Needs `npm run build` first (reads shared/dist).
 */
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseAdvisory, parseLockfile, matchLockfile } from '../shared/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    db: { type: 'string', default: resolve(here, '../../shared/data/rustsec') },
    projects: { type: 'string', default: resolve(here, '../../shared/data/projects') },
    out: { type: 'string', default: resolve(here, 'out/advisory-hits.tsv') },
    'no-write': { type: 'boolean', default: false },
  },
});
for (const d of [values.db, values.projects]) {
  if (!existsSync(d)) {
    console.error(`advisory-hits: ${d} does not exist (the shared data set is needed)`);
    process.exit(2);
  }
}

const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.md')) files.push(p);
  }
};
for (const top of ['crates', 'rust']) if (existsSync(join(values.db, top))) walk(join(values.db, top));

const t0 = process.hrtime.bigint();
const advisories = [];
const refused = [];
for (const f of files.sort()) {
  try {
    advisories.push(parseAdvisory(readFileSync(f, 'utf8'), relative(values.db, f)));
  } catch (err) {
    refused.push(err.message);
  }
}
const t1 = process.hrtime.bigint();
let locked = 0;
const projects = readdirSync(values.projects).filter((p) => !p.startsWith('.') && statSync(join(values.projects, p)).isDirectory());
const locks = [];
for (const p of projects.sort()) {
  const lockPath = join(values.projects, p, 'Cargo.lock');
  if (!existsSync(lockPath)) continue;
  const lock = parseLockfile(readFileSync(lockPath, 'utf8'), lockPath);
  locked += lock.packages.length;
  locks.push([p, lock]);
}
const t2 = process.hrtime.bigint();
const rows = [];
for (const [p, lock] of locks) {
  for (const h of matchLockfile(advisories, lock)) {
    rows.push([p, h.advisory.id, h.package.name, h.package.version, h.advisory.informational ?? 'vulnerability'].join('\t'));
  }
}
const t3 = process.hrtime.bigint();
rows.sort();
if (!values['no-write']) {
  mkdirSync(dirname(values.out), { recursive: true });
  writeFileSync(values.out, ['lockfile\tadvisory\tcrate\tversion\tkind', ...rows].join('\n') + '\n');
}
const ms = (a, b) => Number(b - a) / 1e6;
console.log(
  JSON.stringify({
    advisories: advisories.length,
    refused: refused.length,
    lockfiles: projects.length,
    lockedPackages: locked,
    hits: rows.length,
    parseMs: +ms(t0, t1).toFixed(1),
    lockfileParseMs: +ms(t1, t2).toFixed(1),
    matchMs: +ms(t2, t3).toFixed(1),
    out: values['no-write'] ? null : values.out,
  }),
);
for (const r of refused) console.error(`refused: ${r}`);
