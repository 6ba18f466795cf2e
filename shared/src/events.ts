/**
 * The events on cratewatch's Kafka topics (see docs/ARCHITECTURE.md): one zod schema per topic, versioned by a
 * `v` field, validated by the producer before sending and by every consumer on receipt. A value that
 * fails validation is refused with the path of the offending field, and goes to `<topic>.dlq`.
 *
 * zod rather than hand-written checks: one declaration gives both the TypeScript type and a
 * validator whose errors name the field path, which is what a DLQ reason must say.
 */
import { z } from 'zod';

const TOPIC_NAMES = {
  releases: 'crates.releases',
  advisories: 'rustsec.advisories',
  audits: 'audits.pool',
  maintainers: 'maintainers.signals',
  workspaces: 'org.workspaces',
  findings: 'risk.findings',
} as const;

/**
 * A deployment namespace for every topic (`CRATEWATCH_TOPIC_PREFIX`, e.g. `staging.`), so that
 * several cratewatch instances — staging and production, or test runs — can share one Kafka
 * cluster without reading each other's facts. Read once at load; empty by default. The types keep
 * the unprefixed names: they only name which schema a topic carries.
 */
export const TOPIC_PREFIX: string =
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.CRATEWATCH_TOPIC_PREFIX ?? '';

export const TOPICS = Object.fromEntries(
  Object.entries(TOPIC_NAMES).map(([k, v]) => [k, `${TOPIC_PREFIX}${v}`]),
) as unknown as typeof TOPIC_NAMES;
export type Topic = (typeof TOPICS)[keyof typeof TOPICS];

/** Topics whose latest value per key is the truth, so Neo4j can be rebuilt from Kafka. */
export const COMPACTED_TOPICS: Topic[] = [TOPICS.advisories, TOPICS.audits, TOPICS.maintainers, TOPICS.workspaces, TOPICS.findings];

export const dlqTopic = (topic: string): string => `${topic}.dlq`;

const isoTime = z.string().datetime({ offset: true });
const nonEmpty = z.string().min(1);

export const AdvisorySchema = z.object({
  id: nonEmpty,
  package: nonEmpty,
  collection: z.enum(['crates', 'rust']),
  title: z.string(),
  description: z.string(),
  date: z.string(),
  url: z.string().optional(),
  aliases: z.array(z.string()),
  related: z.array(z.string()),
  categories: z.array(z.string()),
  keywords: z.array(z.string()),
  cvss: z.string().optional(),
  informational: z.string().optional(),
  withdrawn: z.string().optional(),
  references: z.array(z.string()),
  license: z.string().optional(),
  expectDeleted: z.boolean().optional(),
  affected: z.object({ arch: z.array(z.string()), os: z.array(z.string()), functions: z.record(z.array(z.string())) }),
  versions: z.object({ patched: z.array(z.string()), unaffected: z.array(z.string()) }),
});

/** `rustsec.advisories`, keyed by advisory id; a deleted advisory is a tombstone (null value). */
export const AdvisoryEventSchema = z.object({
  v: z.literal(1),
  advisory: AdvisorySchema,
  /** Where it was read: path in the advisory-db, and the commit when the db is a git checkout. */
  origin: z.object({ path: nonEmpty, commit: z.string().optional() }),
  observedAt: isoTime,
});
export type AdvisoryEvent = z.infer<typeof AdvisoryEventSchema>;

export const DependencyKind = z.enum(['normal', 'build', 'dev', 'unknown']);

/** OpenVEX status labels: `not_affected` and `fixed` suppress an advisory finding, the others keep it. */
export const VexStatusSchema = z.enum(['not_affected', 'affected', 'fixed', 'under_investigation']);
/** OpenVEX's machine-readable reasons for `not_affected` (the VEX working group's list). */
export const VexJustificationSchema = z.enum([
  'component_not_present',
  'vulnerable_code_not_present',
  'vulnerable_code_not_in_execute_path',
  'vulnerable_code_cannot_be_controlled_by_adversary',
  'inline_mitigations_already_exist',
]);

