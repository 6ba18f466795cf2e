/**
 * A consumed message as the typed event the scorer applies: the topic's schema (shared
 * `decodeEvent`), the key checked against the payload, a tombstone read as what it means on its
 * topic, and the fact topics' events turned into the rows the graph writes (`fact-rows.ts`). Bad
 * input throws EventValidationError or BadMessageError, which the runtime's consumer loop sends to
 * `<topic>.dlq` with the reason (`eachRefusing` collects them for a run). Pure: no I/O.
 */
import {
  FormatError,
  TOPICS,
  decodeEvent,
  isSemVer,
  unaffectedIntervals,
  type Advisory,
  type MaintainerEvent,
  type PoolEvent,
  type WorkspaceEvent,
} from '@cratewatch/shared';
import { BadMessageError, type ConsumedMessage } from '@cratewatch/runtime';
import { storeOf } from './decide-coverage.js';
import {
  CRITERIA_KEY,
  checkMaintainerKey,
  checkPoolKey,
  checkReleaseKey,
  criteriaSet,
  maintainerRow,
  parsePoolKey,
  poolCrateSet,
  releaseRow,
  type CriteriaSet,
  type MaintainerRow,
  type PoolCrateSet,
  type ReleaseRow,
} from './fact-rows.js';

/** What one fact message writes: a crate's pool entries, a pool's criteria, owners, a release. */
export type Fact =
  | { kind: 'pool'; key: string; set: PoolCrateSet }
  | { kind: 'criteria'; key: string; set: CriteriaSet }
  | { kind: 'maintainer'; key: string; row: MaintainerRow }
  | { kind: 'release'; row: ReleaseRow };

/** What one message asks of the scorer. */
export type ScorerEvent =
  | { kind: 'advisory'; advisory: Advisory }
  | { kind: 'advisory-deleted'; id: string }
  | { kind: 'workspace'; event: WorkspaceEvent }
  /** A removed workspace: its findings stay until it is registered again (README). */
  | { kind: 'workspace-removed' }
  | Fact;

const FACT_KINDS: ReadonlySet<string> = new Set<Fact['kind']>(['pool', 'criteria', 'maintainer', 'release']);

export const isFact = (e: ScorerEvent): e is Fact => FACT_KINDS.has(e.kind);

/** The event a message carries; undefined for a topic the scorer does not read. Throws on bad input. */
export function decodeMessage(m: ConsumedMessage): ScorerEvent | undefined {
  if (m.topic === TOPICS.advisories) return advisoryEvent(m);
  if (m.topic === TOPICS.workspaces) {
    const ev = decodeEvent(TOPICS.workspaces, m.message.value);
    if (ev === null) return { kind: 'workspace-removed' };
    if (m.key !== null && m.key !== ev.id) throw new BadMessageError(`key "${m.key}" is not the workspace id "${ev.id}"`);
    return { kind: 'workspace', event: ev };
  }
  return factOf(m);
}

function advisoryEvent(m: ConsumedMessage): ScorerEvent {
  const ev = decodeEvent(TOPICS.advisories, m.message.value);
  if (ev === null) {
    if (!m.key) throw new BadMessageError('tombstone without a key');
    return { kind: 'advisory-deleted', id: m.key };
  }
  if (m.key !== null && m.key !== ev.advisory.id) throw new BadMessageError(`key "${m.key}" is not the advisory id "${ev.advisory.id}"`);
  checkAdvisory(ev.advisory);
  return { kind: 'advisory', advisory: ev.advisory };
}

/** Refuses an advisory whose ranges RustSec matching cannot read (it would throw on every version). */
export function checkAdvisory(a: Advisory): void {
  try {
    unaffectedIntervals(a);
  } catch (err) {
    throw new BadMessageError(`advisory ${a.id}: ${(err as Error).message}`);
  }
}

/**
 * Refuses a workspace event locking a version that is not SemVer (ingest refuses such a Cargo.lock:
 * shared LockedVersionError; an event from elsewhere is refused alike) or carrying a store cargo-vet
 * could not read (the error names file, table and key).
 */
export function checkWorkspace(ev: WorkspaceEvent): void {
  const odd = ev.packages.findIndex((p) => !isSemVer(p.version));
  if (odd >= 0)
    throw new BadMessageError(`workspace ${ev.id}: packages.${odd}.version: ${JSON.stringify(ev.packages[odd]!.version)} is not SemVer`);
  try {
    storeOf(ev);
  } catch (err) {
    if (err instanceof FormatError) throw new BadMessageError(`workspace ${ev.id}: ${err.message}`);
    throw err;
  }
}

/**
 * The fact a message of `audits.pool`, `maintainers.signals` or `crates.releases` writes, validated
 * (key included); undefined for another topic.
 */
function factOf(m: ConsumedMessage): Fact | undefined {
  if (m.topic === TOPICS.audits) {
    let ev: PoolEvent | null = decodeEvent(TOPICS.audits, m.message.value);
    if (ev === null) {
      // Ingest sends an explicit empty event, but a tombstone on this compacted topic means the same.
      const { pool, crate } = parsePoolKey(m.key);
      ev = { v: 1, pool, url: '', crate, entries: {}, observedAt: new Date(0).toISOString() };
    } else checkPoolKey(m.key, ev);
    const key = `${ev.pool}/${ev.crate}`;
    if (ev.crate === CRITERIA_KEY) return { kind: 'criteria', key, set: criteriaSet(ev) };
    return { kind: 'pool', key, set: poolCrateSet(ev) };
  }
  if (m.topic === TOPICS.maintainers) return maintainerFact(m);
  if (m.topic === TOPICS.releases) {
    const ev = decodeEvent(TOPICS.releases, m.message.value);
    if (ev === null) throw new BadMessageError('a release event cannot be a tombstone');
    checkReleaseKey(m.key, ev);
    return { kind: 'release', row: releaseRow(ev) };
  }
  return undefined;
}

function maintainerFact(m: ConsumedMessage): Fact {
  let ev: MaintainerEvent | null = decodeEvent(TOPICS.maintainers, m.message.value);
  if (ev === null) {
    if (!m.key) throw new BadMessageError('tombstone without a key');
    ev = { v: 1, crate: m.key, owners: [], signals: {}, observedAt: new Date(0).toISOString() };
    const row = maintainerRow(ev);
    // The source no longer reports on the crate: it says nothing (not "no repository, no owner").
    row.crateProps.maintainersObservedAt = null;
    return { kind: 'maintainer', key: ev.crate, row };
  }
  checkMaintainerKey(m.key, ev);
  return { kind: 'maintainer', key: ev.crate, row: maintainerRow(ev) };
}
