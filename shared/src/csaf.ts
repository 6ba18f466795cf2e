/**
 * CSAF VEX (CSAF 2.0, profile `csaf_vex`; 2.1's `purls` too) read into the VEX model (`./vex.ts`):
 * one statement per vulnerability, status and product, so that scan, gate and the scorer honour it
 * as an OpenVEX one.
 *
 * - status from `product_status`: `known_not_affected` → not_affected; `fixed`, `first_fixed` →
 *   fixed; `known_affected`, `first_affected`, `last_affected` → affected; `under_investigation` →
 *   under_investigation (`recommended` says nothing about exposure and is not read).
 * - products: a product id is looked up in the `product_tree` (branches, `full_product_names`,
 *   `relationships`): its `product_identification_helper.purl` (or `purls`); a relationship
 *   product (`X default_component_of Y`) without a purl of its own is product Y with subcomponent X,
 *   as OpenVEX says it.
 * - not_affected needs a `flags[]` label (its justification, the same five names as OpenVEX) or a
 *   `threats[]` entry of category `impact` (its impact statement) for that product or one of its
 *   `product_groups`, as the CSAF VEX profile requires; affected takes `remediations[]` as its
 *   action statement.
 * - the vulnerability: `cve`, and `ids[].text` as aliases (or the name when there is no cve).
 * - timestamp: `document.tracking.current_release_date` (required).
 * Errors are FormatErrors naming the file and the JSON path.
 */
import { VexJustificationSchema, type VexDocument, type VexStatement } from './events.js';
import { FormatError } from './errors.js';
import { isObject } from './json.js';
import { parsePurl, vexTime } from './vex.js';

const STATUSES: [string, VexStatement['status']][] = [
  ['known_not_affected', 'not_affected'],
  ['fixed', 'fixed'],
  ['first_fixed', 'fixed'],
  ['known_affected', 'affected'],
  ['first_affected', 'affected'],
  ['last_affected', 'affected'],
  ['under_investigation', 'under_investigation'],
];

type O = Record<string, unknown>;
type Fail = (field: string, detail: string) => never;

/** Whether a parsed JSON document is CSAF (`document.category` csaf_…, or a `csaf_version`). */
export function isCsafDocument(doc: unknown): boolean {
  return (
    isObject(doc) &&
    isObject(doc.document) &&
    ((typeof doc.document.category === 'string' && /^csaf_/i.test(doc.document.category)) || doc.document.csaf_version !== undefined)
  );
}

