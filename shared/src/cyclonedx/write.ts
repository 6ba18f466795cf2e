/**
 * A workspace as a CycloneDX 1.6 JSON document (`cratewatch sbom`): every locked package as a
 * component with its purl (`./purl.ts`) and SHA-256, the dependency graph, the RustSec advisories
 * that hit as `vulnerabilities` (id, RustSec source and link, CVE/GHSA references, CVSS rating,
 * patched versions, affected components, how each is reached, and `analysis` from the VEX
 * statement that applies), and the cargo-vet audits that vet each component as attestations
 * (`./attest.ts`). Pure: the caller passes the clock's time and the serial number.
 *
 * A path package (first-party) gets `download_url=file://<dir>` when its folder is known (cargo
 * metadata), else no purl — a purl without qualifiers would say crates.io, where a crate of that
 * name may be someone else's — and the property `cratewatch:package-source` = `path`, by which
 * `lockfileFromCycloneDx` reads it back. One first-party package is the document's root
 * (`metadata.component`), as cargo-cyclonedx writes it; several are under a root for the workspace.
 */
import { advisoryFacts, describeRanges } from '../advisoryfacts.js';
import type { AdvisoryHit } from '../advisory.js';
import { describeReach, type DependencyPath } from '../deppath.js';
import { isFirstParty, type LockedPackage, type Lockfile } from '../lockfile.js';
import type { AuditsFile } from '../vet/format.js';
import type { VetReport, VetStore } from '../vet/resolver.js';
import { vexWhy, type VexMatch } from '../vex.js';
import { auditAttestations } from './attest.js';
import { PACKAGE_SOURCE_PROPERTY } from './lockfile.js';
import { purlOfPackage } from './purl.js';

type Json = Record<string, unknown>;

export interface SbomInput {
  /** The workspace's name (its folder), for the root when it has several first-party packages. */
  workspace: string;
  lockfile: Lockfile;
  /** A path package's folder relative to the workspace, by package id (from cargo metadata), when known. */
  packageDirs?: Map<string, string>;
  /** cargo-vet verdicts: each component's status, and the audits for the attestations. */
  report?: VetReport;
  store?: VetStore;
  pools?: Map<string, AuditsFile>;
  /** Every RustSec hit with the VEX statement that applies (suppressed ones too); undefined: not checked. */
  hits?: (AdvisoryHit & { vex?: VexMatch })[];
  /** Shortest dependency paths from the workspace members (shared `shortestPathsFromMembers`). */
  paths?: Map<string, DependencyPath>;
  tool: { name: string; version: string };
  timestamp: string;
  /** `urn:uuid:<uuid>` */
  serialNumber: string;
}

export const CYCLONEDX_SPEC = '1.6';

export function cycloneDxDocument(input: SbomInput): Json {
  const { lockfile } = input;
  const firstParty = lockfile.packages.filter(isFirstParty);
  const single = firstParty.length === 1 ? firstParty[0] : undefined;
  const workspaceRef = `workspace:${input.workspace}`;
  const verdicts = new Map((input.report?.packages ?? []).map((p) => [p.id, p]));
  const componentOf = (p: LockedPackage, type: string): Json => {
    const purl = purlOfPackage(p, input.packageDirs?.get(p.id));
    const v = verdicts.get(p.id);
    const properties = [
      ...(purl === undefined ? [{ name: PACKAGE_SOURCE_PROPERTY, value: 'path' }] : []),
      ...(v ? [{ name: 'cratewatch:vet:status', value: v.status }] : []),
      ...(v?.required.length ? [{ name: 'cratewatch:vet:criteria', value: v.required.join(', ') }] : []),
      ...(v?.missing.length ? [{ name: 'cratewatch:vet:missing', value: v.missing.join(', ') }] : []),
    ];
    return {
      type,
      'bom-ref': p.id,
      name: p.name,
      version: p.version,
      ...(purl ? { purl } : {}),
      ...(p.checksum ? { hashes: [{ alg: 'SHA-256', content: p.checksum }] } : {}),
      ...(properties.length ? { properties } : {}),
    };
  };
  const root = single ? componentOf(single, 'application') : { type: 'application', 'bom-ref': workspaceRef, name: input.workspace };
  const attest = input.report
    ? auditAttestations(input.report, { workspace: input.workspace, store: input.store, pools: input.pools, componentRef: (id) => id })
    : undefined;
  return {
    $schema: 'http://cyclonedx.org/schema/bom-1.6.schema.json',
    bomFormat: 'CycloneDX',
    specVersion: CYCLONEDX_SPEC,
    serialNumber: input.serialNumber,
    version: 1,
    metadata: {
      timestamp: input.timestamp,
      tools: { components: [{ type: 'application', name: input.tool.name, version: input.tool.version }] },
      component: root,
      ...(input.report ? { properties: [{ name: 'cratewatch:vet:conclusion', value: input.report.conclusion }] } : {}),
    },
    components: lockfile.packages.filter((p) => p !== single).map((p) => componentOf(p, 'library')),
    dependencies: [
      ...(single ? [] : [{ ref: workspaceRef, dependsOn: firstParty.map((p) => p.id) }]),
      ...lockfile.packages.map((p) => ({ ref: p.id, dependsOn: p.dependencies })),
    ],
    ...(input.hits?.length ? { vulnerabilities: vulnerabilities(input.hits, input.paths) } : {}),
    ...(attest ?? {}),
  };
}

