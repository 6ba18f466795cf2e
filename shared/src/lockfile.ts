import { parse as parseToml } from 'smol-toml';
import { FormatError, tomlLine } from './errors.js';
import { isSemVer } from './rustsemver.js';

/** The crates.io registry, as Cargo writes it in `source` (git index and sparse protocol). */
export const CRATES_IO_SOURCES = new Set(['registry+https://github.com/rust-lang/crates.io-index', 'sparse+https://index.crates.io/']);

export interface LockedPackage {
  /** `name@version`, plus ` (source)` only when two locked packages share name and version. */
  id: string;
  name: string;
  version: string;
  /** Absent for path dependencies: the workspace's own (first-party) crates. */
  source?: string;
  checksum?: string;
  /** Resolved dependencies as `name@version` ids of other packages in the same lockfile. */
  dependencies: string[];
}

export interface Lockfile {
  /** Lockfile format: 3 or 4 (v1/v2 have no `version` key and keep checksums in [metadata]). */
  version: number;
  packages: LockedPackage[];
}

/**
 * A locked package whose `version` is not SemVer. Cargo only ever writes SemVer there, so the file
 * was edited by hand or by a broken tool; every consumer (advisory matching, cargo-vet, ordering)
 * needs a real version, so the file is refused rather than the package skipped.
 * A FormatError like the others, so every caller refuses it the same way; its message reads
 * `Cargo.lock, line 42, field \`package[3].version\`: package "foo": version "1.0" is not SemVer`.
 */
export class LockedVersionError extends FormatError {
  override name = 'LockedVersionError';

  constructor(
    file: string,
    readonly packageName: string,
    readonly version: string,
    line: number | undefined,
    field: string,
  ) {
    super(file, `package ${JSON.stringify(packageName)}: version ${JSON.stringify(version)} is not SemVer`, { line, field });
  }
}

export const packageId = (name: string, version: string): string => `${name}@${version}`;

export const isCratesIo = (p: { source?: string }): boolean => p.source !== undefined && CRATES_IO_SOURCES.has(p.source);

/** A package with no source is a path dependency: part of the workspace itself, never audited. */
export const isFirstParty = (p: { source?: string }): boolean => p.source === undefined;

/**
 * Reads a `Cargo.lock` (format v3 or v4; v1/v2 are accepted too). Dependency entries are
 * `name`, `name version` or `name version (source)`, and are resolved to package ids here so that
 * every consumer sees the same graph. Edge kinds (normal/build/dev) are not in a lockfile.
 */
export function parseLockfile(text: string, file = 'Cargo.lock'): Lockfile {
  // Cargo never writes an empty lockfile (it always locks the workspace's own crates): an empty
  // one is a truncated or placeholder file, and reading it as "nothing to judge" would pass a gate.
  if (text.trim() === '')
    throw new FormatError(file, `empty file (${text.length === 0 ? '0 bytes' : 'only whitespace'}): not a Cargo.lock`, { line: 1 });
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(file, `not valid TOML: ${(err as Error).message.split('\n')[0]}`, {
      line: tomlLine(err),
    });
  }
  const version = doc.version === undefined ? 2 : doc.version;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1 || version > 4) {
    throw new FormatError(file, `unsupported lockfile version ${JSON.stringify(version)}`, {
      field: 'version',
    });
  }
  const raw = doc.package ?? [];
  if (!Array.isArray(raw)) throw new FormatError(file, 'expected [[package]] tables', { field: 'package' });
  if (raw.length === 0)
    throw new FormatError(file, "no [[package]] table: a Cargo.lock locks at least the workspace's own crates", { field: 'package' });
  // Lines only when the headers line up one to one with the tables (Cargo's own layout).
  const headers = packageTableLines(text);
  const tableLines = headers.length === raw.length ? headers : [];

  const packages: (LockedPackage & { rawDeps: string[] })[] = raw.map((p: unknown, i: number) => {
    const at = (f: string) => `package[${i}].${f}`;
    if (typeof p !== 'object' || p === null) throw new FormatError(file, 'expected a table', { field: `package[${i}]` });
    const r = p as Record<string, unknown>;
    const str = (f: string, required: boolean): string | undefined => {
      const v = r[f];
      if (v === undefined && !required) return undefined;
      if (typeof v !== 'string' || v === '') throw new FormatError(file, `expected a non-empty string`, { field: at(f) });
      return v;
    };
    const deps = r.dependencies ?? [];
    if (!Array.isArray(deps) || deps.some((d) => typeof d !== 'string')) {
      throw new FormatError(file, 'expected an array of strings', { field: at('dependencies') });
    }
    const name = str('name', true)!;
    const version = str('version', true)!;
    if (!isSemVer(version)) throw new LockedVersionError(file, name, version, versionLine(text, i), at('version'));
    return {
      id: '',
      name,
      version,
      source: str('source', false),
      checksum: str('checksum', false),
      dependencies: [],
      rawDeps: deps as string[],
    };
  });

  refuseDuplicates(packages, tableLines, file);
  const byName = new Map<string, LockedPackage[]>();
  for (const p of packages) {
    const list = byName.get(p.name) ?? [];
    list.push(p);
    byName.set(p.name, list);
  }
  const idOf = lockedIdRule(packages);
  for (const [i, p] of packages.entries()) {
    p.id = idOf(p);
    p.dependencies = p.rawDeps.map((d, j) => {
      const m = /^(\S+)(?: (\S+))?(?: \((.+)\))?$/.exec(d);
      const candidates = m ? (byName.get(m[1]!) ?? []).filter((c) => !m[2] || c.version === m[2]) : [];
      // Cargo writes a git source here without its `#commit` fragment.
      const hit = m?.[3] ? candidates.filter((c) => c.source?.split('#')[0] === m[3]) : candidates;
      if (hit.length !== 1) {
        throw new FormatError(
          file,
          hit.length === 0 ? `dependency "${d}" names no package in the lockfile` : `dependency "${d}" is ambiguous`,
          { line: tableLines[i], field: `package[${i}].dependencies[${j}]` },
        );
      }
      return idOf(hit[0]!);
    });
  }
  return {
    version,
    packages: packages.map(({ rawDeps: _r, ...p }) => p),
  };
}

