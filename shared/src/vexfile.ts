/**
 * A VEX file of any format cratewatch reads, told apart by its content: OpenVEX (`@context`
 * openvex.dev), CSAF VEX (`document.category` csaf_…), CycloneDX VEX (`bomFormat` CycloneDX, or
 * XML `<bom>`). All become the same `VexDocument`, so every consumer honours them alike.
 */
import { isSbomFileName, readCycloneDxJson } from './cyclonedx/bom.js';
import { parseCycloneDx } from './cyclonedx/parse.js';
import { vexFromCycloneDx } from './cyclonedx/vex.js';
import { isCsafDocument, vexFromCsaf } from './csaf.js';
import type { VexDocument } from './events.js';
import { isObject, parseJsonText } from './json.js';
import { isVexFileName, readVexDocument } from './vex.js';

export function parseVexFile(text: string, file: string): VexDocument {
  if (text.trimStart().startsWith('<')) return vexFromCycloneDx(parseCycloneDx(text, file));
  const doc = parseJsonText(text, file);
  if (isCsafDocument(doc)) return vexFromCsaf(doc, file);
  if (isObject(doc) && doc.bomFormat !== undefined) return vexFromCycloneDx(readCycloneDxJson(doc, file));
  return readVexDocument(doc, file);
}

/**
 * The names of a workspace's VEX files beside its Cargo.lock: OpenVEX's (`vex.json`,
 * `<name>.openvex.json`: `isVexFileName`), and `<name>.vex.json`, `<name>.vex.xml` (a CycloneDX
 * VEX), `<name>.csaf.json` (a CSAF VEX). Which format a file is comes from its content. An SBOM
 * name (`bom.json`, `*.cdx.json`) is never a VEX file name: the SBOM is the workspace.
 */
export function isVexDocumentFileName(name: string): boolean {
  if (isVexFileName(name)) return true;
  if (name.startsWith('.') || isSbomFileName(name)) return false;
  return /^.+\.(vex\.json|vex\.xml|csaf\.json)$/.test(name);
}
