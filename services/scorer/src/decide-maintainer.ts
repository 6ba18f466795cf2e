/**
 * Maintainer-risk findings in the scorer (the rules are shared `maintainerRisk`): a crate's facts
 * as the graph holds them turned back into `MaintainerFacts`, and the findings a set of locked
 * versions should have open compared with those that are. Pure: the scorer reads the inputs from
 * Neo4j, produces the changes and writes them.
 */
import {
  findingChanges,
  maintainerFinding,
  maintainerRisk,
  type FindingEvent,
  type MaintainerFacts,
  type MaintainerRisk,
  type WorkspaceRef,
} from '@cratewatch/shared';
import type { StoredFinding } from './graph/records.js';

/** What the graph holds about one crate (see `Graph.crateFacts`). */
export interface CrateFactsRow {
  crate: string;
  /** `maintainers.signals`' observation time; null when no event (or a tombstone) was applied. */
  observedAt: string | null;
  /** JSON `{added, removed, previous}` as the Crate property keeps it. */
  ownershipChange: string | null;
  ownershipChangeObservedAt: string | null;
  owners: { login: string; kind: string | null }[];
  /** The Repository node's properties (`url`, `repository`, `archived`, `signedCommits_ratio`, …), or null. */
  repo: Record<string, unknown> | null;
  releases: { version: string; publishedAt: string; publisher: string | null; yanked: boolean | null }[];
  /** `maintainerDecisionStamp` of the last recompute over every workspace locking the crate, or null. */
  decided?: string | null;
}

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * The facts `maintainerRisk` reads, from the graph's row. The repository is missing when the
 * maintainers source said so (`repository: "missing"`: GitHub does not know it) or when the crate
 * names none (no HOSTED_AT edge although the source reported on the crate).
 */
export function factsFromGraph(row: CrateFactsRow): MaintainerFacts {
  const releases = row.releases
    .filter((r) => typeof r.publishedAt === 'string')
    .map((r) => ({
      version: r.version,
      publishedAt: r.publishedAt,
      yanked: r.yanked === true,
      ...(r.publisher ? { publisher: r.publisher } : {}),
    }));
  if (row.observedAt === null) return { crate: row.crate, releases };
  let repository: NonNullable<MaintainerFacts['maintainers']>['repository'] = 'missing';
  const r = row.repo;
  if (r && str(r.url) && r.repository !== 'missing') {
    const total = num(r.signedCommits_total);
    const cadenceOf = (kind: 'releases' | 'tags') => {
      const last = str(r[`${kind}_last`]);
      return last ? { kind, last, lastGapDays: num(r[`${kind}_lastGapDays`]) ?? null } : undefined;
    };
    const cadence = cadenceOf('releases') ?? cadenceOf('tags');
    repository = {
      url: str(r.url)!,
      ...(typeof r.archived === 'boolean' ? { archived: r.archived } : {}),
      ...(typeof r.disabled === 'boolean' ? { disabled: r.disabled } : {}),
      ...(total !== undefined
        ? { signedCommits: { signed: num(r.signedCommits_signed) ?? 0, total, ratio: num(r.signedCommits_ratio) ?? null } }
        : {}),
      ...(cadence ? { cadence } : {}),
    };
  }
  let ownershipChange: NonNullable<MaintainerFacts['maintainers']>['ownershipChange'];
  if (row.ownershipChange && row.ownershipChangeObservedAt) {
    try {
      const c = JSON.parse(row.ownershipChange) as { added?: unknown; removed?: unknown };
      const logins = (x: unknown) => (Array.isArray(x) ? x.filter((l): l is string => typeof l === 'string') : []);
      ownershipChange = { added: logins(c.added), removed: logins(c.removed), observedAt: row.ownershipChangeObservedAt };
    } catch {
      // not what ingest writes; no change is known
    }
  }
  return {
    crate: row.crate,
    maintainers: {
      observedAt: row.observedAt,
      owners: row.owners.map((o) => ({ login: o.login, kind: o.kind === 'team' ? 'team' : 'user' })),
      ...(ownershipChange ? { ownershipChange } : {}),
      repository,
    },
    releases,
  };
}

/**
 * What a crate's maintainer findings are decided from, as one string: whether a locked version gets
 * an open finding, and whether an open one is re-sent, depend only on the crate's score and
 * severity and on the threshold (`maintainerChanges`), never on the `why` wording. Kept on the Crate
 * once every workspace locking it was decided with it, so facts that leave it the same (a new
 * release of a busy crate, an owner list reordered) fan out to no workspace.
 */
export function maintainerDecisionStamp(risk: Pick<MaintainerRisk, 'score' | 'severity'>, minScore: number): string {
  return `v1|${risk.score}|${risk.severity}|${minScore}`;
}

/** A crates.io version a workspace locks. */
export interface LockedCrate {
  workspace: WorkspaceRef;
  crate: string;
  version: string;
}

export interface MaintainerInput {
  /** The locked versions in scope (a workspace's, or every workspace's of some crates). */
  locked: LockedCrate[];
  /** The facts of every crate in `locked`. */
  facts: Map<string, MaintainerFacts>;
  /** The maintainer findings stored for the same scope, with their workspace. */
  current: (StoredFinding & { workspace: WorkspaceRef })[];
}

/**
 * The finding events that bring the scope's maintainer findings in line with the facts: a locked
 * version of a crate scoring `minScore` or more opens one (or reopens it); an open one whose score
 * or severity moved (still at or over `minScore`) is re-sent open with them (shared `findingMoved`);
 * an open one whose crate scores less than `minScore` now, or that is no longer locked, resolves,
 * repeating what it said when it was last sent. Already open with the same score and severity:
 * nothing, even if the `why` details or the `maintainer` block read differently (a replay sends
 * nothing).
 */
export function maintainerChanges(input: MaintainerInput, minScore: number, at: string): FindingEvent[] {
  const risk = new Map<string, MaintainerRisk>();
  const riskOf = (crate: string) => {
    let r = risk.get(crate);
    if (!r) risk.set(crate, (r = maintainerRisk(input.facts.get(crate) ?? { crate, releases: [] })));
    return r;
  };
  const desired = new Map<string, FindingEvent>();
  for (const l of input.locked) {
    if (riskOf(l.crate).score < minScore) continue;
    const f = maintainerFinding(l.workspace, input.facts.get(l.crate) ?? { crate: l.crate, releases: [] }, l.version, 'open', at);
    desired.set(f.id, f);
  }
  return findingChanges(desired.values(), input.current, (f) => ({
    v: 1,
    id: f.id,
    kind: 'maintainer',
    state: 'resolved',
    severity: f.severity,
    score: f.score,
    workspace: f.workspace,
    crate: f.crate,
    version: f.version,
    why: f.why,
    ...(f.maintainer ? { maintainer: f.maintainer } : {}),
    observedAt: at,
  }));
}