/**
 * One OpenVEX statement as `shared/src/vex.ts` reads it: the vulnerability's names, the products
 * (and subcomponents) by their purls, the status with its reasons, and the timestamp that decides
 * which statement is the latest (its own, else the document's).
 */
export const VexStatementSchema = z.object({
  /** Position in the document's `statements`, to name it (`vex.json statements[2]`). */
  index: z.number().int().min(0),
  /**
   * Where the statement was read when the document is no OpenVEX one (whose statements are
   * `statements[index]`): `vulnerabilities[2]` of a CycloneDX VEX, `vulnerabilities[0].product_status.fixed[1]` of a CSAF one.
   */
  path: z.string().optional(),
  vulnerability: z.object({ name: z.string().optional(), id: z.string().optional(), aliases: z.array(z.string()) }),
  /** `purls`: the product's `@id` when it is a purl, and `identifiers.purl`; `subcomponents`: theirs. */
  products: z.array(z.object({ id: z.string().optional(), purls: z.array(z.string()), subcomponents: z.array(z.string()) })),
  status: VexStatusSchema,
  justification: VexJustificationSchema.optional(),
  impactStatement: z.string().optional(),
  actionStatement: z.string().optional(),
  statusNotes: z.string().optional(),
  timestamp: isoTime,
});
export type VexStatement = z.infer<typeof VexStatementSchema>;

/** An OpenVEX document read from a workspace (`file` names where it was read). */
export const VexDocumentSchema = z.object({
  file: nonEmpty,
  id: z.string().optional(),
  author: z.string().optional(),
  timestamp: isoTime.optional(),
  statements: z.array(VexStatementSchema),
});
export type VexDocument = z.infer<typeof VexDocumentSchema>;

/**
 * A workspace's cargo-deny facts: its deny.toml as text, and — when it ships cargo metadata — each
 * crate the checks judge with what a Cargo.lock lacks (license, publish, declared requirements) and
 * its edges as cargo-deny's graph has them (optional dependencies no feature enables left out).
 * Made by shared `denyFacts`, read back by `denyPackagesOfEvent`.
 */
export const DenyFactsSchema = z.object({
  config: z.object({ file: nonEmpty, text: z.string() }),
  packages: z
    .array(
      z.object({
        id: nonEmpty,
        member: z.boolean(),
        deps: z.array(z.object({ to: nonEmpty, kinds: z.array(z.enum(['normal', 'build', 'dev', 'unknown'])) })),
        license: z.string().nullable(),
        licenseFile: z.string().nullable(),
        publish: z.array(z.string()).nullable(),
        dependencies: z.array(
          z.object({
            name: nonEmpty,
            req: z.string(),
            kind: z.enum(['normal', 'dev', 'build']),
            source: z.string().optional(),
            path: z.string().optional(),
          }),
        ),
      }),
    )
    .optional(),
});
export type DenyFacts = z.infer<typeof DenyFactsSchema>;

/** `org.workspaces`, keyed by workspace id. */
export const WorkspaceEventSchema = z.object({
  v: z.literal(1),
  id: nonEmpty,
  org: nonEmpty,
  team: z.string().optional(),
  packages: z.array(
    z.object({
      id: nonEmpty,
      name: nonEmpty,
      version: nonEmpty,
      source: z.string().optional(),
      checksum: z.string().optional(),
    }),
  ),
  /** Resolved dependency edges between package ids; `unknown` when only a Cargo.lock was given. */
  edges: z.array(z.object({ from: nonEmpty, to: nonEmpty, kind: DependencyKind })),
  /** Package ids of the workspace's own (first-party) crates. */
  members: z.array(nonEmpty),
  /** The cargo-vet store as files' text, when the workspace has one. */
  store: z.object({ config: z.string().optional(), audits: z.string().optional(), importsLock: z.string().optional() }).optional(),
  /**
   * The workspace's OpenVEX documents (`vex.json`, `*.openvex.json` beside its Cargo.lock), read and
   * checked by ingest: statements about advisories on its crates that the scorer honours.
   */
  vex: z.array(VexDocumentSchema).optional(),
  /** The workspace's deny.toml and license facts, when it has a deny.toml (absent: no cargo-deny checks). */
  deny: DenyFactsSchema.optional(),
  origin: z.object({ path: z.string(), checksum: z.string() }),
  observedAt: isoTime,
});
export type WorkspaceEvent = z.infer<typeof WorkspaceEventSchema>;

