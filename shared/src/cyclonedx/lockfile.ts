/**
 * A CycloneDX SBOM as the locked packages of a workspace: the same `Lockfile` the Cargo.lock reader
 * gives (ids, sources, checksums, resolved dependency ids), so that coverage, advisories, VEX and
 * the graph treat an SBOM exactly as a Cargo.lock.
 *
 * - A crate is a component with a `pkg:cargo` purl that has a version and no subpath (a subpath
 *   names a file or target inside a package: cargo-cyclonedx lists the root's bin/lib targets so).
 *   Its source comes from the purl's qualifiers (`./purl.ts`); `hashes` SHA-256 is the checksum.
 *   A component with no purl is a crate only when cratewatch wrote it as a path package (the
 *   property `cratewatch:package-source` = `path`, see `./write.ts`); other components (files,
 *   other ecosystems, a workspace root that is no crate) are not packages and are left out.
 * - `dependencies[]` (`ref` → `dependsOn[]`) gives the edges between crates; a ref that names no
 *   component of the document is refused.
 * Errors name the file, the field and the component's bom-ref.
 */
import { FormatError } from '../errors.js';
import { lockedIdRule, type LockedPackage, type Lockfile } from '../lockfile.js';
import { isSemVer } from '../rustsemver.js';
import { allComponents, componentLabel, componentName, type BomComponent, type CycloneDxBom } from './bom.js';
import { parseAnyPurl, sourceOfPurl } from './purl.js';

/** The property cratewatch writes on a path package it knows no folder for (so it has no purl). */
export const PACKAGE_SOURCE_PROPERTY = 'cratewatch:package-source';

type Crate = Omit<LockedPackage, 'id' | 'dependencies'> & { component: BomComponent };

export function lockfileFromCycloneDx(bom: CycloneDxBom): Lockfile {
  const file = bom.file;
  const all = allComponents(bom);
  const byRef = new Map<string, BomComponent>();
  for (const c of all) {
    if (c.bomRef === undefined) continue;
    const seen = byRef.get(c.bomRef);
    if (seen)
      throw new FormatError(
        file,
        `bom-ref ${JSON.stringify(c.bomRef)} is used twice (first by ${seen.path}): a reference must name one component`,
        { field: `${c.path}.bom-ref` },
      );
    byRef.set(c.bomRef, c);
  }
  const crates = all.flatMap((c) => crateOf(c, file));
  if (crates.length === 0)
    throw new FormatError(
      file,
      'no pkg:cargo component: not an SBOM of a Rust workspace (components need purls such as pkg:cargo/serde@1.0.0)',
      { field: 'components' },
    );
  refuseDuplicates(crates, file);
  const idOf = lockedIdRule(crates);
  const idByComponent = new Map<BomComponent, string>(crates.map((c) => [c.component, idOf(c)]));
  const deps = new Map<string, string[]>();
  const resolve = (ref: string, field: string): string | undefined => {
    const c = byRef.get(ref);
    if (!c) throw new FormatError(file, `names no component of this document (bom-ref ${JSON.stringify(ref)})`, { field });
    return idByComponent.get(c); // a component that is no crate: its edges are not the lockfile's
  };
  for (const d of bom.dependencies) {
    if (d.ref === undefined)
      throw new FormatError(file, 'is required: the bom-ref of the component whose dependencies these are', { field: `${d.path}.ref` });
    const from = resolve(d.ref, `${d.path}.ref`);
    const to = d.dependsOn.flatMap((r, j) => resolve(r, `${d.path}.dependsOn[${j}]`) ?? []);
    if (from === undefined) continue;
    const list = deps.get(from) ?? [];
    for (const t of to) if (!list.includes(t)) list.push(t);
    deps.set(from, list);
  }
  return {
    version: 4, // the model's format number; an SBOM has none of Cargo's
    packages: crates.map(({ component, ...p }) => ({ id: idOf(p), ...p, dependencies: deps.get(idOf(p)) ?? [] })),
  };
}

/** The crate a component is, or none; a pkg:cargo component that cannot be one is refused, naming it. */
function crateOf(c: BomComponent, file: string): Crate[] {
  const fail = (field: string, detail: string): never => {
    throw new FormatError(file, `${componentName(c)}: ${detail}`, { field });
  };
  if (c.purl === undefined) {
    if (!c.properties.some((p) => p.name === PACKAGE_SOURCE_PROPERTY && p.value === 'path')) return [];
    if (!c.name) fail(`${c.path}.name`, 'a path package needs a name');
    if (!c.version || !isSemVer(c.version))
      fail(`${c.path}.version`, `a path package needs a SemVer version, got ${JSON.stringify(c.version ?? null)}`);
    return [{ name: c.name!, version: c.version!, component: c }];
  }
  if (!/^pkg:cargo(\/|$)/i.test(c.purl.trim())) return [];
  let purl: ReturnType<typeof parseAnyPurl>;
  try {
    purl = parseAnyPurl(c.purl.trim());
  } catch (err) {
    return fail(`${c.path}.purl`, `not a package URL (${(err as Error).message}): ${JSON.stringify(c.purl)}`);
  }
  if (purl.subpath !== undefined) return []; // a file or target inside a package, not a package
  if (purl.namespace !== undefined) fail(`${c.path}.purl`, `a cargo package URL has no namespace: ${JSON.stringify(c.purl)}`);
  if (purl.version === undefined)
    fail(
      `${c.path}.purl`,
      `the purl has no version (pkg:cargo/${purl.name}@VERSION): an SBOM read as a lockfile must say which version is locked`,
    );
  if (!isSemVer(purl.version!))
    fail(`${c.path}.purl`, `package ${JSON.stringify(purl.name)}: version ${JSON.stringify(purl.version)} is not SemVer`);
  if (c.version !== undefined && c.version !== purl.version)
    fail(`${c.path}.version`, `version ${JSON.stringify(c.version)} differs from the purl's ${JSON.stringify(purl.version)}`);
  let source: string | undefined;
  try {
    source = sourceOfPurl(purl.qualifiers);
  } catch (err) {
    return fail(`${c.path}.purl`, (err as Error).message);
  }
  const sha = c.hashes.find((h) => h.alg.toUpperCase() === 'SHA-256')?.content;
  return [
    {
      name: purl.name,
      version: purl.version!,
      ...(source !== undefined ? { source } : {}),
      ...(sha ? { checksum: sha.toLowerCase() } : {}),
      component: c,
    },
  ];
}

/** The same crate (name, version, source) twice, as Cargo refuses a package locked twice. */
function refuseDuplicates(crates: Crate[], file: string): void {
  const first = new Map<string, Crate>();
  for (const c of crates) {
    const key = `${c.name}\u0000${c.version}\u0000${c.source ?? ''}`;
    const seen = first.get(key);
    if (!seen) {
      first.set(key, c);
      continue;
    }
    throw new FormatError(
      file,
      `${componentName(c.component)}: package "${c.name}" ${c.version}${c.source ? ` (${c.source.split('#')[0]})` : ''} is listed twice (first as ${componentLabel(seen.component)})`,
      { field: c.component.path },
    );
  }
}
