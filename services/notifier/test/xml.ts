/**
 * A small, strict XML 1.0 well-formedness parser for tests (no DTDs, no CDATA, no comments: the
 * Atom feed uses none): a prolog, one root element, balanced tags, quoted unique attributes, only
 * the five predefined entities and character references, no bare '<' or '&' in text. Throws on any
 * violation; returns the element tree.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9._:-]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decode(raw: string, where: string): string {
  if (/<|&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)/.test(raw))
    throw new Error(`bad '<' or '&' in ${where}: ${raw.slice(0, 60)}`);
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_m, e: string) =>
    e.startsWith('#x')
      ? String.fromCodePoint(parseInt(e.slice(2), 16))
      : e.startsWith('#')
        ? String.fromCodePoint(Number(e.slice(1)))
        : ENTITIES[e]!,
  );
}

export function parseXml(doc: string): XmlElement {
  let i = 0;
  const fail = (msg: string): never => {
    throw new Error(`not well-formed XML at ${i}: ${msg}`);
  };
  const ws = () => {
    while (i < doc.length && /\s/.test(doc[i]!)) i++;
  };
  if (doc.startsWith('<?xml')) {
    const end = doc.indexOf('?>');
    if (end < 0) fail('unterminated prolog');
    i = end + 2;
  }
  ws();
  const element = (): XmlElement => {
    if (doc[i] !== '<') fail('expected <');
    i++;
    const name = NAME.exec(doc.slice(i))?.[0] ?? fail('expected a tag name');
    i += name.length;
    const el: XmlElement = { name, attrs: {}, children: [], text: '' };
    for (;;) {
      const before = i;
      ws();
      if (doc.startsWith('/>', i)) {
        i += 2;
        return el;
      }
      if (doc[i] === '>') {
        i++;
        break;
      }
      if (i === before) fail('expected whitespace before an attribute');
      const an = NAME.exec(doc.slice(i))?.[0] ?? fail('expected an attribute name');
      i += an.length;
      if (doc[i] !== '=') fail('expected =');
      i++;
      const q = doc[i];
      if (q !== '"' && q !== "'") fail('attribute value must be quoted');
      const end = doc.indexOf(q!, i + 1);
      if (end < 0) fail('unterminated attribute');
      if (an in el.attrs) fail(`duplicate attribute ${an}`);
      el.attrs[an] = decode(doc.slice(i + 1, end), `attribute ${an}`);
      i = end + 1;
    }
    for (;;) {
      const lt = doc.indexOf('<', i);
      if (lt < 0) fail(`unclosed <${name}>`);
      el.text += decode(doc.slice(i, lt), `text of <${name}>`);
      i = lt;
      if (doc.startsWith('</', i)) {
        i += 2;
        const close = NAME.exec(doc.slice(i))?.[0];
        if (close !== name) fail(`</${close}> closes <${name}>`);
        i += name.length;
        ws();
        if (doc[i] !== '>') fail('expected >');
        i++;
        return el;
      }
      el.children.push(element());
    }
  };
  const root = element();
  ws();
  if (i !== doc.length) fail('content after the root element');
  return root;
}

export const child = (el: XmlElement, name: string): XmlElement | undefined => el.children.find((c) => c.name === name);
export const children = (el: XmlElement, name: string): XmlElement[] => el.children.filter((c) => c.name === name);
