/**
 * CycloneDX XML (1.4–1.6, as `cargo cyclonedx` writes it by default) read with fast-xml-parser
 * (docs/adr/0015-cyclonedx-libraries.md) into the same `CycloneDxBom` as the JSON form. The spec
 * version comes from the namespace (`http://cyclonedx.org/schema/bom/1.4`). A DOCTYPE is refused:
 * CycloneDX has none, and entity declarations are how XML documents blow up a parser.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { FormatError } from '../errors.js';
import { isObject } from '../json.js';
import { checkSpecVersion, failer, opt, type BomComponent, type BomVulnerability, type CycloneDxBom } from './bom.js';

/** Elements that may repeat, read as arrays even when there is one. */
const REPEATED = new Set(['component', 'dependency', 'hash', 'property', 'vulnerability', 'reference', 'target', 'response']);

type X = Record<string, unknown>;

export function readCycloneDxXml(text: string, file: string): CycloneDxBom {
  const fail = failer(file);
  const doctype = /<!DOCTYPE/i.exec(text);
  if (doctype)
    throw new FormatError(file, 'a DOCTYPE is not allowed in a CycloneDX document', {
      line: text.slice(0, doctype.index).split('\n').length,
    });
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new FormatError(file, `not well-formed XML: ${valid.err.msg}`, { line: valid.err.line });
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '@',
    removeNSPrefix: true,
    parseTagValue: false,
    parseAttributeValue: false,
    trimValues: true,
    processEntities: true,
    htmlEntities: false,
    isArray: (name) => REPEATED.has(name),
  });
  const doc = parser.parse(text) as X;
  const bom = doc.bom;
  if (!isObject(bom)) return fail('', 'expected a CycloneDX document: the root element is <bom>');
  // The parser drops namespace declarations with the prefixes: the root's own start tag says it.
  const ns = /<(?:[\w.-]+:)?bom\b[^>]*?\sxmlns(?::[\w.-]+)?\s*=\s*["']([^"']*)["']/.exec(text)?.[1];
  const m = ns ? /^http:\/\/cyclonedx\.org\/schema\/bom\/(\d+\.\d+)$/.exec(ns) : null;
  if (!m)
    fail(
      'xmlns',
      ns === undefined
        ? 'is required: a CycloneDX XML document declares xmlns="http://cyclonedx.org/schema/bom/1.x"'
        : `expected a CycloneDX namespace (http://cyclonedx.org/schema/bom/1.x), got ${JSON.stringify(ns)}`,
    );
  const specVersion = checkSpecVersion(m![1], 'xmlns', fail);
  const metadata = child(bom, 'metadata');
  const root = list(metadata, 'component')[0]; // <component> is read as a list everywhere
  return {
    file,
    format: 'xml',
    specVersion,
    ...opt('serialNumber', attr(bom, 'serialNumber')),
    ...opt('timestamp', metadata ? text_(metadata.timestamp) : undefined),
    ...(root ? { root: component(root, 'metadata.component') } : {}),
    components: list(child(bom, 'components'), 'component').map((c, i) => component(c, `components[${i}]`)),
    dependencies: list(child(bom, 'dependencies'), 'dependency').map((d, i) => ({
      path: `dependencies[${i}]`,
      ...opt('ref', attr(d, 'ref')),
      dependsOn: list(d, 'dependency').flatMap((c) => (attr(c, 'ref') !== undefined ? [attr(c, 'ref')!] : [])),
    })),
    ...(bom.vulnerabilities !== undefined
      ? { vulnerabilities: list(child(bom, 'vulnerabilities'), 'vulnerability').map((v, i) => vulnerability(v, `vulnerabilities[${i}]`)) }
      : {}),
  };
}

/** An element's text: `<name>x</name>` reads `"x"`, and `<hash alg="…">x</hash>` has it under `#text`. */
function text_(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v['#text'] === 'string') return v['#text'];
  return undefined;
}

const attr = (o: X, name: string): string | undefined => (typeof o[`@${name}`] === 'string' ? (o[`@${name}`] as string) : undefined);
const child = (o: X, name: string): X | undefined => (isObject(o[name]) ? (o[name] as X) : undefined);
const list = (o: X | undefined, name: string): X[] => {
  const v = o?.[name];
  return Array.isArray(v) ? v.map((x) => (isObject(x) ? x : typeof x === 'string' ? { '#text': x } : {})) : [];
};

function component(c: X, at: string): BomComponent {
  return {
    path: at,
    ...opt('bomRef', attr(c, 'bom-ref')),
    ...opt('type', attr(c, 'type')),
    ...opt('name', text_(c.name)),
    ...opt('version', text_(c.version)),
    ...opt('purl', text_(c.purl)),
    hashes: list(child(c, 'hashes'), 'hash').map((h) => ({ alg: attr(h, 'alg') ?? '', content: text_(h) ?? '' })),
    properties: list(child(c, 'properties'), 'property').map((p) => ({ name: attr(p, 'name') ?? '', value: text_(p) ?? '' })),
    components: list(child(c, 'components'), 'component').map((s, i) => component(s, `${at}.components[${i}]`)),
  };
}

function vulnerability(v: X, at: string): BomVulnerability {
  const source = child(v, 'source');
  const analysis = child(v, 'analysis');
  return {
    path: at,
    ...opt('bomRef', attr(v, 'bom-ref')),
    ...opt('id', text_(v.id)),
    ...(source ? { source: { ...opt('name', text_(source.name)), ...opt('url', text_(source.url)) } } : {}),
    references: list(child(v, 'references'), 'reference').flatMap((r) => (text_(r.id) !== undefined ? [text_(r.id)!] : [])),
    ...opt('created', text_(v.created)),
    ...opt('published', text_(v.published)),
    ...opt('updated', text_(v.updated)),
    ...opt('recommendation', text_(v.recommendation)),
    ...opt('workaround', text_(v.workaround)),
    ...(analysis
      ? {
          analysis: {
            ...opt('state', text_(analysis.state)),
            ...opt('justification', text_(analysis.justification)),
            response: list(child(analysis, 'responses'), 'response').flatMap((r) => (text_(r) !== undefined ? [text_(r)!] : [])),
            ...opt('detail', text_(analysis.detail)),
            ...opt('firstIssued', text_(analysis.firstIssued)),
            ...opt('lastUpdated', text_(analysis.lastUpdated)),
          },
        }
      : {}),
    affects: list(child(v, 'affects'), 'target').map((t, i) => ({ path: `${at}.affects[${i}]`, ...opt('ref', text_(t.ref)) })),
  };
}
