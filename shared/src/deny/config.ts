/**
 * A workspace's `deny.toml` (cargo-deny's format), read for the checks cratewatch runs: the
 * `[licenses]`, `[bans]` and `[sources]` sections, and the `[graph]` keys that change which crates
 * they see. Every key that is not supported is said as a warning naming its line; none is
 * silently ignored. Bad values are `FormatError`s naming the file, the line and the key.
 */
import { parse as parseToml } from 'smol-toml';
import { FormatError, tomlLine } from '../errors.js';
import { parseSpecString, type PackageSpec } from './spec.js';

export type LintLevel = 'deny' | 'warn' | 'allow';

/** Where a rule was written: its key (`licenses.allow`, `bans.deny[2]`) and line, when found. */
export interface RuleRef {
  key: string;
  line?: number;
}

export interface ConfigWarning extends RuleRef {
  message: string;
}

export interface SpecRule extends RuleRef {
  spec: PackageSpec;
  reason?: string;
}

export interface LicensesConfig {
  /** Each allowed license requirement as written (`Apache-2.0 WITH LLVM-exception`). */
  allow: (RuleRef & { license: string })[];
  /** The pre-0.16 `deny` list: cargo-deny now refuses the key; kept so an old config still fails what it named. */
  deny: (RuleRef & { license: string })[];
  exceptions: (SpecRule & { allow: string[] })[];
  privateIgnore: boolean;
  privateRegistries: string[];
  ignoreSources: string[];
  includeDev: boolean;
  includeBuild: boolean;
  unusedAllowedLicense: LintLevel;
  unusedLicenseException: LintLevel;
}

export interface BansConfig {
  multipleVersions: LintLevel;
  multipleVersionsRef: RuleRef;
  multipleVersionsIncludeDev: boolean;
  wildcards: LintLevel;
  wildcardsRef: RuleRef;
  allowWildcardPaths: boolean;
  deny: (SpecRule & { wrappers?: string[]; denyMultipleVersions: boolean; useInstead?: string })[];
  allow: SpecRule[];
  allowWorkspace: boolean;
  skip: SpecRule[];
}

export interface SourcesConfig {
  unknownRegistry: LintLevel;
  unknownRegistryRef: RuleRef;
  unknownGit: LintLevel;
  unknownGitRef: RuleRef;
  /** Exact URLs (registries and git repositories), and `private` prefixes. */
  allowed: (RuleRef & { url: string; kind: 'registry' | 'git' | 'private' })[];
  allowOrg: (RuleRef & { host: 'github.com' | 'gitlab.com' | 'bitbucket.org'; org: string })[];
  requiredGitSpec?: RuleRef & { spec: GitSpec };
  unusedAllowedSource: LintLevel;
  unusedAllowedOrg: LintLevel;
}

export type GitSpec = 'any' | 'branch' | 'tag' | 'rev';
export const GIT_SPECS: GitSpec[] = ['any', 'branch', 'tag', 'rev'];

export interface DenyConfig {
  file: string;
  /** `[graph] exclude-dev`: dev-dependencies are left out of every check. */
  excludeDev: boolean;
  /** Absent when deny.toml has no such section: that check is not run. */
  licenses?: LicensesConfig;
  bans?: BansConfig;
  sources?: SourcesConfig;
  warnings: ConfigWarning[];
}

export const CRATES_IO_INDEX = 'https://github.com/rust-lang/crates.io-index';

/** The keys read, per section; every other key is a warning. */
const SUPPORTED: Record<string, string[]> = {
  graph: ['exclude-dev', 'all-features'],
  licenses: [
    'version',
    'allow',
    'deny',
    'exceptions',
    'private',
    'include-dev',
    'include-build',
    'unused-allowed-license',
    'unused-license-exception',
  ],
  bans: [
    'multiple-versions',
    'multiple-versions-include-dev',
    'wildcards',
    'allow-wildcard-paths',
    'deny',
    'allow',
    'allow-workspace',
    'skip',
  ],
  sources: [
    'unknown-registry',
    'unknown-git',
    'allow-registry',
    'allow-git',
    'private',
    'allow-org',
    'required-git-spec',
    'unused-allowed-source',
    'unused-allowed-org',
  ],
};
/** Why a known cargo-deny key is not supported, where there is more to say than "ignored". */
const WHY_NOT: Record<string, string> = {
  'graph.targets': 'every target is judged (as cargo-deny does without it)',
  'graph.exclude': 'no crate is excluded from the graph',
  'graph.features': 'the graph is the cargo-metadata.json one (cargo metadata --all-features)',
  'graph.no-default-features': 'the graph is the cargo-metadata.json one (cargo metadata --all-features)',
  'graph.exclude-unpublished': 'unpublished members stay roots of the graph',
  'licenses.clarify': 'license files are not read; a clarified crate is judged by its license field',
  'licenses.confidence-threshold': 'license files are not read (askalono)',
  'bans.skip-tree': 'its crates count as duplicates',
  'bans.features': 'crate features are not checked',
  'bans.external-default-features': 'crate features are not checked',
  'bans.workspace-default-features': 'crate features are not checked',
  'bans.workspace-dependencies': '[workspace.dependencies] use is not checked',
  'bans.build': 'build scripts and executables in crate sources are not checked',
  'bans.highlight': 'no dot graph is drawn',
  'bans.std-replacements': 'not checked',
};

