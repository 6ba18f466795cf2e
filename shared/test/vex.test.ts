import { describe, expect, it } from 'vitest';
import { FormatError } from '../src/errors.js';
import { TOPICS, VexDocumentSchema, decodeEvent, encodeEvent } from '../src/events.js';
import { parseLockfile } from '../src/lockfile.js';
import {
  isVexFileName,
  parsePurl,
  parseVexDocument,
  readVexDocument,
  suppresses,
  vexStatementFor,
  vexWhy,
  vulnerabilityKey,
  type VexDocument,
  type VexHit,
} from '../src/vex.js';
import { workspaceEvent } from '../src/workspace.js';

const CTX = 'https://openvex.dev/ns/v0.2.0';
const T0 = '2026-01-01T00:00:00Z';

/** An OpenVEX document (as JSON text) with these statements and a document timestamp. */
const doc = (statements: unknown[], extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    '@context': CTX,
    '@id': 'https://example.test/vex-1',
    author: 'Security <sec@example.test>',
    timestamp: T0,
    version: 1,
    statements,
    ...extra,
  });

const stmt = (o: Record<string, unknown> = {}) => ({
  vulnerability: { name: 'RUSTSEC-2098-0001' },
  products: [{ '@id': 'pkg:cargo/smallvec@1.13.2' }],
  status: 'not_affected',
  justification: 'vulnerable_code_not_in_execute_path',
  ...o,
});

const read = (statements: unknown[], file = 'vex.json', extra: Record<string, unknown> = {}): VexDocument =>
  parseVexDocument(doc(statements, extra), file);

const hit = (o: Partial<VexHit> = {}): VexHit => ({
  advisory: { id: 'RUSTSEC-2098-0001', aliases: ['CVE-2098-1234', 'GHSA-abcd-efgh-ijkl'] },
  crate: 'smallvec',
  version: '1.13.2',
  ...o,
});

/** The error a reader throws, as its message (fails the test when it does not throw a FormatError). */
const errorOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(FormatError);
    return (err as Error).message;
  }
  throw new Error('expected a FormatError');
};

