/**
 * A CycloneDX SBOM (JSON 1.4–1.6, XML as cargo-cyclonedx writes it) read as the workspace's locked
 * packages: the same Lockfile a Cargo.lock gives, and errors naming file, field and bom-ref.
 */
import { describe, expect, it } from 'vitest';
import { isSbomFileName, lockfileFromCycloneDx, parseCycloneDx, parseLockfile, parseWorkspaceLock, sourceOfPurl } from '../src/index.js';
import { validateCycloneDx } from './cyclonedx-schema.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const GIT = 'git+https://github.com/example/fork?rev=4d1d0a0#4d1d0a0c2b9f0a2e6f3b1c5d7e9f1a3b5c7d9e1f';
const SHA = 'a'.repeat(64);

/** What cargo-cyclonedx 0.5 writes (JSON, 1.5): the root crate with its bin target, crates.io, git and another registry. */
const cargoCycloneDx = (specVersion = '1.5') => ({
  bomFormat: 'CycloneDX',
  specVersion,
  version: 1,
  serialNumber: 'urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79',
  metadata: {
    timestamp: '2024-03-01T10:00:00.000000000Z',
    component: {
      type: 'application',
      'bom-ref': 'path+file:///src/app#0.1.0',
      name: 'app',
      version: '0.1.0',
      purl: 'pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.',
      components: [
        {
          type: 'application',
          'bom-ref': 'path+file:///src/app#0.1.0 bin-target-0',
          name: 'app',
          version: '0.1.0',
          purl: 'pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.#src/main.rs',
        },
      ],
    },
  },
  components: [
    {
      type: 'library',
      'bom-ref': `${CRATES}#serde@1.0.197`,
      name: 'serde',
      version: '1.0.197',
      scope: 'required',
      hashes: [{ alg: 'SHA-256', content: SHA }],
      purl: 'pkg:cargo/serde@1.0.197',
    },
    {
      type: 'library',
      'bom-ref': 'git+https://github.com/example/fork?rev=4d1d0a0#0.2.0',
      name: 'fork',
      version: '0.2.0',
      purl: `pkg:cargo/fork@0.2.0?vcs_url=${encodeURIComponent(GIT.replace('#', '@'))}`,
    },
    {
      type: 'library',
      'bom-ref': 'registry+https://my.registry/index#inner@1.0.0',
      name: 'inner',
      version: '1.0.0',
      purl: 'pkg:cargo/inner@1.0.0?repository_url=https%3A%2F%2Fmy.registry%2Findex',
    },
    {
      type: 'library',
      'bom-ref': 'path+file:///src/app/util#0.1.0',
      name: 'util',
      version: '0.1.0',
      purl: 'pkg:cargo/util@0.1.0?download_url=file%253A%252F%252Futil',
    },
  ],
  dependencies: [
    {
      ref: 'path+file:///src/app#0.1.0',
      dependsOn: [`${CRATES}#serde@1.0.197`, 'git+https://github.com/example/fork?rev=4d1d0a0#0.2.0', 'path+file:///src/app/util#0.1.0'],
    },
    { ref: 'git+https://github.com/example/fork?rev=4d1d0a0#0.2.0', dependsOn: ['registry+https://my.registry/index#inner@1.0.0'] },
    { ref: `${CRATES}#serde@1.0.197`, dependsOn: [] },
  ],
});

/** The same workspace as a Cargo.lock. */
const LOCK = `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["fork", "serde", "util"]

[[package]]
name = "fork"
version = "0.2.0"
source = "${GIT}"
dependencies = ["inner"]

[[package]]
name = "inner"
version = "1.0.0"
source = "registry+https://my.registry/index"

[[package]]
name = "serde"
version = "1.0.197"
source = "${CRATES}"
checksum = "${SHA}"

[[package]]
name = "util"
version = "0.1.0"
`;