const LINT_LEVELS: LintLevel[] = ['deny', 'warn', 'allow'];

type Table = Record<string, unknown>;
const isTable = (v: unknown): v is Table => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);

/** Reads deny.toml text; `file` names it in errors and warnings. */
export function parseDenyConfig(text: string, file = 'deny.toml'): DenyConfig {
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (err) {
    throw new FormatError(file, `not valid TOML: ${(err as Error).message.split('\n')[0]}`, { line: tomlLine(err) });
  }
  const lines = new KeyLines(text);
  const warnings: ConfigWarning[] = [];
  const r = new Reader(file, lines, warnings);
  for (const [section, v] of Object.entries(doc)) {
    if (section in SUPPORTED && isTable(v)) r.warnUnsupported(section, v);
    else if (section === 'advisories') {
      for (const k of Object.keys(isTable(v) ? v : {}))
        r.warn(`advisories.${k}`, 'not read from deny.toml: advisories come from --advisory-db, ignores from VEX statements');
    } else if (section === 'output') r.warn('output', 'not supported (ignored): cratewatch lays out its own report');
    else if (section in SUPPORTED) throw r.error(section, 'expected a table');
    else r.warn(section, 'not a section cratewatch knows (cargo-deny has graph, output, advisories, licenses, bans, sources): ignored');
  }
  const graph = isTable(doc.graph) ? doc.graph : {};
  if (graph['all-features'] !== true) {
    warnings.push({
      key: 'graph.all-features',
      line: lines.find('graph', 'all-features'),
      message:
        'not set: cargo-deny resolves default features only, cratewatch judges every package cargo metadata --all-features (and the Cargo.lock) has',
    });
  }
  return {
    file,
    excludeDev: r.bool(graph, 'graph', 'exclude-dev', false),
    ...(isTable(doc.licenses) ? { licenses: readLicenses(doc.licenses, r) } : {}),
    ...(isTable(doc.bans) ? { bans: readBans(doc.bans, r) } : {}),
    ...(isTable(doc.sources) ? { sources: readSources(doc.sources, r) } : {}),
    warnings,
  };
}

function readLicenses(t: Table, r: Reader): LicensesConfig {
  const licenseList = (key: string) =>
    r.strings(t, 'licenses', key).map((s, i) => ({ license: s.value, key: `licenses.${key}[${i}]`, line: s.line }));
  const deny = licenseList('deny');
  if (t.deny !== undefined)
    r.warn(
      'licenses.deny',
      'cargo-deny 0.16+ refuses this key (every license not allowed is denied); cratewatch still rejects what it lists',
    );
  const priv = isTable(t.private) ? t.private : {};
  return {
    allow: licenseList('allow'),
    deny,
    exceptions: r.tables(t, 'licenses', 'exceptions').map(({ table, key, line }) => ({
      ...r.specRule(table, key, line),
      allow: r.strings(table, key, 'allow').map((s) => s.value),
    })),
    privateIgnore: r.bool(priv, 'licenses.private', 'ignore', false),
    privateRegistries: r.strings(priv, 'licenses.private', 'registries').map((s) => s.value),
    ignoreSources: r.strings(priv, 'licenses.private', 'ignore-sources').map((s) => s.value),
    includeDev: r.bool(t, 'licenses', 'include-dev', false),
    includeBuild: r.bool(t, 'licenses', 'include-build', true),
    unusedAllowedLicense: r.level(t, 'licenses', 'unused-allowed-license', 'warn').value,
    unusedLicenseException: r.level(t, 'licenses', 'unused-license-exception', 'warn').value,
  };
}

