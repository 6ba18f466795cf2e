/**
 * Differential test against the real cargo-vet: each folder under fixtures/differential/ is a tiny
 * real workspace (crates.io dependencies) with a cargo-vet store, and the JSON that
 * `cargo vet --locked` and `cargo vet suggest --locked` printed for it (see record.sh and the
 * README.md there for the version and how to re-record). Our resolver must reach the same verdicts
 * from the same `cargo metadata`; from the Cargo.lock alone it must name the verdicts that hang on
 * dependency kinds.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dataDir, hasData } from './data.js';
import {
  checkLayout,
  graphFromCargoMetadata,
  parseAuditsFile,
  parseConfigFile,
  parseImportsLock,
  parseLockfile,
  readStore,
  resolveVet,
  serializeAuditsFile,
  serializeConfigFile,
  serializeImportsLock,
  userInfoOf,
  type PackageVerdict,
  type StoreProblem,
  type VetReport,
  type VetStore,
} from '../../src/index.js';

const root = new URL('./fixtures/differential/', import.meta.url);
/**
 * Real workspaces of ../shared/data (fixtures/differential-real/: reconstructed manifests, the
 * recorded metadata and cargo-vet output); their Cargo.lock and supply-chain/ are read from the data.
 */
const realRoot = new URL('./fixtures/differential-real/', import.meta.url);
const real = hasData ? readdirSync(realRoot).filter((n) => existsSync(new URL(`${n}/vet.json`, realRoot))) : [];
const read = (name: string, file: string) => {
  if (!real.includes(name)) return readFileSync(new URL(`${name}/${file}`, root), 'utf8');
  const recorded = new URL(`${name}/${file}`, realRoot);
  return readFileSync(existsSync(recorded) ? recorded : path.join(dataDir, 'projects', name, file), 'utf8');
};
const fixtures = readdirSync(root).filter((n) => existsSync(new URL(`${n}/vet.json`, root)));
/** record.sh's --current-time: cargo-vet's "today" for wildcard end dates. */
const todayOf = (name: string) => (real.includes(name) ? '2026-12-01' : '2025-06-01');

interface CargoVetError {
  message: string;
  causes: string[];
  filename?: string;
  related: CargoVetError[];
}
interface VetJson {
  /** cargo-vet refused the store (or panicked): its error, printed as JSON under --output-format=json. */
  error?: CargoVetError;
  conclusion: 'success' | 'fail (vetting)' | 'fail (violation)';
  vetted_fully?: { name: string; version: string }[];
  vetted_partially?: { name: string; version: string }[];
  vetted_with_exemptions?: { name: string; version: string }[];
  failures?: { name: string; version: string; missing_criteria: string[] }[];
  violations?: Record<string, unknown[]>;
  suggest?: {
    suggestions: { name: string; suggested_criteria: string[]; suggested_diff: { from: string | null; to: string } }[];
  };
}

function storeOf(name: string): VetStore {
  const config = read(name, 'supply-chain/config.toml');
  const audits = read(name, 'supply-chain/audits.toml');
  const importsLock = read(name, 'supply-chain/imports.lock');
  return {
    config: parseConfigFile(config, `${name}/config.toml`),
    audits: parseAuditsFile(audits, `${name}/audits.toml`),
    imports: parseImportsLock(importsLock, `${name}/imports.lock`),
    sources: { config, audits, importsLock }, // so the layout check runs on what cargo-vet accepted
  };
}

/** cargo-vet's error, one comparable line per problem (policy lists are split per package). */
function theirLines(e: CargoVetError): string[] {
  if (e.message === 'cargo vet panicked') return [`panic: ${e.causes[0]}`];
  if (e.related.length === 0) return [e.message];
  return e.related.flatMap((r) => {
    const [head, ...items] = r.message.split('\n');
    // BadFormat: its message is followed by a unified diff of the file (`--- old/<file>`)
    if (head!.startsWith('A file in the store is not correctly formatted')) return [`${head} ${/^--- old\/(\S+)/m.exec(r.message)![1]}`];
    return items.length ? items.map((i) => `${head} | ${i.trim()}`) : [`${r.filename ? `${r.filename}: ` : ''}${head}`];
  });
}
const PANIC_CAUSE: Record<string, string> = {
  'criteria-shadows-builtin': 'Cannot specify multiple criteria with the name',
  'criteria-implies-itself': 'implies itself',
  'imported-criteria-unknown': 'no entry found for key',
};
/** Ours, in the same shape. */
function ourLine(p: StoreProblem, all: StoreProblem[]): string {
  const file = p.file.replace('supply-chain/', '');
  switch (p.code) {
    case 'invalid-criteria':
      return `${file}: '${p.subject}' is not a valid criteria name`;
    case 'bad-format':
      return `A file in the store is not correctly formatted: ${file}`;
    case 'wildcard-end-date':
      return `${file}: '${p.subject}' is more than a year in the future`;
    case 'imports-lock-outdated':
      return 'imports.lock is out-of-date with respect to configuration';
    case 'store-version-outdated':
      return `The supply-chain store was created with an incompatible version of cargo-vet (${p.subject})`;
    case 'store-version-newer':
      return `The supply-chain store was created with a newer version of cargo-vet (${p.subject})`;
    case 'policy-dependency-criteria-needs-version':
      return `some crates have policies that are missing an associated version | ${p.subject}`;
    case 'policy-unused':
      return `some versioned policy entries don't correspond to crates being used | ${p.subject}`;
    case 'policy-third-party-needs-version':
      return `some crates have unversioned policies that must be versioned | ${p.subject}`;
    default:
      return p.code in PANIC_CAUSE ? `panic: ${PANIC_CAUSE[p.code]}` : `${p.code} (${all.length})`;
  }
}