/** The same, in XML (CycloneDX 1.4), as cargo-cyclonedx writes by default. */
const XML = `<?xml version="1.0" encoding="utf-8"?>
<bom xmlns="http://cyclonedx.org/schema/bom/1.4" serialNumber="urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79" version="1">
  <metadata>
    <timestamp>2024-03-01T10:00:00.000000000Z</timestamp>
    <tools>
      <tool><vendor>CycloneDX</vendor><name>cargo-cyclonedx</name><version>0.4.1</version></tool>
    </tools>
    <component type="application" bom-ref="path+file:///src/app#0.1.0">
      <name>app</name>
      <version>0.1.0</version>
      <purl>pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.</purl>
      <components>
        <component type="application" bom-ref="path+file:///src/app#0.1.0 bin-target-0">
          <name>app</name>
          <version>0.1.0</version>
          <purl>pkg:cargo/app@0.1.0?download_url=file%253A%252F%252F.#src/main.rs</purl>
        </component>
      </components>
    </component>
  </metadata>
  <components>
    <component type="library" bom-ref="${CRATES}#serde@1.0.197">
      <name>serde</name>
      <version>1.0.197</version>
      <description>A generic serialization/deserialization framework</description>
      <scope>required</scope>
      <hashes><hash alg="SHA-256">${SHA.toUpperCase()}</hash></hashes>
      <licenses><expression>MIT OR Apache-2.0</expression></licenses>
      <purl>pkg:cargo/serde@1.0.197</purl>
      <externalReferences><reference type="vcs"><url>https://github.com/serde-rs/serde</url></reference></externalReferences>
    </component>
    <component type="library" bom-ref="git+https://github.com/example/fork?rev=4d1d0a0#0.2.0">
      <name>fork</name>
      <version>0.2.0</version>
      <purl>pkg:cargo/fork@0.2.0?vcs_url=${encodeURIComponent(GIT.replace('#', '@'))}</purl>
    </component>
    <component type="library" bom-ref="registry+https://my.registry/index#inner@1.0.0">
      <name>inner</name>
      <version>1.0.0</version>
      <purl>pkg:cargo/inner@1.0.0?repository_url=https%3A%2F%2Fmy.registry%2Findex</purl>
    </component>
    <component type="library" bom-ref="path+file:///src/app/util#0.1.0">
      <name>util</name>
      <version>0.1.0</version>
      <purl>pkg:cargo/util@0.1.0?download_url=file%253A%252F%252Futil</purl>
    </component>
  </components>
  <dependencies>
    <dependency ref="path+file:///src/app#0.1.0">
      <dependency ref="${CRATES}#serde@1.0.197"/>
      <dependency ref="git+https://github.com/example/fork?rev=4d1d0a0#0.2.0"/>
      <dependency ref="path+file:///src/app/util#0.1.0"/>
    </dependency>
    <dependency ref="git+https://github.com/example/fork?rev=4d1d0a0#0.2.0">
      <dependency ref="registry+https://my.registry/index#inner@1.0.0"/>
    </dependency>
    <dependency ref="${CRATES}#serde@1.0.197"/>
  </dependencies>
</bom>
`;

const byId = (l: ReturnType<typeof parseLockfile>) =>
  Object.fromEntries(l.packages.map((p) => [p.id, { ...p, dependencies: [...p.dependencies].sort() }]));
const read = (doc: unknown, file = 'app/bom.json') =>
  lockfileFromCycloneDx(parseCycloneDx(typeof doc === 'string' ? doc : JSON.stringify(doc), file));

