/**
 * The cargo-vet audits that vet each component, as CycloneDX 1.6 attestations (CDXA,
 * docs/adr/0014-cyclonedx-sbom-and-vex.md): cargo-vet's criteria are the requirements of a
 * standard (`definitions.standards`); each vetted component is a claim ("meets safe-to-deploy")
 * whose evidence is the audits on the chain that vets it (who, criteria, full or delta, notes); the
 * store, each import and each pool is an assessor (third party unless it is the workspace's own
 * store) that attests the claims its audits support. Exemptions are not audits and are not
 * claimed (the component's `cratewatch:vet:status` property says `exempted`).
 */
import { auditRefKey, type AuditRef, type VetReport, type VetStore } from '../vet/resolver.js';
import { SAFE_TO_DEPLOY, SAFE_TO_RUN, type AuditsFile } from '../vet/format.js';

type Json = Record<string, unknown>;

/** cargo-vet's built-in criteria, in our words (its own text is in its documentation). */
const BUILT_IN: Record<string, string> = {
  [SAFE_TO_RUN]:
    'built-in cargo-vet criteria: the crate can be compiled, run and tested on a workstation or in controlled automation without surprising consequences (no unexpected file, network or process access).',
  [SAFE_TO_DEPLOY]:
    'built-in cargo-vet criteria: the crate is reviewed to be fit for production: it cannot be exploited by untrusted input to cause harm, and it does nothing surprising (implies safe-to-run).',
};

export const CRITERIA_STANDARD = 'cargo-vet-criteria';
const requirementRef = (c: string) => `criteria:${c}`;
const assessorRef = (r: AuditRef) => `assessor:${r.source}${r.from ? `:${r.from}` : ''}`;
export const claimRef = (id: string) => `claim:${id}`;

interface Entry {
  who?: string[];
  criteria: string[];
  version?: string;
  delta?: { from: string; to: string };
  userId?: number;
  trustedPublisher?: string;
  start?: string;
  end?: string;
  notes?: string;
}

/** The store entry an audit ref names (its own store, an import from imports.lock, or a pool), if it is an audit. */
function entryOf(r: AuditRef, store: VetStore | undefined, pools: Map<string, AuditsFile> | undefined): Entry | undefined {
  const file =
    r.source === 'local'
      ? store?.audits
      : r.source === 'import'
        ? store?.imports?.audits.get(r.from ?? '')
        : r.source === 'pool'
          ? pools?.get(r.from ?? '')
          : undefined;
  if (!file) return undefined;
  const table =
    r.table === 'audits'
      ? file.audits
      : r.table === 'wildcard-audits'
        ? file.wildcardAudits
        : r.table === 'trusted'
          ? file.trusted
          : undefined;
  return table?.get(r.crate)?.[r.index] as Entry | undefined;
}

/** `Name <email>` as an organizational contact (the email only when it looks like one). */
function contact(who: string): Json {
  const m = /^(.*?)\s*<([^<>\s@]+@[^<>\s@]+)>\s*$/.exec(who);
  return m ? { ...(m[1] ? { name: m[1] } : {}), email: m[2] } : { name: who };
}

function describe(r: AuditRef, e: Entry, by: string): string {
  const crate = r.crate;
  const what = e.delta
    ? `delta audit of ${crate} ${e.delta.from} -> ${e.delta.to}`
    : e.version !== undefined
      ? `full audit of ${crate} ${e.version}`
      : r.table === 'wildcard-audits'
        ? `wildcard audit of ${crate} (every version published by ${e.trustedPublisher ?? `crates.io user ${e.userId}`} from ${e.start} to ${e.end})`
        : `trusted publisher of ${crate}: ${e.trustedPublisher ?? `crates.io user ${e.userId}`} from ${e.start} to ${e.end}`;
  return `${what} for ${e.criteria.join(', ')}${e.who?.length ? ` by ${e.who.join(', ')}` : ''} (${by})`;
}

function sourceLabel(r: AuditRef, workspace: string): string {
  return r.source === 'local'
    ? `${workspace} (its own supply-chain store)`
    : r.source === 'import'
      ? `cargo-vet import ${r.from}`
      : `cargo-vet audit pool ${r.from}`;
}

