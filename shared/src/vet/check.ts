/**
 * The checks `cargo vet --locked` (0.10.3) makes on a store before (and while) resolving, that end
 * the run with an error instead of a list of unvetted packages. Pure: store and graph in, problems
 * out. Each problem names file, table and key, and the cargo-vet source it mirrors.
 *
 * cargo-vet runs them in stages and stops at the first stage that fails (so it never reports a
 * later stage's problems with an earlier one's); `checkStore` reports every problem, each with its
 * `stage`, and `fatal` is the stage cargo-vet stops at, with `reported` what it prints then.
 *
 *   parse     load_toml of config.toml (serialization.rs:224-262, policy keys)
 *   version   Store::acquire_offline (storage.rs:199-207): `[cargo-vet] version` against 0.10
 *   validate  Store::validate(today, check_file_formatting = --locked) (storage.rs:530-707)
 *   policy    check_crate_policies (main.rs:3263-3371), run by cmd_check before resolving
 *   panic     CriteriaMapper::new / criteria_from_list while resolving (criteria.rs:50, :88, :117):
 *             cargo-vet panics ("cargo vet panicked", exit 101) instead of reporting
 *
 * Not run under --locked (so not here): check_audit_as_crates_io (main.rs:2183, only unlocked),
 * criteria-map targets (only used when fetching imports, storage.rs:1056-1076). The format check
 * (BadFormat) needs the files' text (`VetStore.sources`).
 */
import { isSemVer } from '../rustsemver.js';
import {
  SAFE_TO_DEPLOY,
  SAFE_TO_RUN,
  policyKey,
  serializeAuditsFile,
  serializeConfigFile,
  serializeImportsLock,
  userInfoOf,
  type AuditsFile,
  type ConfigFile,
  type PublisherEntry,
} from './format.js';
import type { DepGraph } from './graph.js';
import type { VetStore } from './resolver.js';

export type StoreCheckStage = 'parse' | 'version' | 'validate' | 'policy' | 'panic';

export type StoreCheckCode =
  | 'bad-format'
  | 'policy-version-invalid'
  | 'policy-mixed-versioning'
  | 'store-version-invalid'
  | 'store-version-outdated'
  | 'store-version-newer'
  | 'invalid-criteria'
  | 'wildcard-end-date'
  | 'imports-lock-outdated'
  | 'policy-dependency-criteria-needs-version'
  | 'policy-unused'
  | 'policy-third-party-needs-version'
  | 'criteria-shadows-builtin'
  | 'criteria-implies-itself'
  /** An import's audit (imports.lock) or a local trusted entry naming a criteria not defined locally. */
  | 'imported-criteria-unknown';

export interface StoreProblem {
  code: StoreCheckCode;
  stage: StoreCheckStage;
  file: 'supply-chain/config.toml' | 'supply-chain/audits.toml' | 'supply-chain/imports.lock';
  /** The table as written, e.g. `[policy.memchr]`, `[[exemptions.cfg-if]] #1`. */
  table: string;
  key?: string;
  /** What cargo-vet names: `crate`, `crate:version`, a criteria name, a date. */
  subject: string;
  message: string;
  /** The cargo-vet 0.10.3 code it mirrors. */
  source: string;
}

export interface StoreCheckResult {
  problems: StoreProblem[];
  /** The first stage with a problem: where cargo-vet stops. */
  fatal?: StoreCheckStage;
  /** The problems of that stage: what cargo-vet reports. */
  reported: StoreProblem[];
  /** cargo-vet's top-level message for that stage. */
  message?: string;
}

export interface StoreCheckOptions {
  /** cargo-vet's "today" (YYYY-MM-DD, `--current-time`), for wildcard `end` dates. Default: now (UTC). */
  today?: string;
  /** The store format of the emulated cargo-vet (`major.minor`). Default 0.10 (cargo-vet 0.10.3). */
  storeVersion?: string;
}

const CONFIG = 'supply-chain/config.toml' as const;
const AUDITS = 'supply-chain/audits.toml' as const;
const IMPORTS = 'supply-chain/imports.lock' as const;
const CRATES_IO = ['registry+https://github.com/rust-lang/crates.io-index', 'sparse+https://index.crates.io/'];
const STAGES: StoreCheckStage[] = ['parse', 'version', 'validate', 'policy', 'panic'];
const STAGE_MESSAGE: Record<StoreCheckStage, string> = {
  parse: 'Failed to parse toml file (config.toml)',
  version: 'The supply-chain store was created with an incompatible version of cargo-vet',
  validate: 'Your cargo-vet store (supply-chain) has consistency errors',
  policy: 'There are some issues with your third-party policy entries',
  panic: 'cargo vet panicked',
};

