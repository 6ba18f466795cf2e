/**
 * CycloneDX VEX (JSON or XML): each `vulnerabilities[]` entry with an `analysis` is one statement of
 * the VEX model (`../vex.ts`), so that scan, gate and the scorer honour it as an OpenVEX one.
 *
 * - status from `analysis.state`: `not_affected`, `false_positive` → not_affected; `resolved`,
 *   `resolved_with_pedigree` → fixed; `exploitable` → affected; `in_triage` → under_investigation.
 * - justification: CycloneDX's `code_not_present` → vulnerable_code_not_present, `code_not_reachable`
 *   → vulnerable_code_not_in_execute_path, `protected_*` → inline_mitigations_already_exist; the
 *   `requires_*` ones have no OpenVEX equal and are said in the impact statement (always with the
 *   CycloneDX name and `analysis.detail`, so nothing is lost).
 * - products: each `affects[].ref`: a bom-ref of a component of this document (its purl), a purl,
 *   or a BOM-Link (`urn:cdx:<serial>/<version>#<bom-ref>`, its fragment read the same way).
 * - the vulnerability: `id`, `source.url` as its IRI, `references[].id` as aliases.
 * - timestamp: `analysis.lastUpdated`, else `firstIssued`, the vulnerability's `updated`,
 *   `published`, `created`, else the document's `metadata.timestamp`.
 * Entries without `analysis` say nothing (a vulnerability listing, not VEX); a document with no
 * analysed entry is refused. `affects[].versions` is not read: the ref's purl names the version.
 */
import type { VexDocument, VexStatement } from '../events.js';
import { parsePurl, vexTime } from '../vex.js';
import { allComponents, failer, type BomComponent, type BomVulnerability, type CycloneDxBom } from './bom.js';

const STATES: Record<string, VexStatement['status']> = {
  not_affected: 'not_affected',
  false_positive: 'not_affected',
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
};

type Justification = NonNullable<VexStatement['justification']>;
const JUSTIFICATIONS: Record<string, Justification | null> = {
  code_not_present: 'vulnerable_code_not_present',
  code_not_reachable: 'vulnerable_code_not_in_execute_path',
  requires_configuration: null,
  requires_dependency: null,
  requires_environment: null,
  protected_by_compiler: 'inline_mitigations_already_exist',
  protected_at_runtime: 'inline_mitigations_already_exist',
  protected_at_perimeter: 'inline_mitigations_already_exist',
  protected_by_mitigating_control: 'inline_mitigations_already_exist',
};

export function vexFromCycloneDx(bom: CycloneDxBom): VexDocument {
  const fail = failer(bom.file);
  if (bom.vulnerabilities === undefined)
    fail('vulnerabilities', 'is required: a CycloneDX VEX document lists `vulnerabilities` with their `analysis`');
  const byRef = new Map<string, BomComponent>();
  for (const c of allComponents(bom)) if (c.bomRef !== undefined) byRef.set(c.bomRef, c);
  const docTime =
    bom.timestamp !== undefined
      ? (vexTime(bom.timestamp) ?? fail('metadata.timestamp', `expected an RFC 3339 date-time, got ${JSON.stringify(bom.timestamp)}`))
      : undefined;
  const statements = bom.vulnerabilities!.flatMap((v, i) => (v.analysis ? [statementOf(v, i, byRef, docTime, fail)] : []));
  if (statements.length === 0)
    fail('vulnerabilities', 'no vulnerability has an `analysis`: the document states nothing about exploitability (not a VEX)');
  return { file: bom.file, ...(bom.serialNumber ? { id: bom.serialNumber } : {}), ...(docTime ? { timestamp: docTime } : {}), statements };
}