describe('reading OpenVEX documents', () => {
  it('reads a v0.2.0 document: vulnerability names, product purls and subcomponents, status and its reasons', () => {
    const d = read([
      {
        vulnerability: {
          '@id': 'https://rustsec.org/advisories/RUSTSEC-2098-0001.html',
          name: 'RUSTSEC-2098-0001',
          description: 'x',
          aliases: ['CVE-2098-1234'],
        },
        products: [
          {
            '@id': 'pkg:cargo/app@0.1.0',
            identifiers: { purl: 'pkg:cargo/app@0.1.0?repository_url=x', cpe23: 'cpe:2.3:a:acme:app:0.1.0:*:*:*:*:*:*:*' },
            hashes: { 'sha-256': 'ab' },
            subcomponents: [{ '@id': 'pkg:cargo/smallvec@1.13.2' }, { identifiers: { purl: 'pkg:cargo/smallvec@1.13.1' } }],
          },
        ],
        status: 'not_affected',
        justification: 'vulnerable_code_not_in_execute_path',
        impact_statement: ' We never call insert_many. ',
        status_notes: 'checked by grep',
        supplier: 'ignored',
      },
      {
        vulnerability: { name: 'CVE-2098-9999' },
        products: [{ '@id': 'pkg:cargo/foo' }],
        status: 'affected',
        action_statement: 'upgrade foo',
        timestamp: '2026-02-01T00:00:00.123456789+01:00',
      },
    ]);
    expect(d).toEqual({
      file: 'vex.json',
      id: 'https://example.test/vex-1',
      author: 'Security <sec@example.test>',
      timestamp: T0,
      statements: [
        {
          index: 0,
          vulnerability: {
            name: 'RUSTSEC-2098-0001',
            id: 'https://rustsec.org/advisories/RUSTSEC-2098-0001.html',
            aliases: ['CVE-2098-1234'],
          },
          products: [
            {
              id: 'pkg:cargo/app@0.1.0',
              purls: ['pkg:cargo/app@0.1.0', 'pkg:cargo/app@0.1.0?repository_url=x'],
              subcomponents: ['pkg:cargo/smallvec@1.13.2', 'pkg:cargo/smallvec@1.13.1'],
            },
          ],
          status: 'not_affected',
          justification: 'vulnerable_code_not_in_execute_path',
          impactStatement: 'We never call insert_many.',
          statusNotes: 'checked by grep',
          timestamp: T0, // inherited from the document
        },
        {
          index: 1,
          vulnerability: { name: 'CVE-2098-9999', aliases: [] },
          products: [{ id: 'pkg:cargo/foo', purls: ['pkg:cargo/foo'], subcomponents: [] }],
          status: 'affected',
          actionStatement: 'upgrade foo',
          timestamp: '2026-02-01T00:00:00.123456789+01:00', // its own
        },
      ],
    });
    expect(VexDocumentSchema.parse(d)).toEqual(d); // what goes on Kafka is what was read
  });

  it('reads the v0.0.1 shapes: a bare vulnerability string, bare product strings, subcomponents on the statement', () => {
    const d = parseVexDocument(
      JSON.stringify({
        '@context': 'https://openvex.dev/ns',
        timestamp: '2023-01-08t18:02:03.647787998z',
        statements: [
          {
            vulnerability: 'CVE-2098-1234',
            products: ['pkg:cargo/app@0.1.0', 'https://example.test/image'],
            subcomponents: ['pkg:cargo/smallvec'],
            status: 'fixed',
          },
        ],
      }),
      'old.openvex.json',
    );
    expect(d.statements[0]).toEqual({
      index: 0,
      vulnerability: { name: 'CVE-2098-1234', aliases: [] },
      products: [
        { id: 'pkg:cargo/app@0.1.0', purls: ['pkg:cargo/app@0.1.0'], subcomponents: ['pkg:cargo/smallvec'] },
        { id: 'https://example.test/image', purls: [], subcomponents: ['pkg:cargo/smallvec'] }, // an IRI that is no purl: kept, matched by nothing
      ],
      status: 'fixed',
      timestamp: '2023-01-08T18:02:03.647787998Z', // normalised for the schema
    });
    expect(VexDocumentSchema.parse(d)).toEqual(d);
  });

  it('accepts a document already parsed (an object posted to the endpoint)', () => {
    expect(readVexDocument(JSON.parse(doc([stmt()])), 'posted').statements).toHaveLength(1);
  });

  it.each([
    ['not JSON, with the line', '{\n  "@context": "https://openvex.dev/ns",\n  oops\n}', /^vex\.json, line 3: not JSON: /],
    ['cut short, with the last line', '{\n  "@context": "https://openvex.dev/ns",', /^vex\.json, line 2: not JSON: /],
    ['not an object', '[]', /^vex\.json: expected an OpenVEX document/],
    [
      'a CSAF VEX document',
      JSON.stringify({ document: { category: 'csaf_vex', csaf_version: '2.0' }, vulnerabilities: [] }),
      /^vex\.json, field `document\.category`: a CSAF document \("csaf_vex"\): only OpenVEX documents are read$/,
    ],
    ['a CycloneDX document', JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.5' }), /field `bomFormat`: a CycloneDX document/],
    ['no @context', JSON.stringify({ timestamp: T0, statements: [] }), /field `@context`: is required/],
    [
      'another @context',
      JSON.stringify({ '@context': 'https://example.test/ns', timestamp: T0, statements: [] }),
      /field `@context`: expected an OpenVEX context .*"https:\/\/example\.test\/ns"/,
    ],
    ['no statements', JSON.stringify({ '@context': CTX, timestamp: T0 }), /field `statements`: is required/],
    ['a bad document timestamp', doc([], { timestamp: 'yesterday' }), /field `timestamp`: expected an RFC 3339 date-time .*"yesterday"/],
    ['a statement that is no object', doc([stmt(), 3]), /field `statements\[1\]`: expected a statement object/],
    ['no vulnerability', doc([stmt({ vulnerability: undefined })]), /field `statements\[0\]\.vulnerability`: is required/],
    [
      'a vulnerability without name or @id',
      doc([stmt({ vulnerability: { aliases: ['CVE-1'] } })]),
      /field `statements\[0\]\.vulnerability\.name`: is required/,
    ],
    [
      'aliases that are not strings',
      doc([stmt({ vulnerability: { name: 'X', aliases: [1] } })]),
      /field `statements\[0\]\.vulnerability\.aliases`: expected an array of strings/,
    ],
    ['no products', doc([stmt({ products: undefined })]), /field `statements\[0\]\.products`: is required/],
    ['an empty products list', doc([stmt({ products: [] })]), /field `statements\[0\]\.products`: expected a non-empty array/],
    [
      'a product identifying nothing',
      doc([stmt({ products: [{ subcomponents: [] }] })]),
      /field `statements\[0\]\.products\[0\]`: identifies nothing/,
    ],
    [
      'a cargo purl with a namespace',
      doc([stmt({ products: [{ '@id': 'pkg:cargo/rust-lang/smallvec@1.0.0' }] })]),
      /field `statements\[0\]\.products\[0\]\.@id`: a cargo package URL has no namespace/,
    ],
    [
      'a purl without name',
      doc([stmt({ products: [{ '@id': 'pkg:cargo' }] })]),
      /field `statements\[0\]\.products\[0\]\.@id`: a package URL needs a type and a name/,
    ],
    [
      'identifiers.purl that is no purl',
      doc([stmt({ products: [{ identifiers: { purl: 'smallvec@1.0.0' } }] })]),
      /field `statements\[0\]\.products\[0\]\.identifiers\.purl`: expected a package URL/,
    ],
    [
      'a bad subcomponent',
      doc([stmt({ products: [{ '@id': 'pkg:cargo/app', subcomponents: [{ '@id': 'pkg:cargo/x@' }] }] })]),
      /field `statements\[0\]\.products\[0\]\.subcomponents\[0\]\.@id`: empty version after @/,
    ],
    [
      'no status',
      doc([stmt({ status: undefined })]),
      /field `statements\[0\]\.status`: is required \(not_affected, affected, fixed, under_investigation\)/,
    ],
    [
      'an unknown status',
      doc([stmt({ status: 'not_vulnerable' })]),
      /field `statements\[0\]\.status`: expected one of not_affected, affected, fixed, under_investigation, got "not_vulnerable"/,
    ],
    [
      'an unknown justification',
      doc([stmt({ justification: 'trust_me' })]),
      /field `statements\[0\]\.justification`: expected one of component_not_present, .*got "trust_me"/,
    ],
    [
      'not_affected without justification or impact statement',
      doc([stmt({ justification: undefined })]),
      /field `statements\[0\]\.justification`: a not_affected statement must give a `justification` or an `impact_statement`/,
    ],
    [
      'a bad statement timestamp',
      doc([stmt({ timestamp: '2026-13-45' })]),
      /field `statements\[0\]\.timestamp`: expected an RFC 3339 date-time/,
    ],
    [
      'no timestamp anywhere',
      JSON.stringify({ '@context': CTX, statements: [stmt()] }),
      /field `statements\[0\]\.timestamp`: no timestamp on the statement nor on the document/,
    ],
    [
      'a non-string impact statement',
      doc([stmt({ impact_statement: 42 })]),
      /field `statements\[0\]\.impact_statement`: expected a string/,
    ],
  ])('names the file and the JSON path: %s', (_what, text, message) => {
    expect(errorOf(() => parseVexDocument(text, 'vex.json'))).toMatch(message);
  });

  it('takes an impact statement alone as the reason for not_affected', () => {
    expect(read([stmt({ justification: undefined, impact_statement: 'the feature is off' })]).statements[0]).toMatchObject({
      status: 'not_affected',
      impactStatement: 'the feature is off',
    });
    expect(read([stmt({ justification: undefined, status: 'affected' })]).statements[0]!.justification).toBeUndefined(); // only not_affected needs a reason
  });
});

describe('package URLs and vulnerability names', () => {
  it('parses a purl: type lowercased, percent-decoded name and version, qualifiers and subpath dropped', () => {
    expect(parsePurl('pkg:cargo/smallvec@1.13.2')).toEqual({ type: 'cargo', name: 'smallvec', version: '1.13.2' });
    expect(parsePurl('pkg:CARGO/smallvec@1.0.0%2Bbuild.1?arch=x#src/lib.rs')).toEqual({
      type: 'cargo',
      name: 'smallvec',
      version: '1.0.0+build.1',
    });
    expect(parsePurl('pkg://cargo/serde')).toEqual({ type: 'cargo', name: 'serde' });
    expect(parsePurl('pkg:npm/%40angular/core@1.0.0')).toEqual({ type: 'npm', namespace: '@angular', name: 'core', version: '1.0.0' });
    expect(() => parsePurl('cargo/serde')).toThrow(/not a package URL/);
  });

  it('compares vulnerability names case-insensitively, an IRI by its last path segment', () => {
    expect(vulnerabilityKey('ghsa-abcd-efgh-ijkl')).toBe(vulnerabilityKey('GHSA-abcd-efgh-ijkl'));
    expect(vulnerabilityKey('https://rustsec.org/advisories/RUSTSEC-2098-0001.html')).toBe('RUSTSEC-2098-0001');
    expect(vulnerabilityKey('https://nvd.nist.gov/vuln/detail/CVE-2098-1234/')).toBe('CVE-2098-1234');
    expect(vulnerabilityKey('https://github.com/advisories/GHSA-abcd-efgh-ijkl?x=1')).toBe('GHSA-ABCD-EFGH-IJKL');
  });

  it('knows the file names: vex.json and <name>.openvex.json', () => {
    expect(['vex.json', 'app.openvex.json', 'team-a.scanner.openvex.json'].every(isVexFileName)).toBe(true);
    expect(
      ['openvex.json', '.openvex.json', '.hidden.openvex.json', 'vex.json.bak', 'my-vex.json', 'app.openvex.jsonl', 'VEX.json'].some(
        isVexFileName,
      ),
    ).toBe(false);
  });
});

describe('which statement applies to an advisory hit', () => {
  it('matches the advisory by its RUSTSEC id, or by any alias (CVE, GHSA), whichever side lists it', () => {
    for (const vulnerability of [
      { name: 'RUSTSEC-2098-0001' },
      { name: 'CVE-2098-1234' },
      { name: 'ghsa-abcd-efgh-ijkl' },
      { name: 'SNYK-1', aliases: ['CVE-2098-1234'] },
      { '@id': 'https://rustsec.org/advisories/RUSTSEC-2098-0001.html' },
    ]) {
      expect(vexStatementFor([read([stmt({ vulnerability })])], hit()), JSON.stringify(vulnerability)).toBeDefined();
    }
    // The advisory's own id listed as an alias of the statement's name:
    expect(
      vexStatementFor(
        [read([stmt({ vulnerability: { name: 'OSV-1', aliases: ['RUSTSEC-2098-0001'] } })])],
        hit({ advisory: { id: 'RUSTSEC-2098-0001', aliases: [] } }),
      ),
    ).toBeDefined();
    expect(
      vexStatementFor([read([stmt({ vulnerability: { name: 'RUSTSEC-2098-0002', aliases: ['CVE-2098-9999'] } })])], hit()),
    ).toBeUndefined();
  });

  it('a purl with a version applies to that version only; without a version to every version', () => {
    const versioned = [read([stmt({ products: [{ '@id': 'pkg:cargo/smallvec@1.13.2' }] })])];
    expect(vexStatementFor(versioned, hit())).toBeDefined();
    expect(vexStatementFor(versioned, hit({ version: '1.13.1' }))).toBeUndefined();
    const any = [read([stmt({ products: [{ '@id': 'pkg:cargo/smallvec' }] })])];
    expect(vexStatementFor(any, hit({ version: '1.13.1' }))).toBeDefined();
    expect(vexStatementFor(any, hit({ version: '0.6.14' }))).toBeDefined();
  });

  it('matches the crate as a product, as a subcomponent, or through identifiers.purl; crate names as crates.io compares them', () => {
    expect(
      vexStatementFor(
        [read([stmt({ products: [{ '@id': 'pkg:cargo/app@0.1.0', subcomponents: [{ '@id': 'pkg:cargo/smallvec@1.13.2' }] }] })])],
        hit(),
      ),
    ).toBeDefined();
    expect(
      vexStatementFor(
        [read([stmt({ products: [{ '@id': 'https://example.test/app', identifiers: { purl: 'pkg:cargo/smallvec@1.13.2' } }] })])],
        hit(),
      ),
    ).toBeDefined();
    expect(
      vexStatementFor([read([stmt({ products: [{ '@id': 'pkg:cargo/Foo_Bar@1.0.0' }] })])], hit({ crate: 'foo-bar', version: '1.0.0' })),
    ).toBeDefined();
    // The workspace's own crate as the product, the dependency not named: the statement is not about it.
    expect(vexStatementFor([read([stmt({ products: [{ '@id': 'pkg:cargo/app@0.1.0' }] })])], hit())).toBeUndefined();
    // Another ecosystem's package of the same name, or another crate, is not this crate.
    expect(vexStatementFor([read([stmt({ products: [{ '@id': 'pkg:npm/smallvec@1.13.2' }] })])], hit())).toBeUndefined();
    expect(vexStatementFor([read([stmt({ products: [{ '@id': 'pkg:cargo/smallvec2@1.13.2' }] })])], hit())).toBeUndefined();
  });

  it('not_affected and fixed suppress the finding; affected and under_investigation keep it', () => {
    expect(suppresses('not_affected')).toBe(true);
    expect(suppresses('fixed')).toBe(true);
    expect(suppresses('affected')).toBe(false);
    expect(suppresses('under_investigation')).toBe(false);
    const statusOf = (status: string) => vexStatementFor([read([stmt({ status, action_statement: 'upgrade' })])], hit())!.suppresses;
    expect(['not_affected', 'fixed', 'affected', 'under_investigation'].map(statusOf)).toEqual([true, true, false, false]);
  });

  it('of several statements that apply, the latest by timestamp wins, whatever the order of documents and statements', () => {
    const newer = read([stmt({ status: 'affected', action_statement: 'upgrade', timestamp: '2026-03-01T00:00:00Z' })], 'a.openvex.json');
    const older = read([stmt({ timestamp: '2026-02-01T00:00:00Z' })], 'b.openvex.json');
    expect(vexStatementFor([newer, older], hit())!.statement.status).toBe('affected');
    expect(vexStatementFor([older, newer], hit())!.statement.status).toBe('affected');
    // A statement's own timestamp beats its document's: here the document is newer than the other file's statement.
    const inherits = read([stmt({ status: 'under_investigation' })], 'c.openvex.json', { timestamp: '2026-04-01T00:00:00Z' });
    const ownOlder = read([stmt({ timestamp: '2026-01-15T00:00:00Z' })], 'd.openvex.json', { timestamp: '2026-05-01T00:00:00Z' });
    expect(vexStatementFor([ownOlder, inherits], hit())!.statement.status).toBe('under_investigation');
    // Compared as instants (offsets), and to the nanosecond.
    const east = read([stmt({ status: 'affected', action_statement: 'x', timestamp: '2026-03-01T10:00:00+09:00' })]); // 01:00Z
    const west = read([stmt({ timestamp: '2026-03-01T00:30:00-00:00' })]); // 00:30Z
    expect(vexStatementFor([east, west], hit())!.statement.status).toBe('affected');
    expect(vexStatementFor([west, east], hit())!.statement.status).toBe('affected');
    // (the later one suppresses here, so a tie — which a keeping statement would win — cannot pass for it)
    const ns1 = read([stmt({ status: 'affected', action_statement: 'x', timestamp: '2026-03-01T00:00:00.000000001Z' })]);
    const ns2 = read([stmt({ timestamp: '2026-03-01T00:00:00.000000002Z' })]);
    expect(vexStatementFor([ns1, ns2], hit())!.statement.status).toBe('not_affected');
    expect(vexStatementFor([ns2, ns1], hit())!.statement.status).toBe('not_affected');
  });

  it('statements that do not apply take no part in choosing the latest', () => {
    const d = read([
      stmt({ timestamp: '2026-02-01T00:00:00Z' }),
      stmt({
        status: 'affected',
        action_statement: 'x',
        products: [{ '@id': 'pkg:cargo/smallvec@9.9.9' }],
        timestamp: '2026-09-01T00:00:00Z',
      }),
    ]);
    expect(vexStatementFor([d], hit())!.statement.index).toBe(0);
  });

  it('at the same instant a statement keeping the finding wins over one suppressing it; among equals the later in order', () => {
    const keep = stmt({ status: 'under_investigation' });
    const drop = stmt({ status: 'not_affected' });
    expect(vexStatementFor([read([keep, drop])], hit())!.statement.status).toBe('under_investigation');
    expect(vexStatementFor([read([drop, keep])], hit())!.statement.status).toBe('under_investigation');
    expect(vexStatementFor([read([drop, stmt({ status: 'fixed' })])], hit())!.statement.status).toBe('fixed');
    expect(vexStatementFor([read([stmt({ status: 'fixed' }), drop])], hit())!.statement.status).toBe('not_affected');
    expect(vexStatementFor([read([stmt({ status: 'fixed' })], 'a'), read([drop], 'b')], hit())!.document.file).toBe('b');
  });

  it('no documents, no statement', () => {
    expect(vexStatementFor([], hit())).toBeUndefined();
  });

  it('says why: vex.<status>, the justification and impact statement (or the action statement), and where it was read', () => {
    const m = (o: Record<string, unknown>) => vexWhy(vexStatementFor([read([stmt(o)], 'acme/app/vex.json')], hit())!);
    expect(m({ impact_statement: 'we never call insert_many' })).toEqual({
      signal: 'vex.not_affected',
      contribution: 0,
      detail: `vulnerable_code_not_in_execute_path: we never call insert_many (acme/app/vex.json statements[0], ${T0})`,
    });
    expect(m({ justification: undefined, impact_statement: 'feature off' }).detail).toBe(
      `feature off (acme/app/vex.json statements[0], ${T0})`,
    );
    expect(m({ status: 'affected', justification: undefined, action_statement: 'upgrade to 1.13.3' })).toMatchObject({
      signal: 'vex.affected',
      detail: `upgrade to 1.13.3 (acme/app/vex.json statements[0], ${T0})`,
    });
    expect(m({ status: 'under_investigation', justification: undefined })).toMatchObject({
      signal: 'vex.under_investigation',
      detail: `under investigation (acme/app/vex.json statements[0], ${T0})`,
    });
  });
});

describe('VEX in the workspace event', () => {
  const lock = parseLockfile('version = 4\n[[package]]\nname = "app"\nversion = "0.1.0"\n');
  const base = { id: 'acme/app', org: 'acme', lock, origin: { path: 'Cargo.lock', checksum: 'x' }, observedAt: '2026-01-01T00:00:00.000Z' };

  it('carries the documents as read, and validates them on decoding', () => {
    const vex = [read([stmt()], 'acme/app/vex.json')];
    const ev = workspaceEvent({ ...base, vex });
    expect(ev.vex).toEqual(vex);
    expect(decodeEvent(TOPICS.workspaces, encodeEvent(TOPICS.workspaces, ev))).toEqual(ev);
    const bad = JSON.parse(JSON.stringify(ev));
    bad.vex[0].statements[0].status = 'maybe';
    expect(() => decodeEvent(TOPICS.workspaces, JSON.stringify(bad))).toThrow(/vex\.0\.statements\.0\.status: Invalid enum value/);
  });

  it('leaves the field out when the workspace has no VEX document', () => {
    expect('vex' in workspaceEvent(base)).toBe(false);
    expect('vex' in workspaceEvent({ ...base, vex: [] })).toBe(false);
  });
});