const tableName = (p: string) => (/^[A-Za-z0-9_-]+$/.test(p) ? p : JSON.stringify(p));

/**
 * A version as cargo-vet reads it in an audit, exemption or policy key (`VetVersion::parse`,
 * format.rs:73-93): a SemVer release (`1.2.3`), or `1.2.3@git:<40 hex digits>`, an audit of that
 * git revision. cargo-vet compares the two parts together, so a git audit vets only a package whose
 * source is that revision (`PackageExt::vet_version`, main.rs), never the crates.io release of the
 * same number. Undefined when cargo-vet would refuse the string.
 */
export function parseVetVersion(s: string): { version: string; gitRev?: string } | undefined {
  const at = s.indexOf('@');
  if (at < 0) return isSemVer(s) ? { version: s } : undefined;
  const rev = s.slice(at + 1).trimStart();
  if (!rev.startsWith('git:')) return undefined;
  const gitRev = rev.slice(4);
  const version = s.slice(0, at).trimEnd();
  return /^[0-9a-fA-F]{40}$/.test(gitRev) && isSemVer(version) ? { version, gitRev } : undefined;
}

/** Whether cargo-vet reads `s` as a version (see `parseVetVersion`). */
export function validVetVersion(s: string): boolean {
  return parseVetVersion(s) !== undefined;
}

/** `date + 12 months` as chrono's `Months` adds them (the day clamped to the month's end). */
export function addTwelveMonths(date: string): string {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  const days = new Date(Date.UTC(y + 1, m, 0)).getUTCDate();
  return `${String(y + 1).padStart(4, '0')}-${String(m).padStart(2, '0')}-${String(Math.min(d, days)).padStart(2, '0')}`;
}

