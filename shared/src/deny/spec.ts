/**
 * cargo-deny's package specs, the way every list in deny.toml names crates: `name` (any version),
 * `name@1.2.3` (exactly that version), `name:<=0.1,>0.2` (a Cargo version requirement), or a table
 * `{ crate = "name@1.2.3", … }` / the older `{ name = "name", version = "<1" }`.
 */
import { cargoReqMatches } from '../vet/versionreq.js';

export interface PackageSpec {
  name: string;
  /** A Cargo version requirement; undefined: every version. */
  req?: string;
  /** How deny.toml wrote it, for messages. */
  text: string;
}

/** Parses the string form; throws an Error with the reason (the caller names file and key). */
export function parseSpecString(text: string): PackageSpec {
  const s = text.trim();
  const at = s.indexOf('@');
  const colon = s.indexOf(':');
  let name = s;
  let req: string | undefined;
  if (at > 0 && (colon < 0 || at < colon)) {
    name = s.slice(0, at);
    req = `=${s.slice(at + 1).trim()}`;
  } else if (colon > 0) {
    name = s.slice(0, colon);
    req = s.slice(colon + 1).trim();
  }
  if (!/^[A-Za-z0-9_-]+$/.test(name))
    throw new Error(`"${text}" is not a crate name or package spec (name, name@version, name:requirement)`);
  if (req !== undefined) {
    if (req === '' || req === '=') throw new Error(`"${text}": empty version requirement`);
    try {
      cargoReqMatches(req, '0.0.0');
    } catch {
      throw new Error(`"${text}": "${req}" is not a Cargo version requirement`);
    }
    if (req === '*') req = undefined;
  }
  return { name, req, text: s };
}

/** Does the spec select this crate-version? Names compare exactly, as cargo-deny compares them. */
export function specMatches(spec: PackageSpec, p: { name: string; version: string }): boolean {
  return spec.name === p.name && (spec.req === undefined || cargoReqMatches(spec.req, p.version));
}