const key = (p: { name: string; version?: string; vetVersion?: string }) => `${p.name}:${p.vetVersion ?? p.version}`;
const thirdParty = (r: VetReport) => r.packages.filter((p) => p.thirdParty);
const byKey = (ps: PackageVerdict[]) => new Map(ps.map((p) => [key(p), p]));

describe('differential: our resolver vs the recorded output of the real cargo-vet', () => {
  it('has the recorded fixtures', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(4);
  });

  it('has recorded fixtures where cargo-vet refuses the store', () => {
    expect(fixtures.filter((n) => (JSON.parse(read(n, 'vet.json')) as VetJson).error).length).toBeGreaterThanOrEqual(3);
  });

  it('has the real libprio-rs workspace recorded (when ../shared/data is there)', () => {
    if (hasData) expect(real).toContain('libprio-rs');
  });

  for (const name of [...fixtures, ...real]) {
    const TODAY = todayOf(name);
    const vet = JSON.parse(read(name, 'vet.json')) as VetJson;
    // cargo vet suggest is recorded for the small fixtures only
    const suggest = real.includes(name) ? undefined : (JSON.parse(read(name, 'suggest.json')) as VetJson);
    const report = resolveVet(
      { graph: graphFromCargoMetadata(JSON.parse(read(name, 'metadata.json'))), store: storeOf(name) },
      { today: TODAY },
    );

    if (vet.error) {
      const error = vet.error;
      it(`${name}: cargo-vet refuses the store ("${error.message.slice(0, 60)}"); ours reports the same errors`, () => {
        expect(report.conclusion).toBe('fail (store)');
        const c = report.store!;
        expect(error.message.startsWith(c.message!)).toBe(true);
        const theirs = theirLines(error)
          .map((l) => (l.startsWith('panic: ') ? l : l))
          .sort();
        const ours = c.reported.map((p) => ourLine(p, c.reported)).sort();
        if (error.message === 'cargo vet panicked') {
          expect(ours).toHaveLength(1);
          expect(theirs[0]).toContain(ours[0]!.slice('panic: '.length));
        } else expect(ours).toEqual(theirs);
        // every problem names its file and table
        for (const p of c.problems) expect(p.table).toMatch(/^\[/);
      });
      if (existsSync(new URL(`${name}/formatted/`, root))) {
        it(`${name}: our writers write the store exactly as cargo vet fmt rewrote it, and that passes the format check`, () => {
          const store = storeOf(name);
          const fmt = (f: string) => read(name, `formatted/${f}`);
          expect(serializeConfigFile(store.config)).toBe(fmt('config.toml'));
          expect(serializeAuditsFile(store.audits, userInfoOf(store.imports))).toBe(fmt('audits.toml'));
          expect(serializeImportsLock(store.imports!)).toBe(fmt('imports.lock'));
          const formatted = readStore({ config: fmt('config.toml'), audits: fmt('audits.toml'), importsLock: fmt('imports.lock') }, '');
          expect(checkLayout(formatted)).toEqual([]);
        });
      }
      if (suggest)
        it(`${name}: cargo vet suggest refuses it too, except for policy-stage errors (it skips check_crate_policies)`, () => {
          if (report.store!.fatal === 'policy') expect(suggest.error).toBeUndefined();
          else expect(suggest.error?.message).toBe(error.message);
        });
      continue;
    }

    it(`${name}: a store cargo-vet accepts passes our store checks`, () => {
      expect(report.store?.problems).toEqual([]);
    });

    it(`${name}: same conclusion (${vet.conclusion}) and the same packages failing for the same criteria`, () => {
      expect(report.conclusion).toBe(vet.conclusion === 'fail (vetting)' ? 'fail (vet)' : vet.conclusion);
      if (vet.conclusion === 'fail (vetting)') {
        const ours = Object.fromEntries(
          thirdParty(report)
            .filter((p) => p.status === 'unvetted')
            .map((p) => [key(p), [...p.missing].sort()]),
        );
        const theirs = Object.fromEntries(vet.failures!.map((f) => [key(f), [...f.missing_criteria].sort()]));
        expect(ours).toEqual(theirs);
      }
      if (vet.conclusion === 'fail (violation)') {
        const ours = thirdParty(report)
          .filter((p) => p.status === 'violation')
          .map(key)
          .sort();
        expect(ours).toEqual(Object.keys(vet.violations!).sort());
        // one conflict reported per (violation, audit) pair, as cargo-vet lists them
        for (const [k, list] of Object.entries(vet.violations!)) {
          expect(report.packages.find((p) => key(p) === k)!.violations).toHaveLength(list.length);
        }
      }
      if (vet.conclusion === 'success') {
        const ours = byKey(thirdParty(report));
        const fully = vet.vetted_fully!.map(key).sort();
        const exempted = [...vet.vetted_partially!, ...vet.vetted_with_exemptions!].map(key).sort();
        expect(
          [...ours.values()]
            .filter((p) => p.status === 'vetted' || p.status === 'not-required')
            .map(key)
            .sort(),
        ).toEqual(fully);
        expect(
          [...ours.values()]
            .filter((p) => p.status === 'exempted')
            .map(key)
            .sort(),
        ).toEqual(exempted);
      }
    });

    if (vet.conclusion === 'fail (vetting)') {
      it(`${name}: every package cargo-vet did not list as failing is vetted or exempted by ours`, () => {
        const failing = new Set(vet.failures!.map(key));
        for (const p of thirdParty(report)) if (!failing.has(key(p))) expect(['vetted', 'exempted', 'not-required']).toContain(p.status);
      });
    }

    if (suggest)
      it(`${name}: the same packages need an audit as cargo vet suggest says (unvetted, or vetted only through exemptions)`, () => {
        // `cargo vet suggest` judges without the exemptions it may drop (suggest != false).
        if (suggest.conclusion !== 'fail (vetting)') {
          expect(suggest.conclusion).toBe(vet.conclusion);
          return;
        }
        const ours = Object.fromEntries(
          thirdParty(report)
            .filter((p) => p.status === 'unvetted' || p.status === 'exempted')
            .map((p) => [key(p), [...(p.status === 'unvetted' ? p.missing : p.required)].sort()]),
        );
        expect(ours).toEqual(Object.fromEntries(suggest.failures!.map((f) => [key(f), [...f.missing_criteria].sort()])));
      });

    // cargo-vet sizes candidate diffs from the crates' sources (record.sh puts them in its cache);
    // a recording made without them has an empty suggestion list, and only the above is compared.
    if (suggest?.suggest && suggest.suggest.suggestions.length > 0) {
      it(`${name}: the same audits suggested as cargo vet suggest (criteria, and from -> to)`, () => {
        const theirs = suggest.suggest!.suggestions.map((s) => ({
          name: s.name,
          criteria: [...s.suggested_criteria].sort(),
          from: s.suggested_diff.from,
          to: s.suggested_diff.to,
        }));
        const ours = thirdParty(report)
          .filter((p) => p.suggestion)
          .map((p) => ({
            name: p.name,
            criteria: [...p.suggestion!.criteria].sort(),
            from: p.suggestion!.from ?? null,
            to: p.suggestion!.to,
          }));
        const sort = (l: { name: string; to: string }[]) => [...l].sort((a, b) => `${a.name}:${a.to}`.localeCompare(`${b.name}:${b.to}`));
        expect(sort(ours)).toEqual(sort(theirs));
      });
    }

    it(`${name}: from the Cargo.lock alone, every verdict that differs from the metadata one is named as kind-dependent`, () => {
      const fromLock = resolveVet({ lockfile: parseLockfile(read(name, 'Cargo.lock')), store: storeOf(name) }, { today: TODAY });
      expect(fromLock.kindsKnown).toBe(false);
      const exact = byKey(thirdParty(report));
      const differing: string[] = [];
      for (const p of thirdParty(fromLock)) {
        const truth = exact.get(key(p))!;
        const same = (truth.status === 'not-required' ? 'vetted' : truth.status) === (p.status === 'not-required' ? 'vetted' : p.status);
        if (!same) {
          differing.push(key(p));
          expect(p.kindDependent, `${key(p)}: ${p.status} from Cargo.lock, ${truth.status} from metadata`).toBeDefined();
        }
      }
      expect(fromLock.summary.kindDependent).toBeGreaterThanOrEqual(differing.length);
    });
  }
});