function parseStoreVersion(v: string): [number, number] | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Every check `cargo vet --locked` makes on the store that fails the run with an error. */
export function checkStore(store: VetStore, graph: DepGraph, opts: StoreCheckOptions = {}): StoreCheckResult {
  const problems: StoreProblem[] = [];
  const { config, audits } = store;
  const add = (p: StoreProblem) => problems.push(p);

  // --- parse: policy keys (serialization.rs:224-262) -------------------------------------------
  const unversioned = new Set<string>();
  const versioned = new Map<string, string[]>(); // name -> versions
  for (const k of config.policy.keys()) {
    const { name, version } = policyKey(k);
    if (version === undefined) unversioned.add(name);
    else {
      if (!validVetVersion(version)) {
        add({
          code: 'policy-version-invalid',
          stage: 'parse',
          file: CONFIG,
          table: `[policy.${tableName(k)}]`,
          subject: k,
          message: `${JSON.stringify(version)} is not a version (semver, or semver@git:<40 hex digits>)`,
          source: 'serialization.rs:232 VetVersion::parse (format.rs:73)',
        });
      }
      versioned.set(name, [...(versioned.get(name) ?? []), version]);
    }
  }
  for (const name of unversioned) {
    if (!versioned.has(name)) continue;
    add({
      code: 'policy-mixed-versioning',
      stage: 'parse',
      file: CONFIG,
      table: `[policy.${tableName(name)}]`,
      subject: name,
      message: `cannot mix versioned and unversioned policies for ${name} (also [policy."${name}:${versioned.get(name)![0]}"])`,
      source: 'serialization.rs:246-257 FromAllPoliciesError::MixedVersioning',
    });
  }

  // --- version: [cargo-vet] version (storage.rs:199-207; missing means 0.4, format.rs:1041) ---
  const current = parseStoreVersion(opts.storeVersion ?? '0.10')!;
  const written = config.cargoVetVersion ?? '0.4';
  const sv = parseStoreVersion(written);
  if (!sv) {
    add({
      code: 'store-version-invalid',
      stage: 'parse',
      file: CONFIG,
      table: '[cargo-vet]',
      key: 'version',
      subject: written,
      message: `${JSON.stringify(written)} is not a store version ("major.minor")`,
      source: 'format.rs:979-990 StoreVersion::from_str',
    });
  } else {
    const cmp = sv[0] - current[0] || sv[1] - current[1];
    if (cmp !== 0) {
      const cur = current.join('.');
      add({
        code: cmp < 0 ? 'store-version-outdated' : 'store-version-newer',
        stage: 'version',
        file: CONFIG,
        table: '[cargo-vet]',
        key: 'version',
        subject: written,
        message:
          cmp < 0
            ? `the store was created with an incompatible version of cargo-vet (${written}${config.cargoVetVersion === undefined ? ', no [cargo-vet] version' : ''}); cargo-vet ${cur} refuses it under --locked (run cargo vet without --locked to update it)`
            : `the store was created with a newer version of cargo-vet (${written}) than ${cur}`,
        source: 'storage.rs:199-207 StoreAcquireError::OutdatedStore / NewerStore',
      });
    }
  }

  // --- validate (storage.rs:530-707) ------------------------------------------------------------
  // Formatting (storage.rs:656-693, only with --locked): each file must be exactly what cargo vet
  // fmt writes from its records (trailing whitespace aside). Our writers write that from the records
  // alone (sorted, fixed heading, toml_edit's string style), never from the text read, so a file
  // out of cargo-vet's order or quoted by an older release differs here as it does for cargo-vet.
  problems.push(...checkLayout(store));

  const valid = new Set([...audits.criteria.keys(), SAFE_TO_RUN, SAFE_TO_DEPLOY]);
  const validList = [...audits.criteria.keys(), SAFE_TO_RUN, SAFE_TO_DEPLOY].map((c) => JSON.stringify(c)).join(', ');
  const criteria = (file: typeof CONFIG | typeof AUDITS, table: string, key: string, names: string[] | undefined) => {
    for (const c of names ?? []) {
      if (valid.has(c)) continue;
      add({
        code: 'invalid-criteria',
        stage: 'validate',
        file,
        table,
        key,
        subject: c,
        message: `'${c}' is not a valid criteria name (the possible criteria are ${validList})`,
        source: 'storage.rs:555-570 check_criteria (InvalidCriteriaError)',
      });
    }
  };
  for (const [crate, list] of config.exemptions)
    list.forEach((e, i) => criteria(CONFIG, `[[exemptions.${tableName(crate)}]] #${i + 1}`, 'criteria', e.criteria));
  for (const [k, p] of config.policy) {
    const t = `[policy.${tableName(k)}]`;
    criteria(CONFIG, t, 'criteria', p.criteria);
    criteria(CONFIG, t, 'dev-criteria', p.devCriteria);
    for (const [dep, cs] of p.dependencyCriteria) criteria(CONFIG, t, `dependency-criteria.${dep}`, cs);
  }
  for (const [name, d] of audits.criteria) criteria(AUDITS, `[criteria.${tableName(name)}]`, 'implies', d.implies);
  for (const [crate, list] of audits.audits)
    list.forEach((e, i) => criteria(AUDITS, `[[audits.${tableName(crate)}]] #${i + 1}`, 'criteria', e.criteria));
  const today = opts.today ?? new Date().toISOString().slice(0, 10);
  const maxEnd = addTwelveMonths(today);
  for (const [crate, list] of audits.wildcardAudits) {
    list.forEach((e, i) => {
      const t = `[[wildcard-audits.${tableName(crate)}]] #${i + 1}`;
      criteria(AUDITS, t, 'criteria', e.criteria);
      if (e.end > maxEnd) {
        add({
          code: 'wildcard-end-date',
          stage: 'validate',
          file: AUDITS,
          table: t,
          key: 'end',
          subject: e.end,
          message: `'${e.end}' is more than a year in the future (wildcard audits must end at most a year after today ${today}: ${maxEnd})`,
          source: 'storage.rs:643-653 BadWildcardEndDateError',
        });
      }
    });
  }
  // Trusted entries' criteria are not checked by cargo-vet 0.10.3 (storage.rs:593-655 skips them).
  const imported: Map<string, AuditsFile> = store.imports?.audits ?? new Map<string, AuditsFile>();
  const cfgNames = [...config.imports.keys()].sort();
  const lockNames = [...imported.keys()].sort();
  if (cfgNames.join('\0') !== lockNames.join('\0')) {
    const missing = cfgNames.filter((n) => !imported.has(n));
    const extra = lockNames.filter((n) => !config.imports.has(n));
    add({
      code: 'imports-lock-outdated',
      stage: 'validate',
      file: IMPORTS,
      table: missing.length ? `[imports.${tableName(missing[0]!)}]` : `[audits.${tableName(extra[0]!)}]`,
      subject: [...missing, ...extra].join(', '),
      message:
        'imports.lock is out-of-date with respect to configuration: ' +
        [
          missing.length ? `config.toml imports ${missing.join(', ')} that imports.lock lacks` : '',
          extra.length ? `imports.lock holds ${extra.join(', ')} that config.toml no longer imports` : '',
        ]
          .filter(Boolean)
          .join('; ') +
        ' (run cargo vet without --locked to update imports)',
      source: 'storage.rs:699, 709-733 imports_lock_outdated',
    });
  } else {
    for (const [name, imp] of config.imports) {
      const excludedPresent = imp.exclude.filter((c) => imported.get(name)!.audits.has(c));
      if (!excludedPresent.length) continue;
      add({
        code: 'imports-lock-outdated',
        stage: 'validate',
        file: IMPORTS,
        table: `[audits.${tableName(name)}.audits.${tableName(excludedPresent[0]!)}]`,
        key: undefined,
        subject: excludedPresent.join(', '),
        message: `imports.lock is out-of-date with respect to configuration: it holds audits of ${excludedPresent.join(', ')} from ${name}, which [imports.${tableName(name)}] excludes (run cargo vet without --locked to update imports)`,
        source: 'storage.rs:722-730 imports_lock_outdated (exclude)',
      });
      break; // cargo-vet stops at the first
    }
  }

  // --- policy: check_crate_policies (main.rs:3263-3371) ----------------------------------------
  problems.push(...checkCratePolicies(config, graph));

  // --- panic: CriteriaMapper (criteria.rs) -------------------------------------------------------
  for (const name of audits.criteria.keys()) {
    if (name !== SAFE_TO_RUN && name !== SAFE_TO_DEPLOY) continue;
    add({
      code: 'criteria-shadows-builtin',
      stage: 'panic',
      file: AUDITS,
      table: `[criteria.${name}]`,
      subject: name,
      message: `defines the built-in criteria '${name}' again; cargo-vet panics ("Cannot specify multiple criteria with the name '${name}'")`,
      source: 'criteria.rs:46-52 CriteriaMapper::new',
    });
  }
  for (const name of audits.criteria.keys()) {
    const seen = new Set<string>();
    const stack = [...(audits.criteria.get(name)?.implies ?? [])];
    while (stack.length) {
      const c = stack.pop()!;
      if (seen.has(c)) continue;
      seen.add(c);
      stack.push(...(audits.criteria.get(c)?.implies ?? []));
    }
    if (!seen.has(name)) continue;
    add({
      code: 'criteria-implies-itself',
      stage: 'panic',
      file: AUDITS,
      table: `[criteria.${tableName(name)}]`,
      key: 'implies',
      subject: name,
      message: `criteria '${name}' implies itself through its implies chain; cargo-vet panics`,
      source: 'criteria.rs:82-89 CriteriaMapper::new',
    });
  }
  // imports.lock (0.10) holds imported audits already mapped to local names. Building a
  // third-party crate's audit graph looks up every criteria name of its audits (and of its wildcard
  // audits and local trusted entries that a publisher record matches): an unknown name panics
  // ("no entry found for key").
  const third = new Set(
    [...graph.nodes.values()]
      .filter(
        (n) =>
          (n.source !== undefined && CRATES_IO.includes(n.source)) ||
          (config.policy.get(`${n.name}:${n.vetVersion}`) ?? config.policy.get(n.name))?.auditAsCratesIo === true,
      )
      .map((n) => n.name),
  );
  const publishers: Map<string, PublisherEntry[]> = store.imports?.publisher ?? new Map<string, PublisherEntry[]>();
  const published = (crate: string, w: { userId?: number; trustedPublisher?: string; start: string; end: string }) =>
    (publishers.get(crate) ?? []).some(
      (p) =>
        (w.userId !== undefined ? p.userId === w.userId : p.trustedPublisher !== undefined && p.trustedPublisher === w.trustedPublisher) &&
        w.start <= p.when &&
        p.when < w.end,
    );
  const unknownIn = (file: typeof AUDITS | typeof IMPORTS, table: string, crate: string, i: number, names: string[]) => {
    for (const c of names) {
      if (valid.has(c)) continue;
      add({
        code: 'imported-criteria-unknown',
        stage: 'panic',
        file,
        table: `${table} #${i + 1}`,
        key: 'criteria',
        subject: c,
        message: `'${c}' is not a local criteria name${file === IMPORTS ? ' (imports.lock must hold imported audits mapped to local criteria)' : ''}; cargo-vet panics resolving ${crate} ("no entry found for key")`,
        source: 'resolver.rs:1174, :1205, :1236 criteria_from_list -> criteria.rs:117',
      });
    }
  };
  for (const [imp, a] of imported) {
    for (const [crate, list] of a.audits) {
      if (third.has(crate))
        list.forEach((e, i) => unknownIn(IMPORTS, `[[audits.${tableName(imp)}.audits.${tableName(crate)}]]`, crate, i, e.criteria));
    }
    for (const [crate, list] of a.wildcardAudits) {
      if (third.has(crate))
        list.forEach(
          (e, i) =>
            published(crate, e) &&
            unknownIn(IMPORTS, `[[audits.${tableName(imp)}.wildcard-audits.${tableName(crate)}]]`, crate, i, e.criteria),
        );
    }
  }
  for (const [crate, list] of audits.trusted) {
    if (third.has(crate))
      list.forEach((e, i) => published(crate, e) && unknownIn(AUDITS, `[[trusted.${tableName(crate)}]]`, crate, i, e.criteria));
  }

  const fatal = STAGES.find((s) => problems.some((p) => p.stage === s));
  let reported = fatal ? problems.filter((p) => p.stage === fatal) : [];
  // cargo-vet reads config.toml's policy keys before the version, and panics at the first panic.
  if (fatal === 'panic') reported = reported.slice(0, 1);
  if (fatal === 'parse') reported = reported.slice(0, 1);
  let message = fatal ? STAGE_MESSAGE[fatal] : undefined;
  if (fatal === 'version' && reported[0]!.code === 'store-version-newer')
    message = 'The supply-chain store was created with a newer version of cargo-vet';
  return { problems, fatal, reported, message };
}