/**
 * `definitions` and `declarations` for the vetted components of a report, or undefined when no
 * component is vetted by an audit. `componentRef(id)` is the component's bom-ref.
 */
export function auditAttestations(
  report: VetReport,
  o: { workspace: string; store?: VetStore; pools?: Map<string, AuditsFile>; componentRef: (packageId: string) => string },
): { definitions: Json; declarations: Json } | undefined {
  const evidence = new Map<string, Json>();
  const claims: Json[] = [];
  const byAssessor = new Map<string, { ref: AuditRef; claims: Map<string, string[]> }>();
  const criteriaUsed = new Set<string>();
  for (const p of report.packages) {
    if (p.status !== 'vetted') continue;
    const audits = p.path.flatMap((r) => {
      const e = entryOf(r, o.store, o.pools);
      return e ? [{ r, e }] : [];
    });
    if (audits.length === 0) continue;
    for (const { r, e } of audits) {
      const key = `audit:${auditRefKey(r)}`;
      if (!evidence.has(key)) evidence.set(key, evidenceOf(key, r, e, o.workspace));
      const a = byAssessor.get(assessorRef(r)) ?? { ref: r, claims: new Map() };
      for (const c of p.required) a.claims.set(c, [...new Set([...(a.claims.get(c) ?? []), claimRef(p.id)])]);
      byAssessor.set(assessorRef(r), a);
    }
    p.required.forEach((c) => criteriaUsed.add(c));
    claims.push({
      'bom-ref': claimRef(p.id),
      target: o.componentRef(p.id),
      predicate: `${p.name} ${p.version} meets the cargo-vet criteria ${p.required.join(', ')}`,
      evidence: [...new Set(audits.map(({ r }) => `audit:${auditRefKey(r)}`))],
      reasoning: `cargo-vet's rules (as cratewatch resolves them) find a chain of audits from nothing to ${p.vetVersion} that certifies ${p.required.join(', ')}: ${audits.map(({ e }) => (e.delta ? `${e.delta.from} -> ${e.delta.to}` : (e.version ?? 'by publisher'))).join(', ')}`,
    });
  }
  if (claims.length === 0) return undefined;
  const requirements = [...criteriaUsed].sort().map((c) => ({
    'bom-ref': requirementRef(c),
    identifier: c,
    title: c,
    text:
      BUILT_IN[c] ??
      o.store?.audits.criteria.get(c)?.description ??
      o.store?.audits.criteria.get(c)?.descriptionUrl ??
      `cargo-vet criteria ${c}`,
  }));
  return {
    definitions: {
      standards: [
        {
          'bom-ref': CRITERIA_STANDARD,
          name: 'cargo-vet audit criteria',
          description: "The criteria cargo-vet audits certify: its built-in ones and those the workspace's store defines.",
          requirements,
        },
      ],
    },
    declarations: {
      assessors: [...byAssessor.entries()].map(([ref, a]) => ({
        'bom-ref': ref,
        thirdParty: a.ref.source !== 'local',
        organization: { name: sourceLabel(a.ref, o.workspace) },
      })),
      attestations: [...byAssessor.entries()].map(([ref, a]) => ({
        summary: `cargo-vet audits recorded by ${sourceLabel(a.ref, o.workspace)}`,
        assessor: ref,
        map: [...a.claims.entries()]
          .sort(([x], [y]) => (x < y ? -1 : 1))
          .map(([c, cl]) => ({ requirement: requirementRef(c), claims: cl })),
      })),
      claims,
      evidence: [...evidence.values()],
    },
  };
}

function evidenceOf(key: string, r: AuditRef, e: Entry, workspace: string): Json {
  return {
    'bom-ref': key,
    propertyName: 'cratewatch:audit',
    description: describe(r, e, sourceLabel(r, workspace)),
    ...(e.who?.length ? { author: contact(e.who[0]!) } : {}),
    ...(e.notes ? { data: [{ name: 'notes', contents: { attachment: { contentType: 'text/plain', content: e.notes } } }] } : {}),
  };
}
