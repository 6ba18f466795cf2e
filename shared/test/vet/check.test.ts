/**
 * checkStore: the store checks `cargo vet --locked` (0.10.3) makes before / while resolving, each
 * rule on its own (the differential test compares with the real tool's recorded errors).
 */
import { describe, expect, it } from 'vitest';
import {
  addTwelveMonths,
  checkStore,
  formatStoreProblem,
  graphFromLockfile,
  parseAuditsFile,
  parseConfigFile,
  parseImportsLock,
  parseLockfile,
  resolveVet,
  parseVetVersion,
  validVetVersion,
  type StoreCheckCode,
  type VetStore,
} from '../../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const lock = parseLockfile(
  `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["memchr 2.7.4", "memchr 2.6.0", "log"]\n` +
    `\n[[package]]\nname = "memchr"\nversion = "2.7.4"\nsource = "${CRATES}"\n` +
    `\n[[package]]\nname = "memchr"\nversion = "2.6.0"\nsource = "${CRATES}"\n` +
    `\n[[package]]\nname = "log"\nversion = "0.4.22"\nsource = "${CRATES}"\n`,
);
const graph = graphFromLockfile(lock);
const HEAD = '[cargo-vet]\nversion = "0.10"\n';
function store(config: string, audits = '', imports?: string): VetStore {
  return {
    config: parseConfigFile(config),
    audits: parseAuditsFile(audits),
    imports: imports === undefined ? undefined : parseImportsLock(imports),
  };
}
const codes = (s: VetStore, today = '2025-06-01') => checkStore(s, graph, { today }).problems.map((p) => `${p.code} ${p.subject}`);

describe('checkStore: policy keys (parse stage)', () => {
  it('mixed versioned and unversioned policy for one crate', () => {
    const r = checkStore(
      store(`${HEAD}\n[policy.log]\ncriteria = "safe-to-run"\n\n[policy."log:0.4.22"]\ncriteria = "safe-to-run"\n`),
      graph,
      { today: '2025-06-01' },
    );
    expect(r.fatal).toBe('parse');
    expect(r.reported.map((p) => p.code)).toEqual(['policy-mixed-versioning']);
  });
  it('a policy key whose version is not a version', () => {
    expect(codes(store(`${HEAD}\n[policy."log:0.4"]\ncriteria = "safe-to-run"\n`))).toContain('policy-version-invalid log:0.4');
    expect(validVetVersion('0.0.0@git:b6d42fe41e5690844a661deb631d996a2b49debc')).toBe(true);
    expect(validVetVersion('0.0.0@git:b6d42fe')).toBe(false);
    expect(validVetVersion('1.2.3')).toBe(true);
  });
  it('parseVetVersion splits a git audit into its release number and its revision', () => {
    const rev = '1f3c657c8073aec4f0b6ebac7be33b4851644745';
    expect(parseVetVersion(`0.1.5@git:${rev}`)).toEqual({ version: '0.1.5', gitRev: rev });
    expect(parseVetVersion(`0.1.5 @ git:${rev}`)).toEqual({ version: '0.1.5', gitRev: rev }); // cargo-vet trims around '@'
    expect(parseVetVersion('0.1.5')).toEqual({ version: '0.1.5' });
    expect(parseVetVersion('1.0.2+wasi-0.2.9')).toEqual({ version: '1.0.2+wasi-0.2.9' });
    for (const bad of ['0.1', `0.1.5@${rev}`, '0.1.5@git:1f3c657', `v0.1.5@git:${rev}`, 'latest'])
      expect(parseVetVersion(bad), bad).toBeUndefined();
  });
});

describe('checkStore: store version (acquire)', () => {
  it('an older store format is refused under --locked; a missing version counts as 0.4', () => {
    expect(codes(store('[cargo-vet]\nversion = "0.9"\n'))).toEqual(['store-version-outdated 0.9']);
    expect(codes(store(''))).toEqual(['store-version-outdated 0.4']);
    expect(codes(store('[cargo-vet]\nversion = "0.11"\n'))).toEqual(['store-version-newer 0.11']);
    expect(codes(store(HEAD))).toEqual([]);
  });
});