/**
 * storage.rs:656-693 `StoreValidateError::BadFormat`: each file whose text is known and differs
 * (trailing whitespace aside) from what `cargo vet fmt` would write. The message is cargo-vet's
 * ("A file in the store is not correctly formatted", help "run `cargo vet fmt` …") with, instead
 * of its unified diff, the first differing line and what cargo-vet would write there.
 */
export function checkLayout(store: VetStore): StoreProblem[] {
  const out: StoreProblem[] = [];
  const layouts: [StoreProblem['file'], string | undefined, () => string][] = [
    [CONFIG, store.sources?.config, () => serializeConfigFile(store.config)],
    [AUDITS, store.sources?.audits, () => serializeAuditsFile(store.audits, userInfoOf(store.imports))],
    [IMPORTS, store.sources?.importsLock, () => (store.imports ? serializeImportsLock(store.imports) : '')],
  ];
  for (const [file, text, write] of layouts) {
    if (text === undefined) continue;
    const want = write();
    if (text.trimEnd() === want.trimEnd()) continue;
    const have = text.trimEnd().split('\n');
    const should = want.trimEnd().split('\n');
    let i = 0;
    while (i < have.length && i < should.length && have[i] === should[i]) i++;
    const table =
      [...have.slice(0, i + 1)]
        .reverse()
        .find((l) => /^\s*\[/.test(l))
        ?.trim() ?? '(top of file)';
    const line = (l: string | undefined) => (l === undefined ? '(end of file)' : JSON.stringify(l));
    // Quotes escaped inside strings where 0.10 writes none: a file written by an older cargo-vet.
    const older = (have[i] ?? '').includes('\\"') && !(should[i] ?? '').includes('\\"');
    out.push({
      code: 'bad-format',
      stage: 'validate',
      file,
      table,
      subject: `line ${i + 1}`,
      message:
        `A file in the store is not correctly formatted: ${file} line ${i + 1} is ${line(have[i])}, cargo vet fmt writes ${line(should[i])}` +
        `${older ? ' (strings quoted the way cargo-vet releases before 0.10 wrote them)' : ''} (run \`cargo vet fmt\` to reformat files in the store)`,
      source: 'storage.rs:656-693 StoreValidateError::BadFormat',
    });
  }
  return out;
}

/**
 * main.rs:3263-3371: 1. a crate with a `dependency-criteria` anywhere in its policy, and a
 * crates.io version in the graph, needs a `[policy."crate:version"]` for each version in the graph;
 * 2. every policy entry must match a package of the graph (a name; a versioned entry also its
 * version); 3. a crate with a crates.io version in the graph may only have versioned entries.
 * "Third-party" here is strictly crates.io: `audit-as-crates-io` does not count (foreign_packages_strict).
 */
function checkCratePolicies(config: ConfigFile, graph: DepGraph): StoreProblem[] {
  const out: StoreProblem[] = [];
  const names = new Set<string>();
  const versionedLeft = new Map<string, string>(); // "name:version" -> key
  const unversioned = new Set<string>();
  const depCrit = new Set<string>();
  for (const [k, p] of config.policy) {
    const { name, version } = policyKey(k);
    names.add(name);
    if (version !== undefined) versionedLeft.set(`${name}:${version}`, k);
    else unversioned.add(name);
    if (p.dependencyCriteria.size > 0) depCrit.add(name);
  }
  const nodes = [...graph.nodes.values()];
  const thirdParty = new Set(nodes.filter((n) => n.source !== undefined && CRATES_IO.includes(n.source)).map((n) => n.name));
  const SRC = 'main.rs:3263-3371 check_crate_policies';
  const unusedNames = new Set(names);
  for (const n of nodes) {
    unusedNames.delete(n.name);
    const pair = `${n.name}:${n.vetVersion}`;
    const versionedExists = versionedLeft.delete(pair);
    if (thirdParty.has(n.name) && depCrit.has(n.name) && !versionedExists) {
      const keys = [...config.policy].filter(([k, p]) => policyKey(k).name === n.name && p.dependencyCriteria.size > 0).map(([k]) => k);
      out.push({
        code: 'policy-dependency-criteria-needs-version',
        stage: 'policy',
        file: 'supply-chain/config.toml',
        table: `[policy.${tableName(keys[0]!)}]`,
        key: 'dependency-criteria',
        subject: pair,
        message: `${n.name} has a crates.io version in the graph and a policy with dependency-criteria: it needs an explicit [policy."${pair}"] (one per version in use)`,
        source: `${SRC} (DependencyCriteriaNeedsPolicyVersionErrors)`,
      });
    } else if (thirdParty.has(n.name) && unversioned.has(n.name)) {
      out.push({
        code: 'policy-third-party-needs-version',
        stage: 'policy',
        file: 'supply-chain/config.toml',
        table: `[policy.${tableName(n.name)}]`,
        subject: pair,
        message: `${n.name} has a crates.io version in the graph: its policy must be versioned; replace [policy.${tableName(n.name)}] with [policy."${pair}"] (one per version in use)`,
        source: `${SRC} (ThirdPartyNeedsPolicyVersionErrors)`,
      });
    }
  }
  for (const name of unusedNames) {
    const keys = [...config.policy.keys()].filter((k) => policyKey(k).name === name);
    out.push({
      code: 'policy-unused',
      stage: 'policy',
      file: 'supply-chain/config.toml',
      table: `[policy.${tableName(keys[0]!)}]`,
      subject: name,
      message: `no package named ${name} in the graph: remove the policy entr${keys.length > 1 ? 'ies' : 'y'} ${keys.map((k) => `[policy.${tableName(k)}]`).join(', ')}`,
      source: `${SRC} (UnusedPolicyVersionErrors)`,
    });
  }
  for (const [pair, k] of versionedLeft) {
    out.push({
      code: 'policy-unused',
      stage: 'policy',
      file: 'supply-chain/config.toml',
      table: `[policy.${tableName(k)}]`,
      subject: pair,
      message: `no package ${pair} in the graph: remove the policy entry`,
      source: `${SRC} (UnusedPolicyVersionErrors)`,
    });
  }
  return out;
}

/** One line per problem: `supply-chain/config.toml, [policy.foo], criteria: message`. */
export const formatStoreProblem = (p: StoreProblem): string => `${p.file}, ${p.table}${p.key ? `, ${p.key}` : ''}: ${p.message}`;