function readBans(t: Table, r: Reader): BansConfig {
  const mv = r.level(t, 'bans', 'multiple-versions', 'warn');
  const wc = r.level(t, 'bans', 'wildcards', 'allow');
  return {
    multipleVersions: mv.value,
    multipleVersionsRef: mv.ref,
    multipleVersionsIncludeDev: r.bool(t, 'bans', 'multiple-versions-include-dev', false),
    wildcards: wc.value,
    wildcardsRef: wc.ref,
    allowWildcardPaths: r.bool(t, 'bans', 'allow-wildcard-paths', false),
    deny: r.specList(t, 'bans', 'deny').map(({ rule, table }) => {
      const wrappers = table && table.wrappers !== undefined ? r.strings(table, rule.key, 'wrappers').map((s) => s.value) : undefined;
      const useInstead = table?.['use-instead'];
      return {
        ...rule,
        wrappers,
        denyMultipleVersions: table ? r.bool(table, rule.key, 'deny-multiple-versions', false) : false,
        ...(typeof useInstead === 'string' ? { useInstead } : {}),
      };
    }),
    allow: r.specList(t, 'bans', 'allow').map(({ rule }) => rule),
    allowWorkspace: r.bool(t, 'bans', 'allow-workspace', false),
    skip: r.specList(t, 'bans', 'skip').map(({ rule }) => rule),
  };
}

function readSources(t: Table, r: Reader): SourcesConfig {
  const ur = r.level(t, 'sources', 'unknown-registry', 'warn');
  const ug = r.level(t, 'sources', 'unknown-git', 'warn');
  const urls = (key: string, kind: 'registry' | 'git' | 'private') =>
    r.strings(t, 'sources', key).map((s, i) => ({ url: s.value, kind, key: `sources.${key}[${i}]`, line: s.line }));
  const registries =
    t['allow-registry'] === undefined
      ? [{ url: CRATES_IO_INDEX, kind: 'registry' as const, key: 'sources.allow-registry (default)' }]
      : urls('allow-registry', 'registry');
  const orgs = isTable(t['allow-org']) ? t['allow-org'] : {};
  const allowOrg: SourcesConfig['allowOrg'] = [];
  for (const [k, host] of [
    ['github', 'github.com'],
    ['gitlab', 'gitlab.com'],
    ['bitbucket', 'bitbucket.org'],
  ] as const) {
    r.strings(orgs, 'sources.allow-org', k).forEach((s, i) =>
      allowOrg.push({ host, org: s.value, key: `sources.allow-org.${k}[${i}]`, line: s.line }),
    );
  }
  for (const k of Object.keys(orgs))
    if (!['github', 'gitlab', 'bitbucket'].includes(k))
      r.warn(`sources.allow-org.${k}`, 'not a host cargo-deny knows (github, gitlab, bitbucket): ignored');
  const spec = t['required-git-spec'];
  if (spec !== undefined && !GIT_SPECS.includes(spec as GitSpec))
    throw r.error('sources.required-git-spec', `expected one of ${GIT_SPECS.join(', ')}`);
  return {
    unknownRegistry: ur.value,
    unknownRegistryRef: ur.ref,
    unknownGit: ug.value,
    unknownGitRef: ug.ref,
    allowed: [...registries, ...urls('allow-git', 'git'), ...urls('private', 'private')],
    allowOrg,
    ...(spec !== undefined
      ? { requiredGitSpec: { spec: spec as GitSpec, key: 'sources.required-git-spec', line: r.lines.find('sources', 'required-git-spec') } }
      : {}),
    unusedAllowedSource: r.level(t, 'sources', 'unused-allowed-source', 'warn').value,
    unusedAllowedOrg: r.level(t, 'sources', 'unused-allowed-org', 'warn').value,
  };
}

/** Typed reads of one document, each error naming file, line and key. */
class Reader {
  constructor(
    readonly file: string,
    readonly lines: KeyLines,
    readonly warnings: ConfigWarning[],
  ) {}

  error(key: string, detail: string, line?: number): FormatError {
    const [section, ...rest] = key.split('.');
    return new FormatError(this.file, detail, {
      line: line ?? this.lines.find(section!, rest.join('.').replace(/\[\d+\].*$/, '')),
      field: key,
    });
  }

  warn(key: string, message: string): void {
    const [section, ...rest] = key.split('.');
    this.warnings.push({ key, line: this.lines.find(section!, rest.join('.')), message });
  }

  warnUnsupported(section: string, t: Table): void {
    for (const k of Object.keys(t)) {
      if (SUPPORTED[section]!.includes(k)) continue;
      const why = WHY_NOT[`${section}.${k}`];
      this.warn(`${section}.${k}`, why ? `not supported (ignored): ${why}` : 'not a key cratewatch knows (ignored)');
    }
  }