describe('checkStore: Store::validate', () => {
  it('unknown criteria in exemptions, policy (criteria, dev-criteria, dependency-criteria), implies, audits, wildcard audits', () => {
    const s = store(
      `${HEAD}\n[policy.app]\ncriteria = "c1"\ndev-criteria = "c2"\ndependency-criteria = { log = "c3" }\n\n[[exemptions.log]]\nversion = "0.4.22"\ncriteria = "c4"\n`,
      `[criteria.strong]\ndescription = "s"\nimplies = ["safe-to-deploy", "c5"]\n\n[[audits.log]]\nwho = "a"\ncriteria = "c6"\nversion = "0.4.22"\n\n[[audits.log]]\nwho = "a"\ncriteria = "c7"\nviolation = "<0.4"\n\n` +
        `[[wildcard-audits.log]]\nwho = "a"\ncriteria = "c8"\nuser-id = 1\nstart = "2024-01-01"\nend = "2025-01-01"\n\n[[trusted.log]]\ncriteria = "not-checked"\nuser-id = 1\nstart = "2024-01-01"\nend = "2025-01-01"\n`,
    );
    const r = checkStore(s, graph, { today: '2025-06-01' });
    expect(r.fatal).toBe('validate');
    expect(r.reported.map((p) => p.subject).sort()).toEqual(['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7', 'c8']);
    const c3 = r.reported.find((p) => p.subject === 'c3')!;
    expect(formatStoreProblem(c3)).toMatch(
      /^supply-chain\/config.toml, \[policy.app\], dependency-criteria.log: 'c3' is not a valid criteria name/,
    );
    expect(formatStoreProblem(r.reported.find((p) => p.subject === 'c4')!)).toMatch(
      /^supply-chain\/config.toml, \[\[exemptions.log\]\] #1, criteria:/,
    );
  });
  it('a wildcard audit ending more than 12 months after today (chrono month arithmetic)', () => {
    const w = (end: string) =>
      store(HEAD, `[[wildcard-audits.log]]\nwho = "a"\ncriteria = "safe-to-deploy"\nuser-id = 1\nstart = "2024-01-01"\nend = "${end}"\n`);
    expect(codes(w('2026-06-01'))).toEqual([]);
    expect(codes(w('2026-06-02'))).toEqual(['wildcard-end-date 2026-06-02']);
    expect(addTwelveMonths('2024-02-29')).toBe('2025-02-28');
  });
  it('imports.lock out of date: an import missing from it, one it has that config lacks, an excluded crate still in it', () => {
    const cfg = `${HEAD}\n[imports.peer]\nurl = "https://example.com/a.toml"\n`;
    expect(codes(store(cfg, '', ''))).toEqual(['imports-lock-outdated peer']);
    expect(codes(store(cfg))).toEqual(['imports-lock-outdated peer']); // no imports.lock at all
    expect(codes(store(HEAD, '', '[audits.old.audits]\n'))).toEqual(['imports-lock-outdated old']);
    const lockWithLog = '[[audits.peer.audits.log]]\nwho = "b"\ncriteria = "safe-to-deploy"\nversion = "0.4.22"\n';
    expect(codes(store(cfg, '', lockWithLog))).toEqual([]);
    expect(codes(store(`${cfg}exclude = ["log"]\n`, '', lockWithLog))).toEqual(['imports-lock-outdated log']);
  });
});

