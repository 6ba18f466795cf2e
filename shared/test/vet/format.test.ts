import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FormatError,
  parseAuditsFile,
  parseConfigFile,
  parseImportsLock,
  serializeAuditsFile,
  serializeConfigFile,
  serializeImportsLock,
  userInfoOf,
} from '../../src/index.js';
import { dataDir, hasData, POOLS, PROJECTS } from './data.js';

describe('cargo-vet store formats', () => {
  it('reads every field of audits.toml', () => {
    const a = parseAuditsFile(`
# cargo-vet audits file

[criteria.crypto-safe]
description = "reviewed by a crypto expert"
implies = ["safe-to-run", "no-ub"]

[[wildcard-audits.foo]]
who = "A <a@x>"
criteria = "safe-to-deploy"
user-id = 12 # Alice (alice)
start = "2020-01-01"
end = "2024-01-01"
renew = false

[[audits.foo]]
who = ["A", "B"]
criteria = ["safe-to-deploy", "crypto-safe"]
delta = "1.0.0 -> 1.1.0"
importable = false

[[audits.foo]]
criteria = "safe-to-run"
violation = ">=2.0.0, <2.1"
notes = "bad"

[[trusted.bar]]
criteria = "safe-to-deploy"
trusted-publisher = "github:o/r"
start = "2020-01-01"
end = "2030-01-01"
`);
    expect(a.criteria.get('crypto-safe')!.implies).toEqual(['safe-to-run', 'no-ub']);
    const w = a.wildcardAudits.get('foo')![0]!;
    expect([w.userId, w.renew, w.userIdComment, w.end]).toEqual([12, false, 'Alice (alice)', '2024-01-01']);
    const [d, v] = a.audits.get('foo')!;
    expect(d!.delta).toEqual({ from: '1.0.0', to: '1.1.0' });
    expect(d!.who).toEqual(['A', 'B']);
    expect(d!.importable).toBe(false);
    expect(v!.violation).toBe('>=2.0.0, <2.1');
    expect(a.trusted.get('bar')![0]!.trustedPublisher).toBe('github:o/r');
  });

  it('reads config.toml with imports, versioned policy, exemptions', () => {
    const c = parseConfigFile(`
default-criteria = "safe-to-run"

[cargo-vet]
version = "0.10"

[imports.google]
url = ["https://a", "https://b"]
exclude = ["zzz"]

[imports.google.criteria-map]
ub-risk-2 = "my-ub"

[policy.app]
criteria = ["safe-to-deploy", "my-ub"]
dev-criteria = "safe-to-run"
dependency-criteria = { foo = "my-ub" }

[policy."git-crate:1.0.0@git:abc"]
audit-as-crates-io = true

[[exemptions.foo]]
version = "1.0.0"
criteria = "safe-to-run"
suggest = false
`);
    expect(c.defaultCriteria).toBe('safe-to-run');
    expect(c.imports.get('google')!.criteriaMap.get('ub-risk-2')).toEqual(['my-ub']);
    expect(c.imports.get('google')!.exclude).toEqual(['zzz']);
    expect(c.policy.get('app')!.dependencyCriteria.get('foo')).toEqual(['my-ub']);
    expect(c.policy.get('git-crate:1.0.0@git:abc')!.auditAsCratesIo).toBe(true);
    expect(c.exemptions.get('foo')![0]!.suggest).toBe(false);
    // and writes it back the way cargo-vet does
    expect(serializeConfigFile(parseConfigFile(serializeConfigFile(c)))).toBe(serializeConfigFile(c));
    expect(serializeConfigFile(c)).toContain('dependency-criteria = { foo = "my-ub" }\n');
  });

  it('errors name the file, table and key', () => {
    expect(() =>
      parseAuditsFile('[[audits.foo]]\ncriteria = "safe-to-run"\nversion = "1.0.0"\ndelta = "1.0.0 -> 1.1.0"\n', 'x/audits.toml'),
    ).toThrow(/x\/audits.toml, field `audits.foo\[0\]`: expected exactly one of/);
    expect(() => parseConfigFile('[[exemptions.foo]]\ncriteria = "safe-to-run"\n', 'c.toml')).toThrow(
      /field `exemptions.foo\[0\].version`: missing/,
    );
    expect(() => parseImportsLock('[[publisher.foo]]\nversion = "1.0.0"\nwhen = 3\n', 'i.lock')).toThrow(FormatError);
    expect(() => parseAuditsFile('[[audits.foo]]\ncriteria = "x"\nversion = "1"\nfrobnicate = 1\n')).toThrow(
      /audits.foo\[0\].frobnicate`: unknown key/,
    );
    expect(() => parseAuditsFile('[[audits.foo]\n', 'bad.toml')).toThrow(/bad.toml, line 1: not valid TOML/);
  });

  it('accepts a criteria without description, as cargo-vet 0.10.3 does', () => {
    const a = parseAuditsFile('[criteria.reviewed]\nimplies = "safe-to-run"\n', 'a.toml');
    expect(a.criteria.get('reviewed')).toMatchObject({ implies: ['safe-to-run'] });
  });
});

describe.skipIf(!hasData)('round trip on the real stores and pools', () => {
  for (const p of PROJECTS) {
    const dir = path.join(dataDir, 'projects', p, 'supply-chain');
    it(`${p}: config.toml, audits.toml, imports.lock are written back byte for byte`, () => {
      const read = (f: string) => readFileSync(path.join(dir, f), 'utf8');
      expect(serializeConfigFile(parseConfigFile(read('config.toml')))).toBe(read('config.toml'));
      // user-id comments come from imports.lock's publisher records, as cargo-vet writes them
      const users = userInfoOf(parseImportsLock(read('imports.lock')));
      expect(serializeAuditsFile(parseAuditsFile(read('audits.toml')), users)).toBe(read('audits.toml'));
      expect(serializeImportsLock(parseImportsLock(read('imports.lock')))).toBe(read('imports.lock'));
    });
  }
  // The pools are not checked by `cargo vet --locked`, and only some are written by `cargo vet fmt`:
  // those come back byte for byte; the others are rewritten the way cargo vet fmt would write them.
  const WRITTEN_BY_CARGO_VET_FMT = ['bytecode-alliance', 'isrg'];
  const NOT: Record<string, string> = {
    zcash: 'no heading',
    google: 'quotes escaped by an older toml_edit',
    mozilla: 'an aggregate (cargo vet aggregate does not sort) with older quoting',
    embark: 'maintained by hand: section comments, entries out of order',
  };
  for (const pool of POOLS) {
    it(`pool ${pool}: ${WRITTEN_BY_CARGO_VET_FMT.includes(pool) ? 'written back byte for byte' : `rewritten as cargo vet fmt would (${NOT[pool]}), the same records`}`, () => {
      const text = readFileSync(path.join(dataDir, 'audit-pools', `${pool}.audits.toml`), 'utf8');
      const a = parseAuditsFile(text);
      const out = serializeAuditsFile(a);
      if (WRITTEN_BY_CARGO_VET_FMT.includes(pool)) {
        expect(out).toBe(text);
        return;
      }
      expect(out).not.toBe(text);
      const back = parseAuditsFile(out);
      expect(serializeAuditsFile(back)).toBe(out); // a fixed point
      const sorted = (m: Map<string, unknown[]>) =>
        new Map([...m].filter(([, l]) => l.length).map(([k, l]) => [k, [...l].map((e) => JSON.stringify(e)).sort()]));
      for (const t of ['audits', 'wildcardAudits', 'trusted'] as const) expect(sorted(back[t])).toEqual(sorted(a[t]));
      expect(back.criteria).toEqual(a.criteria);
    });
  }
});