describe('a CycloneDX SBOM as locked packages', () => {
  it('gives the packages, sources, checksums and edges the Cargo.lock gives (JSON 1.4, 1.5, 1.6)', () => {
    const lock = byId(parseLockfile(LOCK));
    for (const v of ['1.4', '1.5', '1.6']) {
      expect(validateCycloneDx(cargoCycloneDx(v), v)).toEqual([]); // the fixture is real CycloneDX
      expect(byId(read(cargoCycloneDx(v)))).toEqual(lock);
    }
  });

  it('reads the XML form to the same lockfile (upper-case hash, bin target left out)', () => {
    expect(byId(read(XML, 'app/bom.xml'))).toEqual(byId(parseLockfile(LOCK)));
  });

  it('reads sources from the purl qualifiers', () => {
    expect(sourceOfPurl({})).toBe(CRATES);
    expect(sourceOfPurl({ repository_url: 'https://github.com/rust-lang/crates.io-index' })).toBe(CRATES);
    expect(sourceOfPurl({ repository_url: 'sparse+https://my.registry/index/' })).toBe('sparse+https://my.registry/index/');
    expect(sourceOfPurl({ vcs_url: 'git+https://github.com/a/b@0123456789abcdef0123456789abcdef01234567' })).toBe(
      'git+https://github.com/a/b#0123456789abcdef0123456789abcdef01234567',
    );
    expect(sourceOfPurl({ download_url: 'git+ssh://git@github.com/a/b@0123456' })).toBe('git+ssh://git@github.com/a/b#0123456');
    expect(sourceOfPurl({ download_url: 'file:///abs/path' })).toBeUndefined();
    expect(sourceOfPurl({ download_url: 'https://static.crates.io/crates/serde/serde-1.0.0.crate' })).toBe(CRATES);
    expect(() => sourceOfPurl({ download_url: 'https://example.com/x.tar.gz' })).toThrow(/neither a path \(file:\), a git repository/);
  });

  it('leaves out components that are no crate (other ecosystems, files, a root without purl)', () => {
    const doc = cargoCycloneDx();
    doc.components.push({
      type: 'library',
      'bom-ref': 'npm-left-pad',
      name: 'left-pad',
      version: '1.3.0',
      purl: 'pkg:npm/left-pad@1.3.0',
    } as never);
    doc.components.push({ type: 'file', 'bom-ref': 'readme', name: 'README.md' } as never);
    doc.dependencies.push({ ref: 'npm-left-pad', dependsOn: [`${CRATES}#serde@1.0.197`] });
    expect(byId(read(doc))).toEqual(byId(parseLockfile(LOCK)));
  });

  it('is chosen by file name: bom.json, bom.xml, *.cdx.json, *.cdx.xml', () => {
    expect(['bom.json', 'bom.xml', 'app.cdx.json', 'dir/app.cdx.xml'].every(isSbomFileName)).toBe(true);
    expect(['Cargo.lock', 'bom.yaml', '.cdx.json', 'sbom.json', 'app.vex.json'].some(isSbomFileName)).toBe(false);
    expect(parseWorkspaceLock(JSON.stringify(cargoCycloneDx()), 'x/app.cdx.json').packages).toHaveLength(5);
    expect(parseWorkspaceLock(LOCK, 'x/Cargo.lock').packages).toHaveLength(5);
  });
});