function statementOf(
  v: BomVulnerability,
  index: number,
  byRef: Map<string, BomComponent>,
  docTime: string | undefined,
  fail: (f: string, d: string) => never,
): VexStatement {
  const at = v.path;
  const a = v.analysis!;
  const name = v.id?.trim();
  if (!name) fail(`${at}.id`, 'is required: the vulnerability needs an `id` (e.g. RUSTSEC-2024-0001, CVE-2024-1234) to be matched');
  if (a.state === undefined) fail(`${at}.analysis.state`, `is required (${Object.keys(STATES).join(', ')})`);
  const status =
    STATES[a.state!] ?? fail(`${at}.analysis.state`, `expected one of ${Object.keys(STATES).join(', ')}, got ${JSON.stringify(a.state)}`);
  let justification: Justification | undefined;
  if (a.justification !== undefined) {
    if (!(a.justification in JUSTIFICATIONS))
      fail(
        `${at}.analysis.justification`,
        `expected one of ${Object.keys(JUSTIFICATIONS).join(', ')}, got ${JSON.stringify(a.justification)}`,
      );
    justification = JUSTIFICATIONS[a.justification] ?? undefined;
  }
  const detail = a.detail?.trim() || undefined;
  if (status === 'not_affected' && a.state === 'not_affected' && a.justification === undefined && !detail) {
    fail(
      `${at}.analysis.justification`,
      'a not_affected analysis must give a `justification` or a `detail` (why the product is not affected)',
    );
  }
  // What CycloneDX said that the model has no field for, kept in words.
  const said =
    [
      a.state === 'false_positive' ? 'false positive' : undefined,
      a.justification && !justification ? a.justification.replace(/_/g, ' ') : undefined,
      detail,
    ]
      .filter(Boolean)
      .join(': ') || undefined;
  const action =
    [...a.response.map((r) => r.replace(/_/g, ' ')), v.recommendation?.trim(), v.workaround?.trim()].filter(Boolean).join('; ') ||
    undefined;
  if (v.affects.length === 0) fail(`${at}.affects`, 'is required: the components (bom-refs or purls) the analysis is about');
  const products = v.affects.map((t) => productOf(t, byRef, fail));
  const when = [a.lastUpdated, a.firstIssued, v.updated, v.published, v.created].find((t) => t !== undefined);
  const timestamp =
    when !== undefined
      ? (vexTime(when) ?? fail(`${at}.analysis.lastUpdated`, `expected an RFC 3339 date-time, got ${JSON.stringify(when)}`))
      : docTime;
  if (timestamp === undefined)
    fail(
      `${at}.analysis.lastUpdated`,
      'no timestamp on the analysis, the vulnerability nor the document (metadata.timestamp): which statement is the latest cannot be told',
    );
  const aliases = [...new Set(v.references.map((r) => r.trim()).filter((r) => r && r !== name))];
  return {
    index,
    path: at,
    vulnerability: { name: name!, ...(v.source?.url ? { id: v.source.url } : {}), aliases },
    products,
    status,
    ...(justification && status === 'not_affected' ? { justification } : {}),
    ...(status === 'not_affected' && said ? { impactStatement: said } : {}),
    ...(status === 'affected' && action ? { actionStatement: action } : {}),
    ...(status !== 'not_affected' && said ? { statusNotes: said } : {}),
    timestamp: timestamp!,
  };
}

/** An `affects[]` target as a product: the purl it stands for (none: kept by id, matching nothing). */
function productOf(
  t: { path: string; ref?: string },
  byRef: Map<string, BomComponent>,
  fail: (f: string, d: string) => never,
): VexStatement['products'][number] {
  const field = `${t.path}.ref`;
  const ref = t.ref?.trim();
  if (!ref) return fail(field, 'is required: the bom-ref (or purl) of the affected component');
  const link = /^urn:cdx:[^#]*#(.+)$/.exec(ref);
  const target = link ? safeDecode(link[1]!) : ref;
  const purl = (p: string): string => {
    try {
      parsePurl(p);
    } catch (err) {
      fail(field, `${(err as Error).message}: ${JSON.stringify(p)}`);
    }
    return p;
  };
  if (/^pkg:/i.test(target)) return { id: ref, purls: [purl(target)], subcomponents: [] };
  const c = byRef.get(target);
  if (c?.purl) return { id: ref, purls: [purl(c.purl.trim())], subcomponents: [] };
  if (c) return fail(field, `names component ${JSON.stringify(target)}, which has no purl: the crate it is cannot be told`);
  if (link) return { id: ref, purls: [], subcomponents: [] }; // a component of another BOM: nothing here to match it to
  return fail(
    field,
    `names no component of this document (bom-ref ${JSON.stringify(ref)}); give a bom-ref of its components, a purl or a BOM-Link`,
  );
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
