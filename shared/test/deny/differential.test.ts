/**
 * Differential test against the real cargo-deny: for each folder of fixtures/differential/ (a real
 * workspace of ../shared/data, and a synthetic one with git sources), record.sh saved the stripped
 * `cargo metadata` and what `cargo deny check bans licenses sources` said (deny.jsonl). Our checks on
 * the same Cargo.lock, metadata and deny.toml must give the same errors, and the same warnings for
 * every diagnostic kind cratewatch implements.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkDeny, denyFails, denyPackages, parseDenyConfig, parseLockfile, type DenyFinding } from '../../src/index.js';
import { dataDir, hasData } from '../vet/data.js';

const root = new URL('./fixtures/differential/', import.meta.url);
const fixtures = readdirSync(root).filter((n) => existsSync(new URL(`${n}/deny.jsonl`, root)));

/** cargo-deny's diagnostics that cratewatch does not give, and why (they are not verdicts). */
const NOT_OURS: Record<string, string> = {
  'no-license-field': 'cargo-deny says it before falling back to license files; ours is the unlicensed error',
  'banned-allowed-by-wrapper': 'a note',
  skipped: 'a note',
  'allowed-source': 'a note',
  'allowed-by-organization': 'a note',
  accepted: 'a note',
};

interface Diag {
  type: string;
  fields: { code?: string; severity: string; message: string; graphs?: { Krate?: { name: string; version: string } }[] };
}

/** One line per verdict: `error duplicate syn@2.0.114,3.0.3`, `warning license-not-encountered -`. */
function theirs(jsonl: string): string[] {
  const out: string[] = [];
  for (const line of jsonl.split('\n').filter((l) => l.startsWith('{'))) {
    const d = JSON.parse(line) as Diag;
    if (d.type !== 'diagnostic' || !d.fields.code || d.fields.code in NOT_OURS) continue;
    if (d.fields.severity !== 'error' && d.fields.severity !== 'warning') continue;
    // cargo-deny says `unlicensed` twice, a warning (no expression could be found) before its error.
    if (d.fields.code === 'unlicensed' && d.fields.severity === 'warning') continue;
    const krates = (d.fields.graphs ?? []).map((g) => g.Krate).filter((k) => k !== undefined);
    const who =
      krates.length === 0
        ? '-'
        : d.fields.code === 'duplicate'
          ? `${krates[0]!.name}@${krates.map((k) => k.version).join(',')}`
          : `${krates[0]!.name}@${krates[0]!.version}`;
    out.push(`${d.fields.severity} ${d.fields.code} ${who}`);
  }
  return out.sort();
}

function ours(findings: DenyFinding[]): string[] {
  return findings
    .map((f) => {
      const who = !f.package ? '-' : f.versions ? `${f.package.name}@${f.versions.join(',')}` : `${f.package.name}@${f.package.version}`;
      return `${f.level === 'deny' ? 'error' : 'warning'} ${f.code} ${who}`;
    })
    .sort();
}

function lockOf(name: string): string | undefined {
  const own = new URL(`${name}/Cargo.lock`, root);
  if (existsSync(own)) return readFileSync(own, 'utf8');
  const shared = path.join(dataDir, 'projects', name, 'Cargo.lock');
  return hasData && existsSync(shared) ? readFileSync(shared, 'utf8') : undefined;
}

describe.each(fixtures)('%s: the same verdicts as cargo-deny', (name) => {
  const read = (f: string) => readFileSync(new URL(`${name}/${f}`, root), 'utf8');
  const lock = lockOf(name);
  it.skipIf(lock === undefined)('gives the same errors and warnings, and the same exit', () => {
    const lockfile = parseLockfile(lock!, `${name}/Cargo.lock`);
    const pkgs = denyPackages(lockfile, {
      value: JSON.parse(read('metadata.json')),
      file: `${name}/metadata.json`,
      lockPath: `${name}/Cargo.lock`,
    });
    const report = checkDeny(pkgs, parseDenyConfig(read('deny.toml'), `${name}/deny.toml`));
    expect(ours(report.findings)).toEqual(theirs(read('deny.jsonl')));
    expect(denyFails(report)).toBe(read('deny.exit').trim() !== '0');
  });
});
