/**
 * RustSec advisories: reading the advisory-db's Markdown files and deciding which locked packages
 * they affect, the way the RustSec tooling (cargo-audit) does.
 */
import { parse as parseToml } from 'smol-toml';
import { FormatError, tomlLine } from './errors.js';
import { type Interval, RequirementError, intervalContains, isSemVer, requirementToInterval } from './rustsemver.js';
import { type Lockfile, type LockedPackage, isCratesIo } from './lockfile.js';

export type Informational = 'notice' | 'unmaintained' | 'unsound' | string;

/** `crates`: a crates.io package. `rust`: the toolchain (std, cargo, rustdoc), never matched against crates. */
export type Collection = 'crates' | 'rust';

export interface Advisory {
  id: string;
  package: string;
  collection: Collection;
  title: string;
  description: string;
  date: string;
  url?: string;
  aliases: string[];
  related: string[];
  categories: string[];
  keywords: string[];
  cvss?: string;
  informational?: Informational;
  /** Date it was withdrawn; a withdrawn advisory never matches. */
  withdrawn?: string;
  references: string[];
  license?: string;
  expectDeleted?: boolean;
  affected: { arch: string[]; os: string[]; functions: Record<string, string[]> };
  versions: { patched: string[]; unaffected: string[] };
}

const FRONT_MATTER = /^\s*```toml\r?\n([\s\S]*?)\r?\n```\s*(?:\r?\n|$)/;

/** The ```toml front-matter block (`m`, for where the body starts) and its TOML, or a FormatError with the line. */
function frontMatter(text: string, file: string): { m: RegExpExecArray; doc: Record<string, unknown> } {
  const m = FRONT_MATTER.exec(text);
  if (!m) throw new FormatError(file, 'no ```toml front-matter block at the start of the file', { line: 1 });
  try {
    return { m, doc: parseToml(m[1]!) as Record<string, unknown> };
  } catch (err) {
    const line = tomlLine(err);
    throw new FormatError(file, `front matter is not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      line: line === undefined ? undefined : line + 1, // +1 for the ```toml fence
    });
  }
}

/** Every requirement must be one RustSec can turn into an interval; refuse the advisory otherwise. */
function checkRequirements(versions: Advisory['versions'], file: string): void {
  for (const key of ['patched', 'unaffected'] as const) {
    versions[key].forEach((req, i) => {
      try {
        requirementToInterval(req);
      } catch (err) {
        if (err instanceof RequirementError) throw new FormatError(file, err.message, { field: `versions.${key}[${i}]` });
        throw err;
      }
    });
  }
}

/**
 * Reads one advisory file: a ```toml front-matter block followed by Markdown whose first `# ` heading
 * is the title. `file` is its path, used in errors and to tell `crates/` from `rust/`.
 */
