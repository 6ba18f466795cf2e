/**
 * A CycloneDX document (JSON or XML, spec 1.4–1.6) read into the parts cratewatch uses: the
 * components (with their nesting), the root (`metadata.component`), the dependency graph and the
 * vulnerabilities (for VEX). Pure: the caller reads the file. Every error is a FormatError naming
 * the file and the field (`bom.json, field \`components[3].purl\`: …`); an XML document's fields are
 * named as in JSON (`components[3]` is the fourth `<component>` of `<components>`).
 */
import { FormatError } from '../errors.js';
import { isObject } from '../json.js';

export interface BomComponent {
  /** Where it is in the document: `metadata.component`, `components[3]`, `components[0].components[1]`. */
  path: string;
  bomRef?: string;
  type?: string;
  name?: string;
  version?: string;
  purl?: string;
  hashes: { alg: string; content: string }[];
  properties: { name: string; value: string }[];
  components: BomComponent[];
}

export interface BomVulnerability {
  path: string;
  bomRef?: string;
  id?: string;
  /** `source.name` / `source.url` (e.g. RustSec and the advisory's page). */
  source?: { name?: string; url?: string };
  /** `references[].id`: the same vulnerability elsewhere (CVE, GHSA). */
  references: string[];
  created?: string;
  published?: string;
  updated?: string;
  recommendation?: string;
  workaround?: string;
  analysis?: { state?: string; justification?: string; response: string[]; detail?: string; firstIssued?: string; lastUpdated?: string };
  affects: { path: string; ref?: string }[];
}

export interface CycloneDxBom {
  file: string;
  format: 'json' | 'xml';
  specVersion: string;
  serialNumber?: string;
  timestamp?: string;
  root?: BomComponent;
  components: BomComponent[];
  dependencies: { path: string; ref?: string; dependsOn: string[] }[];
  vulnerabilities?: BomVulnerability[];
}

/** The spec versions read (cargo-cyclonedx 0.5 writes 1.4 and 1.5; cratewatch writes 1.6). */
export const CYCLONEDX_VERSIONS = ['1.4', '1.5', '1.6'] as const;

/**
 * The file names CycloneDX recognises for an SBOM (its specification's "recognized file
 * patterns"): `bom.json`, `bom.xml`, `*.cdx.json`, `*.cdx.xml`.
 */
export function isSbomFileName(name: string): boolean {
  const base = name.split(/[\\/]/).pop() ?? name;
  return base === 'bom.json' || base === 'bom.xml' || /^[^.].*\.cdx\.(json|xml)$/.test(base);
}

type Fail = (field: string, detail: string) => never;

export function failer(file: string): Fail {
  return (field, detail) => {
    throw new FormatError(file, detail, field ? { field } : undefined);
  };
}

/** The spec version a document declares, refused unless 1.4–1.6. */
export function checkSpecVersion(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string')
    return fail(field, v === undefined ? 'is required (a CycloneDX document says its specVersion, e.g. "1.5")' : 'expected a string');
  if (!(CYCLONEDX_VERSIONS as readonly string[]).includes(v))
    fail(field, `CycloneDX ${v} is not read: expected ${CYCLONEDX_VERSIONS.join(', ')}`);
  return v;
}

/** A CycloneDX JSON document already parsed. */
export function readCycloneDxJson(doc: unknown, file: string): CycloneDxBom {
  const fail = failer(file);
  if (!isObject(doc)) return fail('', 'expected a CycloneDX document (a JSON object)');
  if (doc.bomFormat !== 'CycloneDX')
    fail(
      'bomFormat',
      doc.bomFormat === undefined
        ? 'is required: a CycloneDX document has "bomFormat": "CycloneDX"'
        : `expected "CycloneDX", got ${JSON.stringify(doc.bomFormat)}`,
    );
  const specVersion = checkSpecVersion(doc.specVersion, 'specVersion', fail);
  const r = reader(fail);
  const metadata = r.obj(doc, 'metadata', 'metadata') ?? {};
  const rootRaw = r.obj(metadata, 'component', 'metadata.component');
  const deps = r.list(doc, 'dependencies', 'dependencies').map((d, i) => {
    const at = `dependencies[${i}]`;
    if (!isObject(d)) return fail(at, 'expected an object with a `ref`');
    return {
      path: at,
      ref: r.str(d, 'ref', `${at}.ref`),
      dependsOn: r
        .list(d, 'dependsOn', `${at}.dependsOn`)
        .map((x, j) => (typeof x === 'string' ? x : fail(`${at}.dependsOn[${j}]`, 'expected a bom-ref (a string)'))),
    };
  });
  return {
    file,
    format: 'json',
    specVersion,
    ...opt('serialNumber', r.str(doc, 'serialNumber', 'serialNumber')),
    ...opt('timestamp', r.str(metadata, 'timestamp', 'metadata.timestamp')),
    ...(rootRaw ? { root: jsonComponent(rootRaw, 'metadata.component', r) } : {}),
    components: r.list(doc, 'components', 'components').map((c, i) => jsonComponent(c, `components[${i}]`, r)),
    dependencies: deps,
    ...(doc.vulnerabilities !== undefined
      ? {
          vulnerabilities: r
            .list(doc, 'vulnerabilities', 'vulnerabilities')
            .map((v, i) => jsonVulnerability(v, `vulnerabilities[${i}]`, r)),
        }
      : {}),
  };
}

export const opt = <K extends string, V>(k: K, v: V | undefined): { [P in K]?: V } =>
  v === undefined ? {} : ({ [k]: v } as { [P in K]: V });

type Reader = ReturnType<typeof reader>;