/**
 * The line of the `version` key of the i-th `[[package]]` table, 1-based, as Cargo lays the file
 * out (a header line, then one key per line); undefined for a layout it does not write (inline
 * tables), where the error names the field path instead.
 */
function versionLine(text: string, index: number): number | undefined {
  const lines = text.split(/\r?\n/);
  let tables = 0; // [[package]] headers seen so far
  let inside = false; // whether the current table is the index-th [[package]]
  for (let n = 0; n < lines.length; n++) {
    const l = lines[n]!.trim();
    if (l.startsWith('[')) {
      const isPackage = /^\[\[\s*package\s*\]\]$/.test(l);
      inside = isPackage && tables === index;
      if (isPackage) tables++;
      if (tables > index + 1) return undefined;
    } else if (inside && /^version\s*=/.test(l)) return n + 1;
  }
  return undefined;
}

/**
 * The line of each `[[package]]` header, 1-based, in file order; not one per package when the
 * file uses another layout (inline tables), where errors name the field path alone. Exported so
 * that reports (SARIF, CI annotations) point at the same line the errors do.
 */
export function packageTableLines(text: string): number[] {
  const out: number[] = [];
  text.split(/\r?\n/).forEach((l, n) => {
    if (/^\[\[\s*package\s*\]\]\s*(#.*)?$/.test(l.trim())) out.push(n + 1);
  });
  return out;
}

/**
 * A package locked twice (same name, version and source) is refused, as Cargo refuses it ("package
 * is specified twice in the lockfile"): a merge gone wrong, whose dependents' edges cannot be told
 * apart. Named with both lines so that the duplicate can be deleted.
 */
function refuseDuplicates(packages: { name: string; version: string; source?: string }[], lines: number[], file: string): void {
  const first = new Map<string, number>();
  packages.forEach((p, i) => {
    const key = `${p.name}\u0000${p.version}\u0000${p.source ?? ''}`;
    const j = first.get(key);
    if (j === undefined) {
      first.set(key, i);
      return;
    }
    const at = (k: number) => (lines[k] !== undefined ? `line ${lines[k]}` : `package[${k}]`);
    throw new FormatError(
      file,
      `package "${p.name}" ${p.version}${p.source ? ` (${p.source.split('#')[0]})` : ''} is locked twice (first at ${at(j)}): delete the duplicate [[package]] table`,
      {
        line: lines[i],
        field: `package[${i}]`,
      },
    );
  });
}

/**
 * The id rule of every locked package, for any reader of locked packages (a Cargo.lock, a
 * CycloneDX SBOM): `name@version`; two packages may share name and version (a crates.io crate and a
 * git fork of it), and only then does the id carry the source (without a git `#commit`), so that
 * ids stay short and stable in the common case.
 */
export function lockedIdRule(
  packages: readonly { name: string; version: string }[],
): (p: { name: string; version: string; source?: string }) => string {
  const count = new Map<string, number>();
  for (const p of packages) count.set(packageId(p.name, p.version), (count.get(packageId(p.name, p.version)) ?? 0) + 1);
  return (p) =>
    (count.get(packageId(p.name, p.version)) ?? 0) > 1
      ? `${packageId(p.name, p.version)} (${p.source?.split('#')[0] ?? 'path'})`
      : packageId(p.name, p.version);
}