export function parseAdvisory(text: string, file: string): Advisory {
  const { m, doc } = frontMatter(text, file);
  const table = (name: string, required: boolean): Record<string, unknown> => {
    const t = doc[name];
    if (t === undefined && !required) return {};
    if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new FormatError(file, `missing [${name}] table`, { field: name });
    return t as Record<string, unknown>;
  };
  const adv = table('advisory', true);
  const affected = table('affected', false);
  const versions = table('versions', true);

  const str = (t: Record<string, unknown>, tname: string, key: string, required = false): string | undefined => {
    const v = t[key];
    if (v === undefined && !required) return undefined;
    if (typeof v === 'string' && v.trim() !== '') return v;
    // dates in TOML may be real dates (`date = 2021-01-01`): keep the ISO day
    if (v instanceof Date && !required) return v.toISOString().slice(0, 10);
    if (v instanceof Date) return v.toISOString().slice(0, 10);
    throw new FormatError(file, v === undefined ? 'is required' : 'expected a string', { field: `${tname}.${key}` });
  };
  const strs = (t: Record<string, unknown>, tname: string, key: string): string[] => {
    const v = t[key];
    if (v === undefined) return [];
    if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) {
      throw new FormatError(file, 'expected an array of strings', { field: `${tname}.${key}` });
    }
    return (v as string[]).map((s) => s.trim());
  };

  const id = str(adv, 'advisory', 'id', true)!;
  if (!/^(RUSTSEC|CVE|GHSA)-[\w-]+$/.test(id)) throw new FormatError(file, `"${id}" is not an advisory id`, { field: 'advisory.id' });
  const functionsRaw = affected.functions ?? {};
  if (typeof functionsRaw !== 'object' || functionsRaw === null || Array.isArray(functionsRaw)) {
    throw new FormatError(file, 'expected a table of paths to requirement lists', { field: 'affected.functions' });
  }
  const functions: Record<string, string[]> = {};
  for (const fn of Object.keys(functionsRaw)) functions[fn] = strs(functionsRaw as Record<string, unknown>, 'affected.functions', fn);

  const advisory: Advisory = {
    id,
    package: str(adv, 'advisory', 'package', true)!,
    collection: /(^|[\\/])rust[\\/]/.test(file) ? 'rust' : 'crates',
    title: '',
    description: '',
    date: str(adv, 'advisory', 'date', true)!,
    url: str(adv, 'advisory', 'url'),
    aliases: strs(adv, 'advisory', 'aliases'),
    related: strs(adv, 'advisory', 'related'),
    categories: strs(adv, 'advisory', 'categories'),
    keywords: strs(adv, 'advisory', 'keywords'),
    cvss: str(adv, 'advisory', 'cvss'),
    informational: str(adv, 'advisory', 'informational')?.trim(),
    withdrawn: str(adv, 'advisory', 'withdrawn'),
    references: strs(adv, 'advisory', 'references'),
    license: str(adv, 'advisory', 'license'),
    expectDeleted: adv['expect-deleted'] === true ? true : undefined,
    affected: { arch: strs(affected, 'affected', 'arch'), os: strs(affected, 'affected', 'os'), functions },
    versions: { patched: strs(versions, 'versions', 'patched'), unaffected: strs(versions, 'versions', 'unaffected') },
  };
  if (!('patched' in versions)) throw new FormatError(file, 'is required (may be empty)', { field: 'versions.patched' });

  checkRequirements(advisory.versions, file);

  const body = text.slice(m[0].length);
  const heading = /^#\s+(.+?)\s*$/m.exec(body);
  if (!heading) throw new FormatError(file, 'no "# Title" heading after the front matter', { field: 'title' });
  advisory.title = heading[1]!;
  advisory.description = body.slice(heading.index + heading[0].length).trim();
  return advisory;
}

/** The intervals of versions an advisory says are NOT affected (patched ∪ unaffected). */
export function unaffectedIntervals(a: Pick<Advisory, 'versions'>): Interval[] {
  return [...a.versions.patched, ...a.versions.unaffected].map(requirementToInterval);
}

/**
 * Whether `version` of the advisory's package is affected: it lies outside every unaffected interval.
 * RustSec's ranges speak of crates.io releases, which are SemVer; any other string (a cargo-vet git
 * audit's `1.2.3@git:<commit>`, a typo in an event) is affected by nothing, rather than an error
 * every consumer would have to catch.
 */
export function isAffected(a: Pick<Advisory, 'versions'>, version: string, intervals = unaffectedIntervals(a)): boolean {
  if (!isSemVer(version)) return false;
  return !intervals.some((i) => intervalContains(i, version));
}

/** Informational advisories (unmaintained, unsound, notice) are reported apart from vulnerabilities. */
export const isVulnerability = (a: Pick<Advisory, 'informational'>): boolean => a.informational === undefined;

export interface AdvisoryHit {
  advisory: Advisory;
  package: LockedPackage;
}

/**
 * Every (advisory, locked package) pair where the advisory affects the locked version. Only
 * crates.io packages are matched; `rust/` advisories (std, cargo, rustdoc) and withdrawn ones never are.
 */
export function matchLockfile(advisories: Iterable<Advisory>, lock: Lockfile): AdvisoryHit[] {
  const byName = new Map<string, LockedPackage[]>();
  for (const p of lock.packages) {
    if (!isCratesIo(p)) continue;
    const list = byName.get(p.name) ?? [];
    list.push(p);
    byName.set(p.name, list);
  }
  const hits: AdvisoryHit[] = [];
  for (const a of advisories) {
    if (a.collection !== 'crates' || a.withdrawn) continue;
    const candidates = byName.get(a.package);
    if (!candidates) continue;
    const intervals = unaffectedIntervals(a);
    for (const p of candidates) if (isAffected(a, p.version, intervals)) hits.push({ advisory: a, package: p });
  }
  return hits;
}