export function vexFromCsaf(doc: unknown, file: string): VexDocument {
  const fail: Fail = (field, detail) => {
    throw new FormatError(file, detail, field ? { field } : undefined);
  };
  if (!isObject(doc) || !isObject(doc.document)) return fail('document', 'expected a CSAF document (a JSON object with `document`)');
  const tracking = isObject(doc.document.tracking)
    ? doc.document.tracking
    : fail('document.tracking', 'is required: a CSAF document has `tracking` with its `current_release_date`');
  const released = tracking.current_release_date;
  if (typeof released !== 'string')
    fail('document.tracking.current_release_date', 'is required: the release date decides which statement is the latest');
  const timestamp =
    vexTime(released as string) ??
    fail('document.tracking.current_release_date', `expected an RFC 3339 date-time, got ${JSON.stringify(released)}`);
  const tree = productTree(doc.product_tree, fail);
  const groups = productGroups(doc.product_tree, fail);
  if (!Array.isArray(doc.vulnerabilities))
    fail(
      'vulnerabilities',
      doc.vulnerabilities === undefined ? 'is required (the vulnerabilities and their product_status)' : 'expected an array',
    );
  const statements: VexStatement[] = [];
  (doc.vulnerabilities as unknown[]).forEach((v, i) => {
    const at = `vulnerabilities[${i}]`;
    if (!isObject(v)) fail(at, 'expected a vulnerability object');
    const vuln = vulnerabilityNames(v as O, at, fail);
    const status = (v as O).product_status;
    if (status === undefined) return;
    if (!isObject(status)) fail(`${at}.product_status`, 'expected an object');
    const about = productFacts(v as O, at, groups, fail);
    for (const [key, model] of STATUSES) {
      const ids = (status as O)[key];
      if (ids === undefined) continue;
      if (!Array.isArray(ids)) fail(`${at}.product_status.${key}`, 'expected an array of product ids');
      (ids as unknown[]).forEach((pid, k) => {
        const path = `${at}.product_status.${key}[${k}]`;
        if (typeof pid !== 'string') fail(path, 'expected a product id (a string)');
        const product = tree.get(pid as string) ?? fail(path, `product id ${JSON.stringify(pid)} is not in the product_tree`);
        const facts = about(pid as string);
        if (model === 'not_affected' && !facts.justification && !facts.impact) {
          fail(
            path,
            `a known_not_affected product needs a flag (its justification) or an impact threat (its impact statement) in ${at}.flags / ${at}.threats`,
          );
        }
        statements.push({
          index: statements.length,
          path,
          vulnerability: vuln,
          products: [product],
          status: model,
          ...(model === 'not_affected' && facts.justification ? { justification: facts.justification } : {}),
          ...(model === 'not_affected' && facts.impact ? { impactStatement: facts.impact } : {}),
          ...(model === 'affected' && facts.remediation ? { actionStatement: facts.remediation } : {}),
          ...(model !== 'not_affected' && facts.impact ? { statusNotes: facts.impact } : {}),
          timestamp,
        });
      });
    }
  });
  const id = typeof tracking.id === 'string' ? tracking.id : undefined;
  const publisher =
    isObject(doc.document.publisher) && typeof doc.document.publisher.name === 'string' ? doc.document.publisher.name : undefined;
  return { file, ...(id ? { id } : {}), ...(publisher ? { author: publisher } : {}), timestamp, statements };
}

function vulnerabilityNames(v: O, at: string, fail: Fail): VexStatement['vulnerability'] {
  if (v.cve !== undefined && typeof v.cve !== 'string') fail(`${at}.cve`, 'expected a string');
  const ids: string[] = [];
  if (v.ids !== undefined) {
    if (!Array.isArray(v.ids)) fail(`${at}.ids`, 'expected an array');
    (v.ids as unknown[]).forEach((x, k) => {
      if (!isObject(x) || typeof x.text !== 'string')
        fail(`${at}.ids[${k}].text`, 'is required (the id in that system, e.g. RUSTSEC-2024-0001)');
      ids.push(((x as O).text as string).trim());
    });
  }
  const name = (v.cve as string | undefined)?.trim() || ids[0];
  if (!name) fail(`${at}.cve`, 'the vulnerability needs a `cve` or an `ids[]` entry to be matched');
  return { name: name!, aliases: ids.filter((x) => x && x !== name) };
}