/**
 * One entry per advisory and VEX statement: the components an advisory hits, grouped by the
 * statement that applies to each (usually one group), so that each entry's `analysis` is true of
 * every component it lists.
 */
function vulnerabilities(hits: (AdvisoryHit & { vex?: VexMatch })[], paths: Map<string, DependencyPath> | undefined): Json[] {
  const groups = new Map<string, (AdvisoryHit & { vex?: VexMatch })[]>();
  for (const h of hits) {
    const key = `${h.advisory.id}\u0000${h.vex ? `${h.vex.document.file}\u0000${h.vex.statement.index}` : ''}`;
    groups.set(key, [...(groups.get(key) ?? []), h]);
  }
  const seen = new Map<string, number>();
  return [...groups.values()].map((group) => {
    const h = group[0]!;
    const n = (seen.get(h.advisory.id) ?? 0) + 1;
    seen.set(h.advisory.id, n);
    return vulnerabilityOf(group, n === 1 ? h.advisory.id : `${h.advisory.id}#${n}`, paths);
  });
}

const CVSS_METHOD: Record<string, string> = { '2.0': 'CVSSv2', '3.0': 'CVSSv3', '3.1': 'CVSSv31', '4.0': 'CVSSv4' };

/** Where an alias is published: CVE at NVD, GHSA at GitHub, anything else at OSV. */
function referenceOf(id: string): Json {
  if (/^CVE-/i.test(id)) return { id, source: { name: 'NVD', url: `https://nvd.nist.gov/vuln/detail/${id}` } };
  if (/^GHSA-/i.test(id)) return { id, source: { name: 'GitHub', url: `https://github.com/advisories/${id}` } };
  return { id, source: { name: 'OSV', url: `https://osv.dev/vulnerability/${id}` } };
}

function vulnerabilityOf(
  group: (AdvisoryHit & { vex?: VexMatch })[],
  bomRef: string,
  paths: Map<string, DependencyPath> | undefined,
): Json {
  const a = group[0]!.advisory;
  const f = advisoryFacts(a);
  const rustsec = { name: 'RustSec', url: f.link };
  const method = f.cvss ? CVSS_METHOD[f.cvss.version] : undefined;
  const vex = group[0]!.vex;
  return {
    'bom-ref': bomRef,
    id: a.id,
    source: rustsec,
    ...(f.aliases.length ? { references: f.aliases.map(referenceOf) } : {}),
    ...(f.cvss
      ? {
          ratings: [
            {
              source: rustsec,
              ...(f.cvss.score !== null ? { score: f.cvss.score } : {}),
              severity: f.severity,
              method: method ?? 'other',
              vector: f.cvss.vector,
            },
          ],
        }
      : {}),
    description: a.title,
    ...(a.description.trim() ? { detail: a.description.trim() } : {}),
    recommendation: f.patched.length
      ? `Upgrade to a patched version: ${describeRanges(f.patched)}`
      : 'No patched version: remove the crate or replace it',
    ...(f.url ? { advisories: [{ title: `${a.id} announcement`, url: f.url }] } : {}),
    ...(/^\d{4}-\d{2}-\d{2}$/.test(a.date) ? { published: `${a.date}T00:00:00Z` } : {}),
    ...(vex ? { analysis: analysisOf(vex) } : {}),
    affects: group.map((h) => ({ ref: h.package.id })),
    properties: [
      ...(a.informational !== undefined ? [{ name: 'cratewatch:advisory:informational', value: a.informational }] : []),
      ...group.map((h) => ({ name: 'cratewatch:reached', value: `${h.package.id}: ${describeReach(paths?.get(h.package.id))}` })),
    ],
  };
}

const STATE: Record<string, string> = {
  not_affected: 'not_affected',
  fixed: 'resolved',
  affected: 'exploitable',
  under_investigation: 'in_triage',
};
const JUSTIFICATION: Record<string, string> = {
  component_not_present: 'code_not_present',
  vulnerable_code_not_present: 'code_not_present',
  vulnerable_code_not_in_execute_path: 'code_not_reachable',
  inline_mitigations_already_exist: 'protected_by_mitigating_control',
};

/** The VEX statement as a CycloneDX analysis; its text (and where it was read) in `detail`. */
function analysisOf(m: VexMatch): Json {
  const s = m.statement;
  const justification = s.justification ? JUSTIFICATION[s.justification] : undefined;
  return {
    state: STATE[s.status],
    ...(justification ? { justification } : {}),
    detail: vexWhy(m).detail,
    lastUpdated: s.timestamp,
  };
}
