/**
 * A locked package's Cargo `source` and its package URL (`pkg:cargo/name@version?qualifiers`), both
 * ways, as `cargo cyclonedx` writes them: crates.io has no qualifier; another registry has
 * `repository_url` (the index URL); a git source has `vcs_url` (`git+https://…?rev=…@<commit>`:
 * Cargo's `#<commit>` written `@<commit>`); a path package has `download_url=file://<dir>`. purls
 * are parsed and built with packageurl-js, the purl specification's own JavaScript implementation
 * (docs/adr/0015-cyclonedx-libraries.md).
 */
import { createRequire } from 'node:module';
import type { PackageURL as PackageURLClass } from 'packageurl-js';
import { CRATES_IO_SOURCES } from '../lockfile.js';

// packageurl-js (15 modules) is loaded on the first purl, not at every start of the CLI.
let loaded: typeof PackageURLClass | undefined;
const purls = (): typeof PackageURLClass =>
  (loaded ??= (createRequire(import.meta.url)('packageurl-js') as { PackageURL: typeof PackageURLClass }).PackageURL);

/** What Cargo.lock writes for crates.io. */
export const CRATES_IO_SOURCE = 'registry+https://github.com/rust-lang/crates.io-index';

/** The crates.io index as a `repository_url` may name it (git index, sparse index). */
const CRATES_IO_INDEXES = new Set([
  'https://github.com/rust-lang/crates.io-index',
  'sparse+https://index.crates.io/',
  'https://index.crates.io/',
  'https://index.crates.io',
]);

export interface CargoPurl {
  name: string;
  version?: string;
  qualifiers: Record<string, string>;
  subpath?: string;
}

/** Parses a package URL; throws (with the library's message) when it is not one. */
export function parseAnyPurl(purl: string): { type: string; namespace?: string } & CargoPurl {
  const p = purls().fromString(purl);
  const qualifiers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (typeof v === 'string') qualifiers[k] = v;
  return {
    type: p.type,
    ...(p.namespace ? { namespace: p.namespace } : {}),
    name: p.name,
    ...(p.version ? { version: p.version } : {}),
    qualifiers,
    ...(p.subpath ? { subpath: p.subpath } : {}),
  };
}

/**
 * The Cargo `source` a cargo purl's qualifiers say: undefined for a path package (first-party),
 * crates.io without qualifiers; throws with the reason when the qualifiers say nothing Cargo has.
 */
export function sourceOfPurl(q: Record<string, string>): string | undefined {
  const download = q.download_url !== undefined ? urlOnce(q.download_url) : undefined;
  const vcs = q.vcs_url ?? (download?.startsWith('git+') ? download : undefined);
  if (vcs !== undefined) return gitSource(urlOnce(vcs));
  if (download !== undefined) {
    if (/^file:/i.test(download)) return undefined;
    if (/^https:\/\/(static\.)?crates\.io\//.test(download)) return CRATES_IO_SOURCE;
    throw new Error(
      `download_url ${JSON.stringify(download)} is neither a path (file:), a git repository (git+…) nor crates.io: the package's source cannot be told`,
    );
  }
  const repo = q.repository_url;
  if (repo === undefined || CRATES_IO_INDEXES.has(repo)) return CRATES_IO_SOURCE;
  return /^(registry|sparse)\+/.test(repo) ? repo : `registry+${repo}`;
}

/**
 * A qualifier's URL: cargo-cyclonedx percent-encodes a path package's `download_url` before the purl
 * encodes it again (`file%3A%2F%2F.` once the purl is decoded), so a value that does not start
 * with a scheme is decoded once more.
 */
function urlOnce(v: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(v)) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** `git+https://host/repo?rev=x@<commit>` → `git+https://host/repo?rev=x#<commit>` (a trailing `@<hex>` only). */
function gitSource(vcs: string): string {
  const url = vcs.startsWith('git+') ? vcs : `git+${vcs}`;
  const m = /^(.*)@([0-9a-f]{7,64})$/i.exec(url);
  return m && !m[2]!.includes('/') ? `${m[1]}#${m[2]}` : url;
}

/** The qualifiers that say where a package comes from (none for crates.io); `dir` is a path package's folder. */
export function qualifiersOfSource(source: string | undefined, dir?: string): Record<string, string> | undefined {
  if (source === undefined) return dir !== undefined ? { download_url: `file://${dir}` } : undefined;
  if (CRATES_IO_SOURCES.has(source)) return {};
  if (source.startsWith('git+')) return { vcs_url: source.replace('#', '@') };
  if (source.startsWith('registry+')) return { repository_url: source.slice('registry+'.length) };
  return { repository_url: source };
}

/**
 * The purl of a locked package, or undefined for a path package whose folder is not known (a
 * purl without qualifiers would claim it is on crates.io, where a crate of that name may be
 * someone else's).
 */
export function purlOfPackage(p: { name: string; version: string; source?: string }, dir?: string): string | undefined {
  const q = qualifiersOfSource(p.source, dir);
  if (q === undefined) return undefined;
  return new (purls())('cargo', undefined, p.name, p.version, Object.keys(q).length ? q : undefined, undefined).toString();
}