/** Each product id of the tree as a VEX product (its purls, and for a relationship its component). */
function productTree(raw: unknown, fail: Fail): Map<string, VexStatement['products'][number]> {
  const out = new Map<string, VexStatement['products'][number]>();
  if (raw === undefined) return out;
  if (!isObject(raw)) return fail('product_tree', 'expected an object');
  const purlsOf = (fpn: O, path: string): string[] => {
    const h = fpn.product_identification_helper;
    if (h === undefined) return [];
    if (!isObject(h)) return fail(`${path}.product_identification_helper`, 'expected an object');
    const list = [...(h.purl !== undefined ? [h.purl] : []), ...(Array.isArray(h.purls) ? h.purls : [])];
    return list.map((p, k) => {
      const f = `${path}.product_identification_helper.${h.purl !== undefined && k === 0 ? 'purl' : `purls[${k - (h.purl !== undefined ? 1 : 0)}]`}`;
      if (typeof p !== 'string') return fail(f, 'expected a package URL (a string)');
      try {
        parsePurl(p);
      } catch (err) {
        fail(f, `${(err as Error).message}: ${JSON.stringify(p)}`);
      }
      return p;
    });
  };
  const add = (fpn: unknown, path: string) => {
    if (!isObject(fpn) || typeof fpn.product_id !== 'string') return fail(`${path}.product_id`, 'is required (a string)');
    out.set(fpn.product_id, { id: fpn.product_id, purls: purlsOf(fpn, path), subcomponents: [] });
  };
  const walk = (branches: unknown, path: string) => {
    if (branches === undefined) return;
    if (!Array.isArray(branches)) fail(path, 'expected an array of branches');
    (branches as unknown[]).forEach((b, k) => {
      const at = `${path}[${k}]`;
      if (!isObject(b)) fail(at, 'expected a branch object');
      if ((b as O).product !== undefined) add((b as O).product, `${at}.product`);
      walk((b as O).branches, `${at}.branches`);
    });
  };
  walk(raw.branches, 'product_tree.branches');
  (Array.isArray(raw.full_product_names) ? raw.full_product_names : []).forEach((f, k) => add(f, `product_tree.full_product_names[${k}]`));
  (Array.isArray(raw.relationships) ? raw.relationships : []).forEach((r, k) => {
    const at = `product_tree.relationships[${k}]`;
    if (!isObject(r)) fail(at, 'expected a relationship object');
    const rel = r as O;
    add(rel.full_product_name, `${at}.full_product_name`);
    const id = (rel.full_product_name as O).product_id as string;
    if (out.get(id)!.purls.length > 0) return;
    const part =
      out.get(String(rel.product_reference)) ??
      fail(`${at}.product_reference`, `product id ${JSON.stringify(rel.product_reference)} is not in the product_tree`);
    const whole =
      out.get(String(rel.relates_to_product_reference)) ??
      fail(
        `${at}.relates_to_product_reference`,
        `product id ${JSON.stringify(rel.relates_to_product_reference)} is not in the product_tree`,
      );
    out.set(id, { id, purls: whole.purls, subcomponents: [...part.purls, ...part.subcomponents] });
  });
  return out;
}

function productGroups(raw: unknown, fail: Fail): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const list = isObject(raw) ? raw.product_groups : undefined;
  if (list === undefined) return out;
  if (!Array.isArray(list)) return fail('product_tree.product_groups', 'expected an array');
  list.forEach((g, k) => {
    if (!isObject(g) || typeof g.group_id !== 'string' || !Array.isArray(g.product_ids))
      fail(`product_tree.product_groups[${k}]`, 'expected a `group_id` and `product_ids`');
    out.set((g as O).group_id as string, ((g as O).product_ids as unknown[]).map(String));
  });
  return out;
}

/** Per product id: the justification (flags), impact (threats of category impact) and remediation said for it. */
function productFacts(v: O, at: string, groups: Map<string, string[]>, fail: Fail) {
  const concerns = (e: O, pid: string) =>
    (Array.isArray(e.product_ids) && e.product_ids.includes(pid)) ||
    (Array.isArray(e.group_ids) && e.group_ids.some((g) => groups.get(String(g))?.includes(pid)));
  const entries = (key: string): O[] => {
    const l = v[key];
    if (l === undefined) return [];
    if (!Array.isArray(l)) return fail(`${at}.${key}`, 'expected an array');
    return l.map((e, k) => (isObject(e) ? e : fail(`${at}.${key}[${k}]`, 'expected an object')));
  };
  const flags = entries('flags');
  flags.forEach((f, k) => {
    if (!VexJustificationSchema.safeParse(f.label).success)
      fail(`${at}.flags[${k}].label`, `expected one of ${VexJustificationSchema.options.join(', ')}, got ${JSON.stringify(f.label)}`);
  });
  const threats = entries('threats').filter((t) => t.category === 'impact' && typeof t.details === 'string');
  const remediations = entries('remediations').filter((r) => typeof r.details === 'string');
  return (pid: string) => {
    const flag = flags.find((f) => concerns(f, pid));
    const impact =
      threats
        .filter((t) => concerns(t, pid))
        .map((t) => (t.details as string).trim())
        .join(' ') || undefined;
    const remediation =
      remediations
        .filter((r) => concerns(r, pid))
        .map((r) => `${r.category}: ${(r.details as string).trim()}`)
        .join('; ') || undefined;
    return { justification: flag ? VexJustificationSchema.parse(flag.label) : undefined, impact, remediation };
  };
}
