#!/usr/bin/env node
/** Baseline for bench/advisories.mjs: the same module loading and file reads, no parsing or matching. */
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import '../shared/dist/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const db = resolve(here, '../../shared/data/rustsec');
const projects = resolve(here, '../../shared/data/projects');
let bytes = 0;
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith('.md')) bytes += readFileSync(p, 'utf8').length;
  }
};
for (const top of ['crates', 'rust']) walk(join(db, top));
for (const p of readdirSync(projects))
  if (existsSync(join(projects, p, 'Cargo.lock'))) bytes += readFileSync(join(projects, p, 'Cargo.lock'), 'utf8').length;
console.log(JSON.stringify({ bytes }));