describe('checkStore: check_crate_policies (main.rs)', () => {
  it('an unversioned policy on a crate with crates.io versions: one error per version in the graph', () => {
    expect(codes(store(`${HEAD}\n[policy.memchr]\ncriteria = "safe-to-run"\n`))).toEqual([
      'policy-third-party-needs-version memchr:2.7.4',
      'policy-third-party-needs-version memchr:2.6.0',
    ]);
    // a single crates.io version is refused all the same
    expect(codes(store(`${HEAD}\n[policy.log]\ncriteria = "safe-to-run"\n`))).toEqual(['policy-third-party-needs-version log:0.4.22']);
    // first-party: fine
    expect(codes(store(`${HEAD}\n[policy.app]\ncriteria = "safe-to-run"\n`))).toEqual([]);
  });
  it('dependency-criteria on a crates.io crate needs a versioned entry for every version in use', () => {
    const s = store(`${HEAD}\n[policy."memchr:2.7.4"]\ndependency-criteria = { log = "safe-to-run" }\n`);
    expect(codes(s)).toEqual(['policy-dependency-criteria-needs-version memchr:2.6.0']);
    const both = store(
      `${HEAD}\n[policy."memchr:2.7.4"]\ndependency-criteria = { log = "safe-to-run" }\n\n[policy."memchr:2.6.0"]\ncriteria = "safe-to-run"\n`,
    );
    expect(codes(both)).toEqual([]);
    // unversioned with dependency-criteria: the more specific error only
    expect(codes(store(`${HEAD}\n[policy.log]\ndependency-criteria = { x = "safe-to-run" }\n`))).toEqual([
      'policy-dependency-criteria-needs-version log:0.4.22',
    ]);
  });
  it('policy entries for crates (or versions) not in the graph', () => {
    expect(
      codes(
        store(
          `${HEAD}\n[policy.nothere]\ncriteria = "safe-to-run"\n\n[policy."log:9.9.9"]\ncriteria = "safe-to-run"\n\n[policy."itoa:1.0.0"]\ncriteria = "safe-to-run"\n`,
        ),
      ).sort(),
    ).toEqual(['policy-unused itoa', 'policy-unused itoa:1.0.0', 'policy-unused log:9.9.9', 'policy-unused nothere']);
  });
});

describe('checkStore: what makes cargo-vet panic while resolving', () => {
  it('redefining a built-in criteria, an implies cycle', () => {
    expect(codes(store(HEAD, '[criteria.safe-to-run]\ndescription = "x"\n'))).toEqual(['criteria-shadows-builtin safe-to-run']);
    expect(
      codes(store(HEAD, '[criteria.a]\ndescription = "a"\nimplies = "b"\n\n[criteria.b]\ndescription = "b"\nimplies = "a"\n')).sort(),
    ).toEqual(['criteria-implies-itself a', 'criteria-implies-itself b']);
  });
  it('an imported audit (imports.lock) naming a criteria unknown locally, on a crate in the graph only', () => {
    const cfg = `${HEAD}\n[imports.peer]\nurl = "https://example.com/a.toml"\n`;
    const l = (crate: string) => `[[audits.peer.audits.${crate}]]\nwho = "b"\ncriteria = "peer-only"\nversion = "1.0.0"\n`;
    expect(codes(store(cfg, '', l('log')))).toEqual(['imported-criteria-unknown peer-only']);
    expect(codes(store(cfg, '', l('unrelated')))).toEqual([]);
  });
  it('a wildcard audit or local trusted entry with an unknown criteria, only when a publisher record matches', () => {
    const t = (when: string) =>
      store(
        HEAD,
        '[[trusted.log]]\ncriteria = "nope"\nuser-id = 7\nstart = "2024-01-01"\nend = "2025-01-01"\n',
        `[[publisher.log]]\nversion = "0.4.22"\nwhen = "${when}"\nuser-id = 7\n`,
      );
    expect(codes(t('2024-06-01'))).toEqual(['imported-criteria-unknown nope']);
    expect(codes(t('2025-02-01'))).toEqual([]);
  });
});

describe('resolveVet reports the store checks', () => {
  it('conclusion fail (store) with what cargo-vet would say; verdicts still given', () => {
    const r = resolveVet({ lockfile: lock, store: store(`${HEAD}\n[policy.log]\ncriteria = "safe-to-run"\n`) }, { today: '2025-06-01' });
    expect(r.conclusion).toBe('fail (store)');
    expect(r.store!.message).toBe('There are some issues with your third-party policy entries');
    expect(r.packages.length).toBe(4);
    const ok = resolveVet({ lockfile: lock, store: store(HEAD) }, { today: '2025-06-01' });
    expect(ok.conclusion).toBe('fail (vet)');
    expect(ok.store!.problems).toEqual([]);
    const off = resolveVet({ lockfile: lock, store: store('') }, { checkStore: false });
    expect(off.conclusion).toBe('fail (vet)');
  });
  it('stops at the first failing stage, as cargo-vet does', () => {
    const s = store('[cargo-vet]\nversion = "0.9"\n\n[policy.log]\ncriteria = "bogus"\n');
    const r = checkStore(s, graph, { today: '2025-06-01' });
    expect(r.fatal).toBe('version');
    expect(r.problems.map((p) => p.stage as string)).toEqual(['version', 'validate', 'policy']);
    expect(r.reported.map((p) => p.code)).toEqual<StoreCheckCode[]>(['store-version-outdated']);
  });
});