/** `crates.releases`, keyed by crate name: one published or yanked version. */
export const ReleaseEventSchema = z.object({
  v: z.literal(1),
  crate: nonEmpty,
  version: nonEmpty,
  checksum: z.string().optional(),
  yanked: z.boolean(),
  features: z.record(z.array(z.string())),
  dependencies: z.array(
    z.object({
      name: nonEmpty,
      req: nonEmpty,
      kind: z.enum(['normal', 'build', 'dev']),
      optional: z.boolean(),
      target: z.string().optional(),
      package: z.string().optional(),
    }),
  ),
  publishedAt: isoTime.optional(),
  publisher: z.string().optional(),
  observedAt: isoTime,
});
export type ReleaseEvent = z.infer<typeof ReleaseEventSchema>;

/** `audits.pool`, keyed `pool/crate` (criteria under `pool/*criteria*`): that pool's entries now. */
export const PoolEventSchema = z.object({
  v: z.literal(1),
  pool: nonEmpty,
  url: z.string(),
  crate: nonEmpty,
  /** Entries as cargo-vet's audits.toml holds them for this crate (audits, wildcard-audits, trusted). */
  entries: z.record(z.array(z.record(z.unknown()))),
  observedAt: isoTime,
});
export type PoolEvent = z.infer<typeof PoolEventSchema>;

/** `maintainers.signals`, keyed by crate name. */
export const MaintainerEventSchema = z.object({
  v: z.literal(1),
  crate: nonEmpty,
  owners: z.array(z.object({ login: nonEmpty, kind: z.enum(['user', 'team']), observedAt: isoTime })),
  repository: z.string().optional(),
  signals: z.record(z.object({ value: z.unknown(), observedAt: isoTime })),
  observedAt: isoTime,
});
export type MaintainerEvent = z.infer<typeof MaintainerEventSchema>;

export const SeveritySchema = z.enum(['critical', 'high', 'medium', 'low', 'info']);

/** `risk.findings`, keyed by finding id. */
export const FindingEventSchema = z.object({
  v: z.literal(1),
  id: nonEmpty,
  kind: z.enum(['advisory', 'unvetted', 'maintainer', 'deny']),
  state: z.enum(['open', 'resolved']),
  severity: SeveritySchema,
  score: z.number().min(0).max(10),
  workspace: z.object({ id: nonEmpty, org: nonEmpty, team: z.string().optional() }),
  crate: nonEmpty,
  version: nonEmpty,
  /** Each signal's contribution to the score, so a reader sees why. */
  why: z.array(z.object({ signal: nonEmpty, contribution: z.number(), detail: z.string() })),
  advisory: z
    .object({
      id: nonEmpty,
      title: z.string(),
      url: z.string().optional(),
      informational: z.string().optional(),
      patched: z.array(z.string()),
      aliases: z.array(z.string()),
    })
    .optional(),
  /** An `unvetted` finding: what cargo-vet's rules ask of this version and the cheapest audit that would satisfy them. */
  vet: z
    .object({
      status: z.enum(['unvetted', 'violation']),
      /** Criteria the version must meet (minimal: implied ones left out). */
      needs: z.array(z.string()),
      /** Of those, the ones no trusted audit reaches. */
      missing: z.array(z.string()),
      /** Who asks, e.g. `spin-cli@3.0.0 (policy.criteria)`; at most 10. */
      requiredBy: z.array(z.string()),
      suggestion: z
        .object({ command: z.string(), kind: z.enum(['delta', 'full']), from: z.string().optional(), to: z.string() })
        .optional(),
      /** Only a Cargo.lock was given, and the verdict would differ for other dependency kinds. */
      kindDependent: z.boolean().optional(),
    })
    .optional(),
  /** A `maintainer` finding: who owns the crate and where it lives, beside the signals in `why`. */
  maintainer: z
    .object({
      /** Owner logins (teams as crates.io names them, `github:org:team`), at most 10; absent when the maintainers source has said nothing. */
      owners: z.array(z.string()).optional(),
      /** The repository URL, or `missing`. */
      repository: z.string().optional(),
      /** The newest non-yanked release the registry told of. */
      latestRelease: z.object({ version: nonEmpty, publishedAt: isoTime, publisher: z.string().optional() }).optional(),
      /** The widely used crate whose name this one resembles. */
      lookalikeOf: z.string().optional(),
    })
    .optional(),
  /** A `deny` finding: the cargo-deny check and diagnostic, and the deny.toml rule (file, key, line) that says so. */
  deny: z
    .object({
      check: z.enum(['licenses', 'bans', 'sources']),
      code: nonEmpty,
      message: z.string(),
      rule: z.object({ file: nonEmpty, key: nonEmpty, line: z.number().int().positive().optional() }),
      /** For a duplicate: every version of the crate the workspace locks. */
      versions: z.array(z.string()).optional(),
    })
    .optional(),
  observedAt: isoTime,
});
export type FindingEvent = z.infer<typeof FindingEventSchema>;

