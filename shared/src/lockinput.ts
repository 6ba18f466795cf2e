/**
 * A workspace's locked packages from either source cratewatch reads them from: a `Cargo.lock`, or
 * a CycloneDX SBOM (`bom.json`, `bom.xml`, `*.cdx.json`, `*.cdx.xml`: told by the file name, as
 * CycloneDX names them) — the same `Lockfile` either way.
 */
import { isSbomFileName } from './cyclonedx/bom.js';
import { lockfileFromCycloneDx } from './cyclonedx/lockfile.js';
import { parseCycloneDx } from './cyclonedx/parse.js';
import { parseLockfile, type Lockfile } from './lockfile.js';

export function parseWorkspaceLock(text: string, file: string): Lockfile {
  return isSbomFileName(file) ? lockfileFromCycloneDx(parseCycloneDx(text, file)) : parseLockfile(text, file);
}