describe('bad SBOMs are refused, naming file, field and component', () => {
  const withComponent = (patch: Record<string, unknown>, i = 0) => {
    const doc = cargoCycloneDx();
    Object.assign(doc.components[i]!, patch);
    return doc;
  };
  const cases: [string, unknown, RegExp][] = [
    ['an empty file', '', /^app\/bom\.json, line 1: empty file/],
    ['JSON cut short', '{"bomFormat": "CycloneDX",', /^app\/bom\.json, line 1: not JSON/],
    ['not CycloneDX', { spdxVersion: 'SPDX-2.3' }, /field `bomFormat`: is required/],
    [
      'an unread spec version',
      { ...cargoCycloneDx(), specVersion: '1.2' },
      /field `specVersion`: CycloneDX 1\.2 is not read: expected 1\.4, 1\.5, 1\.6/,
    ],
    [
      'a purl that does not parse',
      withComponent({ purl: 'pkg:cargo' }),
      /field `components\[0\]\.purl`: component serde \(bom-ref "registry\+https:\/\/github\.com\/rust-lang\/crates\.io-index#serde@1\.0\.197"\): not a package URL/,
    ],
    [
      'a purl without version',
      withComponent({ purl: 'pkg:cargo/serde' }),
      /field `components\[0\]\.purl`: component serde .*the purl has no version/,
    ],
    [
      'a version that is not SemVer',
      withComponent({ purl: 'pkg:cargo/serde@1.0', version: '1.0' }),
      /field `components\[0\]\.purl`: component serde .*version "1\.0" is not SemVer/,
    ],
    [
      'version and purl disagree',
      withComponent({ version: '1.0.196' }),
      /field `components\[0\]\.version`: component serde .*differs from the purl's "1\.0\.197"/,
    ],
    [
      'an unknown download_url',
      withComponent({ purl: 'pkg:cargo/serde@1.0.197?download_url=https%3A%2F%2Fexample.com%2Fs.tgz' }),
      /field `components\[0\]\.purl`: .*the package's source cannot be told/,
    ],
    [
      'a bom-ref used twice',
      withComponent({ 'bom-ref': 'path+file:///src/app/util#0.1.0' }),
      /field `components\[3\]\.bom-ref`: bom-ref "path\+file:\/\/\/src\/app\/util#0\.1\.0" is used twice \(first by components\[0\]\)/,
    ],
    [
      'a crate listed twice',
      withComponent({ 'bom-ref': 'serde-again', name: 'serde', version: '1.0.197', purl: 'pkg:cargo/serde@1.0.197' }, 3),
      /field `components\[3\]`: component serde \(bom-ref "serde-again"\): package "serde" 1\.0\.197 \(registry\+https:\/\/github\.com\/rust-lang\/crates\.io-index\) is listed twice \(first as components\[0\]/,
    ],
    [
      'a dependency on nothing',
      { ...cargoCycloneDx(), dependencies: [{ ref: 'path+file:///src/app#0.1.0', dependsOn: ['ghost'] }] },
      /field `dependencies\[0\]\.dependsOn\[0\]`: names no component of this document \(bom-ref "ghost"\)/,
    ],
    [
      'no crate at all',
      { bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'left-pad', purl: 'pkg:npm/left-pad@1.3.0' }] },
      /field `components`: no pkg:cargo component/,
    ],
    [
      'a component of the wrong type',
      { ...cargoCycloneDx(), components: ['serde'] },
      /field `components\[0\]`: expected a component object/,
    ],
  ];
  it.each(cases)('%s', (_name, doc, error) => {
    expect(() => read(doc)).toThrow(error);
  });

  it('XML: a syntax error names the line; a DOCTYPE and a foreign namespace are refused', () => {
    expect(() => read(XML.replace('</components>\n  <dependencies>', '<dependencies>'), 'bom.xml')).toThrow(
      /^bom\.xml, line \d+: not well-formed XML/,
    );
    expect(() =>
      read(`<?xml version="1.0"?>\n<!DOCTYPE bom [<!ENTITY a "aaaa">]>\n<bom xmlns="http://cyclonedx.org/schema/bom/1.4"/>`, 'bom.xml'),
    ).toThrow(/^bom\.xml, line 2: a DOCTYPE is not allowed/);
    expect(() => read(XML.replace('http://cyclonedx.org/schema/bom/1.4', 'urn:example'), 'bom.xml')).toThrow(
      /field `xmlns`: expected a CycloneDX namespace/,
    );
    expect(() => read(XML.replace('<purl>pkg:cargo/inner@1.0.0', '<purl>pkg:cargo/inner'), 'bom.xml')).toThrow(
      /^bom\.xml, field `components\[2\]\.purl`: component inner \(bom-ref "registry\+https:\/\/my\.registry\/index#inner@1\.0\.0"\): the purl has no version/,
    );
  });
});