/** What a consumer writes to `<topic>.dlq` when it refuses a message. */
export const DlqRecordSchema = z.object({
  v: z.literal(1),
  topic: nonEmpty,
  partition: z.number().int(),
  offset: z.string(),
  key: z.string().nullable(),
  /** The raw value as received (UTF-8; base64 under `valueBase64` when it is not text). */
  value: z.string().nullable(),
  valueBase64: z.string().optional(),
  error: z.string(),
  service: nonEmpty,
  /** Set by the consumers' poison-message policy: how often it was tried, and why it was given up. */
  attempts: z.number().int().positive().optional(),
  failure: z.enum(['bad-input', 'failed']).optional(),
  at: isoTime,
});
export type DlqRecord = z.infer<typeof DlqRecordSchema>;

export const SCHEMAS = {
  [TOPICS.advisories]: AdvisoryEventSchema,
  [TOPICS.workspaces]: WorkspaceEventSchema,
  [TOPICS.releases]: ReleaseEventSchema,
  [TOPICS.audits]: PoolEventSchema,
  [TOPICS.maintainers]: MaintainerEventSchema,
  [TOPICS.findings]: FindingEventSchema,
} as const;

export class EventValidationError extends Error {
  override name = 'EventValidationError';

  constructor(
    readonly topic: string,
    readonly issues: string[],
  ) {
    super(`invalid ${topic} event: ${issues.join('; ')}`);
  }
}

type SchemaOf<T extends keyof typeof SCHEMAS> = z.infer<(typeof SCHEMAS)[T]>;

/** Validates a value for a topic; throws EventValidationError naming each bad field's path. */
export function validateEvent<T extends keyof typeof SCHEMAS>(topic: T, value: unknown): SchemaOf<T> {
  const result = SCHEMAS[topic].safeParse(value);
  if (!result.success) {
    throw new EventValidationError(
      topic,
      result.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`),
    );
  }
  return result.data as SchemaOf<T>;
}

/** Decodes a Kafka value (JSON bytes) and validates it; null stays null (a tombstone). */
export function decodeEvent<T extends keyof typeof SCHEMAS>(topic: T, raw: Buffer | string | null): SchemaOf<T> | null {
  if (raw === null) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    throw new EventValidationError(topic, [`(root): not JSON: ${(err as Error).message}`]);
  }
  return validateEvent(topic, parsed);
}

export function encodeEvent<T extends keyof typeof SCHEMAS>(topic: T, value: SchemaOf<T>): string {
  return JSON.stringify(validateEvent(topic, value));
}