/** Typed field access that names the field of any value of the wrong type. */
function reader(fail: Fail) {
  return {
    fail,
    str(o: Record<string, unknown>, key: string, path: string): string | undefined {
      const v = o[key];
      if (v === undefined || v === null) return undefined;
      return typeof v === 'string' ? v : fail(path, 'expected a string');
    },
    obj(o: Record<string, unknown>, key: string, path: string): Record<string, unknown> | undefined {
      const v = o[key];
      if (v === undefined || v === null) return undefined;
      return isObject(v) ? v : fail(path, 'expected an object');
    },
    list(o: Record<string, unknown>, key: string, path: string): unknown[] {
      const v = o[key];
      if (v === undefined || v === null) return [];
      return Array.isArray(v) ? v : fail(path, 'expected an array');
    },
  };
}

function jsonComponent(c: unknown, at: string, r: Reader): BomComponent {
  if (!isObject(c)) return r.fail(at, 'expected a component object');
  return {
    path: at,
    ...opt('bomRef', r.str(c, 'bom-ref', `${at}.bom-ref`)),
    ...opt('type', r.str(c, 'type', `${at}.type`)),
    ...opt('name', r.str(c, 'name', `${at}.name`)),
    ...opt('version', r.str(c, 'version', `${at}.version`)),
    ...opt('purl', r.str(c, 'purl', `${at}.purl`)),
    hashes: r.list(c, 'hashes', `${at}.hashes`).map((h, i) => {
      const p = `${at}.hashes[${i}]`;
      if (!isObject(h)) return r.fail(p, 'expected an object with `alg` and `content`');
      return { alg: r.str(h, 'alg', `${p}.alg`) ?? '', content: r.str(h, 'content', `${p}.content`) ?? '' };
    }),
    properties: r.list(c, 'properties', `${at}.properties`).map((x, i) => {
      const p = `${at}.properties[${i}]`;
      if (!isObject(x)) return r.fail(p, 'expected an object with `name` and `value`');
      return { name: r.str(x, 'name', `${p}.name`) ?? '', value: r.str(x, 'value', `${p}.value`) ?? '' };
    }),
    components: r.list(c, 'components', `${at}.components`).map((s, i) => jsonComponent(s, `${at}.components[${i}]`, r)),
  };
}

function jsonVulnerability(v: unknown, at: string, r: Reader): BomVulnerability {
  if (!isObject(v)) return r.fail(at, 'expected a vulnerability object');
  const source = r.obj(v, 'source', `${at}.source`);
  const analysis = r.obj(v, 'analysis', `${at}.analysis`);
  const strings = (o: Record<string, unknown>, key: string, path: string) =>
    r.list(o, key, path).map((x, i) => (typeof x === 'string' ? x : r.fail(`${path}[${i}]`, 'expected a string')));
  return {
    path: at,
    ...opt('bomRef', r.str(v, 'bom-ref', `${at}.bom-ref`)),
    ...opt('id', r.str(v, 'id', `${at}.id`)),
    ...(source
      ? { source: { ...opt('name', r.str(source, 'name', `${at}.source.name`)), ...opt('url', r.str(source, 'url', `${at}.source.url`)) } }
      : {}),
    references: r.list(v, 'references', `${at}.references`).flatMap((x, i) => {
      if (!isObject(x)) return r.fail(`${at}.references[${i}]`, 'expected an object with an `id`');
      const id = r.str(x, 'id', `${at}.references[${i}].id`);
      return id ? [id] : [];
    }),
    ...opt('created', r.str(v, 'created', `${at}.created`)),
    ...opt('published', r.str(v, 'published', `${at}.published`)),
    ...opt('updated', r.str(v, 'updated', `${at}.updated`)),
    ...opt('recommendation', r.str(v, 'recommendation', `${at}.recommendation`)),
    ...opt('workaround', r.str(v, 'workaround', `${at}.workaround`)),
    ...(analysis
      ? {
          analysis: {
            ...opt('state', r.str(analysis, 'state', `${at}.analysis.state`)),
            ...opt('justification', r.str(analysis, 'justification', `${at}.analysis.justification`)),
            response: strings(analysis, 'response', `${at}.analysis.response`),
            ...opt('detail', r.str(analysis, 'detail', `${at}.analysis.detail`)),
            ...opt('firstIssued', r.str(analysis, 'firstIssued', `${at}.analysis.firstIssued`)),
            ...opt('lastUpdated', r.str(analysis, 'lastUpdated', `${at}.analysis.lastUpdated`)),
          },
        }
      : {}),
    affects: r.list(v, 'affects', `${at}.affects`).map((a, i) => {
      const p = `${at}.affects[${i}]`;
      if (!isObject(a)) return r.fail(p, 'expected an object with a `ref`');
      return { path: p, ...opt('ref', r.str(a, 'ref', `${p}.ref`)) };
    }),
  };
}

/** Every component of the document, the root first, nested ones after their parent. */
export function allComponents(bom: CycloneDxBom): BomComponent[] {
  const out: BomComponent[] = [];
  const walk = (c: BomComponent) => {
    out.push(c);
    c.components.forEach(walk);
  };
  if (bom.root) walk(bom.root);
  bom.components.forEach(walk);
  return out;
}

/** How a component is named in an error: its path and bom-ref (`components[3] (bom-ref "…")`). */
export const componentLabel = (c: BomComponent): string =>
  `${c.path}${c.bomRef !== undefined ? ` (bom-ref ${JSON.stringify(c.bomRef)})` : ''}`;

/** How a component is named at the start of an error that already gives its path: `component serde (bom-ref "…")`. */
export const componentName = (c: BomComponent): string =>
  `component ${c.name ?? '(no name)'}${c.bomRef !== undefined ? ` (bom-ref ${JSON.stringify(c.bomRef)})` : ''}`;