describe('checkStore: layout (validate stage, --locked only)', () => {
  const config = `${HEAD}\n[[exemptions.log]]\nversion = "0.4.22"\ncriteria = "safe-to-deploy"\n`;
  const AUDITS_TEXT = '\n# cargo-vet audits file\n\n[audits]\n'; // what cargo-vet writes for no audits
  const IMPORTS_TEXT = '\n# cargo-vet imports lock\n';
  const withText = (c: string): VetStore => ({
    ...store(c, AUDITS_TEXT, IMPORTS_TEXT),
    sources: { config: c, audits: AUDITS_TEXT, importsLock: IMPORTS_TEXT },
  });

  it('accepts files laid out as cargo vet fmt writes them (trailing whitespace aside)', () => {
    const s = withText(`\n# cargo-vet config file\n\n${config}`);
    expect(checkStore(s, graph, { today: '2025-06-01' }).problems.filter((p) => p.code === 'bad-format')).toEqual([]);
    const trailing = withText(`\n# cargo-vet config file\n\n${config}\n\n`);
    expect(checkStore(trailing, graph, { today: '2025-06-01' }).problems.filter((p) => p.code === 'bad-format')).toEqual([]);
  });

  it('refuses a hand-edited layout, naming the file, the table and the first differing line', () => {
    const edited = `\n# cargo-vet config file\n\n${config.replace('version = "0.4.22"\n', 'version   =   "0.4.22"\n')}`;
    const r = checkStore(withText(edited), graph, { today: '2025-06-01' });
    const p = r.problems.find((x) => x.code === 'bad-format')!;
    expect(p).toMatchObject({ stage: 'validate', file: 'supply-chain/config.toml', table: '[[exemptions.log]]', subject: 'line 8' });
    expect(p.message).toMatch(/^A file in the store is not correctly formatted: supply-chain\/config.toml line 8 /);
    expect(p.message).toContain('cargo vet fmt writes "version = \\"0.4.22\\""');
    expect(r.fatal).toBe('validate');
  });

  it('is not checked when the text is not known', () => {
    expect(
      codes(store(`${HEAD}\n[[exemptions.log]]\nversion = "0.4.22"\ncriteria = "safe-to-deploy"\n`)).filter((c) =>
        c.startsWith('bad-format'),
      ),
    ).toEqual([]);
  });
});

describe('build metadata in a policy key (cargo-vet: semver::Version keeps +build, and its equality includes it)', () => {
  const wasiLock = parseLockfile(
    `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["wasi"]\n` +
      `\n[[package]]\nname = "wasi"\nversion = "0.11.1+wasi-snapshot-preview1"\nsource = "${CRATES}"\n`,
  );
  const wasiGraph = graphFromLockfile(wasiLock);
  const withPolicy = (key: string) => store(`${HEAD}\n[policy.${key}]\ncriteria = "safe-to-run"\n`);
  const wasi = (s: VetStore) =>
    resolveVet({ graph: wasiGraph, store: s }, { today: '2025-06-01' }).packages.find((p) => p.name === 'wasi')!;

  it('[policy."wasi:0.11.1+wasi-snapshot-preview1"] is a valid key and applies to that locked version', () => {
    const s = withPolicy('"wasi:0.11.1+wasi-snapshot-preview1"');
    expect(validVetVersion('0.11.1+wasi-snapshot-preview1')).toBe(true);
    expect(checkStore(s, wasiGraph, { today: '2025-06-01' }).problems).toEqual([]);
    expect(wasi(s).required).toEqual(['safe-to-run']); // the policy's criteria replace safe-to-deploy
  });

  it('matching includes the build metadata: wasi:0.11.1 or another +build names no locked version', () => {
    for (const key of ['"wasi:0.11.1"', '"wasi:0.11.1+other"']) {
      const s = withPolicy(key);
      expect(checkStore(s, wasiGraph, { today: '2025-06-01' }).problems.map((p) => `${p.code} ${p.subject}`)).toEqual([
        `policy-unused ${key.slice(1, -1)}`,
      ]);
      expect(wasi(s).required).toEqual(['safe-to-deploy']);
    }
  });
});
