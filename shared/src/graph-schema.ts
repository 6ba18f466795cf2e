/**
 * The graph's schema in one place (issue 12): the labels, relationship types and properties the
 * scorer writes (services/scorer/src/graph.ts, facts.ts, coverage.ts, maintainer.ts, risk.ts), as
 * typed constants. Readers of the graph — `cratewatch query`, the console and its saved queries —
 * name labels and properties through these, so a renamed property is a compile error in the
 * readers (and a failing test of the saved queries) instead of a query that silently finds nothing.
 *
 * Each constant maps a name to itself (`NODE_PROPS.Workspace.vetVetted === 'vetVetted'`), so
 * Cypher built from them reads like Cypher. Pure: no I/O.
 */

/** `{a: 'a', b: 'b'}` from `['a', 'b']`, keeping the literal types. */
function names<const T extends readonly string[]>(...list: T): { readonly [K in T[number]]: K } {
  return Object.freeze(Object.fromEntries(list.map((n) => [n, n]))) as { readonly [K in T[number]]: K };
}

export const LABELS = names(
  'Crate',
  'Version',
  'Workspace',
  'Pool',
  'Audit',
  'Criteria',
  'Advisory',
  'Maintainer',
  'Repository',
  'Finding',
);
export type Label = keyof typeof LABELS;

export const REL_TYPES = names(
  'HAS_VERSION',
  'DEPENDS_ON',
  'LOCKS',
  'PUBLISHED',
  'CERTIFIES',
  'IMPLIES',
  'AFFECTS',
  'OWNS',
  'HOSTED_AT',
  'ABOUT',
  'IN',
);
export type RelType = keyof typeof REL_TYPES;

/** Each relationship's endpoints, as the scorer writes it. */
export const REL_ENDS: { readonly [R in RelType]: readonly [from: Label, to: Label] } = {
  HAS_VERSION: ['Crate', 'Version'],
  DEPENDS_ON: ['Version', 'Version'],
  LOCKS: ['Workspace', 'Version'],
  PUBLISHED: ['Pool', 'Audit'],
  CERTIFIES: ['Audit', 'Version'],
  IMPLIES: ['Criteria', 'Criteria'],
  AFFECTS: ['Advisory', 'Version'],
  OWNS: ['Maintainer', 'Crate'],
  HOSTED_AT: ['Crate', 'Repository'],
  ABOUT: ['Finding', 'Version'],
  IN: ['Finding', 'Workspace'],
};

/**
 * The properties of each node label. Repository nodes also carry one property per maintainer
 * signal the maintainers source reports (`name`, `name_field`, `nameObservedAt`: facts.ts
 * `flatten`); those named here are the ones the maintainer rule reads.
 */
export const NODE_PROPS = {
  Crate: names(
    'name',
    'maintainersObservedAt',
    'ownerCount',
    'ownerCountObservedAt',
    'ownershipChange',
    'ownershipChangeObservedAt',
    'maintainerDecided',
  ),
  Version: names('id', 'crate', 'version', 'source', 'checksum', 'yanked', 'publishedAt', 'publisher'),
  Workspace: names(
    'id',
    'org',
    'team',
    'checksum',
    'observedAt',
    'event',
    'eventHash',
    'vex',
    'coverageStamp',
    'coverageDue',
    'riskDue',
    'risk',
    'riskSeverity',
    'riskWhy',
    'vetConclusion',
    'vetKindsKnown',
    'vetStore',
    'vetTrustedPools',
    'vetThirdParty',
    'vetVetted',
    'vetExempted',
    'vetUnvetted',
    'vetViolation',
    'vetKindDependent',
    'vetStoreProblems',
  ),
  Pool: names('name', 'url'),
  Audit: names(
    'id',
    'pool',
    'crate',
    'kind',
    'criteria',
    'who',
    'notes',
    'aggregatedFrom',
    'version',
    'delta',
    'deltaFrom',
    'deltaTo',
    'violation',
    'importable',
    'gitRev',
    'versionProblem',
    'userId',
    'trustedPublisher',
    'start',
    'end',
    'renew',
    'table',
    'entry',
  ),
  Criteria: names('id', 'pool', 'name', 'description', 'descriptionUrl', 'aggregatedFrom', 'defined'),
  Advisory: names(
    'id',
    'package',
    'collection',
    'title',
    'date',
    'informational',
    'withdrawn',
    'cvss',
    'aliases',
    'patched',
    'unaffected',
    'json',
  ),
  Maintainer: names('login', 'kind'),
  Repository: names(
    'url',
    'observedAt',
    'repository',
    'archived',
    'disabled',
    'signedCommits_ratio',
    'signedCommits_signed',
    'signedCommits_total',
    'releases_last',
    'releases_lastGapDays',
    'tags_last',
    'tags_lastGapDays',
  ),
  Finding: names(
    'id',
    'kind',
    'state',
    'severity',
    'score',
    'workspace',
    'crate',
    'version',
    'advisory',
    'vet',
    'maintainer',
    'deny',
    'why',
    'observedAt',
    'pendingEvents',
  ),
} as const satisfies { readonly [L in Label]: Readonly<Record<string, string>> };

/** The properties of the relationships that have any. */
export const REL_PROPS = {
  DEPENDS_ON: names('kind'),
  LOCKS: names('firstParty', 'vetted', 'needs', 'via', 'risk', 'riskSeverity', 'riskWhy'),
  OWNS: names('since'),
} as const satisfies { readonly [R in RelType]?: Readonly<Record<string, string>> };

/** The uniquely-constrained key of each label (services/scorer/src/graph.ts `SCHEMA`). */
export const NODE_KEYS = {
  Crate: 'name',
  Version: 'id',
  Workspace: 'id',
  Pool: 'name',
  Audit: 'id',
  Criteria: 'id',
  Advisory: 'id',
  Maintainer: 'login',
  Repository: 'url',
  Finding: 'id',
} as const satisfies { readonly [L in Label]: keyof (typeof NODE_PROPS)[L] };

/** The verdicts a LOCKS edge's `vetted` takes (cargo-vet's statuses, as coverage.ts writes them). */
export const VET_STATUSES = names('vetted', 'not-required', 'exempted', 'unvetted', 'violation', 'first-party');
/** `DEPENDS_ON.kind`: cargo's dependency kinds (`build` runs at build time; `unknown`: from a Cargo.lock alone). */
export const DEPENDENCY_KINDS = names('normal', 'build', 'dev', 'unknown');
export const FINDING_KINDS = names('advisory', 'unvetted', 'maintainer', 'deny');
export const FINDING_STATES = names('open', 'resolved');

/** Every property name a label or relationship type has, for checking a query's names against the schema. */
export function schemaPropertyNames(): Set<string> {
  const all = [...Object.values(NODE_PROPS), ...Object.values(REL_PROPS)].flatMap((p) => Object.keys(p));
  return new Set(all);
}
