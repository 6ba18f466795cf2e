/**
 * Each workspace's last cargo-vet resolution, kept so that a trusted pool's change to a few crates
 * re-judges only those crates' packages (shared `resolveVetAgain`) instead of resolving the whole
 * workspace again. Only a hint: an entry is used while the graph still says the workspace has the
 * event it was resolved from (`eventHash`) and the coverage of this very resolution (`stamp`, the
 * digest of the report written: another scorer's different coverage, or a new lockfile, changes
 * it), on the day it was made; anything else is a miss, and a miss is a full resolve from the graph. Bounded (least
 * recently used goes first), lost on restart.
 */
import { createHash } from 'node:crypto';
import { auditRefKey, type VetReport } from '@cratewatch/shared';
import type { PreparedWorkspace } from './decide-coverage.js';

/**
 * The digest of a resolution (what `Workspace.coverageStamp` holds): of what coverage writes — each
 * verdict, its criteria and the entries on its path — and the conclusion and counts. The same
 * verdicts, the same digest; a tenth of hashing the whole report.
 */
export function reportDigest(r: VetReport): string {
  const h = createHash('sha256').update(`${r.conclusion}\n${JSON.stringify(r.summary)}\n${r.store?.reported.length ?? -1}\n`);
  for (const v of r.packages)
    h.update(`${v.id}\t${v.status}\t${v.required.join(',')}\t${v.missing.join(',')}\t${v.path.map(auditRefKey).join(',')}\n`);
  return h.digest('hex').slice(0, 32);
}

export interface Resolution {
  /** `Workspace.eventHash` of the event resolved. */
  eventHash: string;
  /** `Workspace.coverageStamp` written with the coverage: `reportDigest(report)`. */
  stamp: string;
  /** The event, its store parsed and its graph: the same graph object lets the requirements stand. */
  workspace: PreparedWorkspace;
  report: VetReport;
  /** The UTC day it was resolved on: the store checks read "today" (wildcard audits' `end`). */
  day: string;
}

export const utcDay = (at = new Date()): string => at.toISOString().slice(0, 10);

export class ResolutionCache {
  private readonly entries = new Map<string, Resolution>();

  constructor(private readonly max: number) {}

  /** The workspace's resolution if it is still the graph's (same event, same coverage write). */
  get(workspace: string, eventHash: string | null, stamp: string | null): Resolution | undefined {
    const e = this.entries.get(workspace);
    if (!e || e.eventHash !== eventHash || e.stamp !== stamp || e.day !== utcDay()) return undefined;
    this.entries.delete(workspace); // most recently used last
    this.entries.set(workspace, e);
    return e;
  }

  set(workspace: string, r: Resolution): void {
    if (this.max <= 0) return;
    this.entries.delete(workspace);
    this.entries.set(workspace, r);
    while (this.entries.size > this.max) this.entries.delete(this.entries.keys().next().value!);
  }

  delete(workspace: string): void {
    this.entries.delete(workspace);
  }

  get size(): number {
    return this.entries.size;
  }
}