  bool(t: Table, at: string, key: string, dflt: boolean): boolean {
    const v = t[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') throw this.error(`${at}.${key}`, 'expected true or false');
    return v;
  }

  level(t: Table, at: string, key: string, dflt: LintLevel): { value: LintLevel; ref: RuleRef } {
    const v = t[key];
    const ref = { key: `${at}.${key}`, line: this.lines.find(at, key) };
    if (v === undefined) return { value: dflt, ref: { key: `${ref.key} (default ${dflt})` } };
    if (!LINT_LEVELS.includes(v as LintLevel)) throw this.error(ref.key, `expected "deny", "warn" or "allow", not ${JSON.stringify(v)}`);
    return { value: v as LintLevel, ref };
  }

  strings(t: Table, at: string, key: string): { value: string; line?: number }[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw this.error(`${at}.${key}`, 'expected a list of strings');
    const start = this.lines.find(at, key);
    return (v as string[]).map((value) => ({ value, line: this.lines.entry(start, value) }));
  }

  tables(t: Table, at: string, key: string): { table: Table; key: string; line?: number }[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw this.error(`${at}.${key}`, 'expected a list of tables');
    const start = this.lines.find(at, key);
    const headers = this.lines.arrayHeaders(`${at}.${key}`);
    return v.map((e, i) => {
      if (!isTable(e)) throw this.error(`${at}.${key}[${i}]`, 'expected a table');
      const needle = typeof e.crate === 'string' ? e.crate : typeof e.name === 'string' ? e.name : undefined;
      return { table: e, key: `${at}.${key}[${i}]`, line: headers[i] ?? (needle ? this.lines.entry(start, needle) : start) };
    });
  }

  /** A table's `crate` (or the old `name` + `version`) as a package spec. */
  specRule(t: Table, key: string, line?: number): SpecRule {
    const text =
      typeof t.crate === 'string'
        ? t.crate
        : typeof t.name === 'string'
          ? typeof t.version === 'string'
            ? `${t.name}:${t.version}`
            : t.name
          : undefined;
    if (text === undefined) throw this.error(key, 'expected a `crate` (or `name`) key', line);
    let spec: PackageSpec;
    try {
      spec = parseSpecString(text);
    } catch (err) {
      throw this.error(key, (err as Error).message, line);
    }
    return { spec, key, line, ...(typeof t.reason === 'string' ? { reason: t.reason } : {}) };
  }

  /** A list whose entries are spec strings or tables. */
  specList(t: Table, at: string, key: string): { rule: SpecRule; table?: Table }[] {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw this.error(`${at}.${key}`, 'expected a list of package specs');
    const start = this.lines.find(at, key);
    return v.map((e, i) => {
      const k = `${at}.${key}[${i}]`;
      if (typeof e === 'string') return { rule: this.specRule({ crate: e }, k, this.lines.entry(start, e)) };
      if (!isTable(e)) throw this.error(k, 'expected a package spec string or table');
      const needle = typeof e.crate === 'string' ? e.crate : typeof e.name === 'string' ? e.name : '';
      return { rule: this.specRule(e, k, this.lines.entry(start, needle)), table: e };
    });
  }
}

/**
 * Lines of keys in the TOML text, as people write deny.toml: `[section]` headers (or dotted keys
 * `section.key = …` at the top), one key per line, list entries on their own lines or inline.
 */
class KeyLines {
  private readonly text: string[];
  constructor(text: string) {
    this.text = text.split(/\r?\n/);
  }

  /** The line of `key` (dotted below `section`: `private.ignore`) or of the section's header when key is ''. */
  find(section: string, key: string): number | undefined {
    const parts = key ? key.split('.') : [];
    let table: string | undefined;
    for (let n = 0; n < this.text.length; n++) {
      const l = this.text[n]!.trim();
      const h = /^\[\[?\s*([^\]]+?)\s*\]\]?/.exec(l);
      if (h) {
        table = h[1]!.replace(/\s+/g, '');
        if (table === [section, ...parts].join('.')) return n + 1;
        continue;
      }
      const m = /^([A-Za-z0-9_."-]+)\s*=/.exec(l);
      if (!m) continue;
      const full = [...(table ? [table] : []), ...m[1]!.replace(/"/g, '').split('.')].join('.');
      const want = [section, ...parts].join('.');
      if (full === want || (parts.length > 1 && full === [section, parts[0]].join('.'))) return n + 1;
    }
    return undefined;
  }

  /** The line at or after `start` that holds the quoted `value` (a list entry). */
  entry(start: number | undefined, value: string): number | undefined {
    if (start === undefined) return undefined;
    for (let n = start - 1; n < this.text.length; n++) {
      const l = this.text[n]!;
      if (l.includes(`"${value}"`) || l.includes(`'${value}'`)) return n + 1;
      if (n > start - 1 && /^\s*\[/.test(l) && !/^\s*\[\s*["'{]/.test(l)) break; // the next table
    }
    return start;
  }

  /** The lines of `[[a.b]]` headers, in order. */
  arrayHeaders(path: string): number[] {
    const out: number[] = [];
    this.text.forEach((l, n) => {
      const h = /^\s*\[\[\s*([^\]]+?)\s*\]\]/.exec(l);
      if (h && h[1]!.replace(/\s+/g, '') === path) out.push(n + 1);
    });
    return out;
  }
}
