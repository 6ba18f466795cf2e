/**
 * `gate --format sarif`: SARIF 2.1.0 with what code-scanning UIs read (GitHub's "SARIF support
 * for code scanning"): the tool's version, one rule per kind of finding (one per RustSec advisory)
 * with help and a help link, `security-severity` and tags, results located relative to a
 * `%SRCROOT%` base, and fingerprints that survive a line shift.
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Finding, Rule } from './gate-findings.js';

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** cratewatch has no public home page: its verdicts are cargo-vet's, whose book explains them. */
export const INFORMATION_URI = 'https://mozilla.github.io/cargo-vet/';

/** The key of our own fingerprint in `partialFingerprints` (upload-sarif adds its line hash beside it). */
export const FINGERPRINT_KEY = 'cratewatch/v1';

/**
 * A file as SARIF names it: relative to `srcroot` with the `%SRCROOT%` base when it is inside
 * (never `../…`), else an absolute `file://` URI.
 */
export function artifactLocation(file: string, srcroot: string): { uri: string; uriBaseId?: string } {
  const abs = existsSync(file) ? realpathSync(file) : path.resolve(file); // as the git root is: symlinks resolved
  const rel = path.relative(srcroot, abs);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return { uri: pathToFileURL(abs).href };
  return { uri: rel.split(path.sep).map(encodeURIComponent).join('/'), uriBaseId: '%SRCROOT%' };
}

function ruleJson(r: Rule) {
  return {
    id: r.id,
    name: r.name,
    shortDescription: { text: r.short },
    fullDescription: { text: r.full },
    help: { text: r.helpText, markdown: r.helpMarkdown },
    helpUri: r.helpUri,
    defaultConfiguration: { level: r.level },
    properties: { tags: r.tags, ...(r.securitySeverity !== undefined ? { 'security-severity': r.securitySeverity } : {}) },
  };
}

/** The SARIF log of one gate run; `srcroot` is the folder `%SRCROOT%` stands for. */
export function sarifLog(findings: Finding[], srcroot: string) {
  const rules: Rule[] = [];
  const index = new Map<string, number>();
  for (const f of findings) {
    if (index.has(f.rule.id)) continue;
    index.set(f.rule.id, rules.length);
    rules.push(f.rule);
  }
  const root = pathToFileURL(path.resolve(srcroot)).href.replace(/\/?$/, '/');
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'cratewatch',
            version: VERSION,
            semanticVersion: VERSION,
            informationUri: INFORMATION_URI,
            rules: rules.map(ruleJson),
          },
        },
        originalUriBaseIds: {
          '%SRCROOT%': { uri: root, description: { text: 'The root of the repository the head Cargo.lock is in (--srcroot)' } },
        },
        results: findings.map((f) => ({
          ruleId: f.rule.id,
          ruleIndex: index.get(f.rule.id)!,
          level: f.level,
          message: { text: f.message },
          locations: [{ physicalLocation: { artifactLocation: artifactLocation(f.file, srcroot), region: { startLine: f.line } } }],
          partialFingerprints: { [FINGERPRINT_KEY]: f.fingerprint },
        })),
      },
    ],
  };
}
