/**
 * What the graph does not keep over time, recorded by the console: the graph holds each
 * workspace's coverage and each finding's state *now* only. So the console records, as it reads
 * them, one coverage snapshot per scope per UTC day (the last read of the day wins), and for each
 * finding the first time it was seen open and the time it was seen resolved — from which
 * time-to-resolve per severity is computed. History starts when the console first runs; a finding
 * opened and resolved while it was not running is not counted. Kept as one JSON file in
 * CRATEWATCH_STATE_DIR (`console-history.json`), written whole through a temporary file.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { FormatError } from '@cratewatch/shared';

export interface CoverageCounts {
  vetted: number;
  exempted: number;
  unvetted: number;
  violation: number;
  thirdParty: number;
}

export interface FindingSeen {
  id: string;
  state: string;
  severity: string;
  observedAt: string;
}

interface Stored {
  v: 1;
  /** scope key → day (YYYY-MM-DD) → counts */
  coverage: Record<string, Record<string, CoverageCounts>>;
  /** finding id → first seen open, resolved (ISO), severity */
  findings: Record<string, { openedAt?: string; resolvedAt?: string; severity: string }>;
}

export class ConsoleHistory {
  private data: Stored = { v: 1, coverage: {}, findings: {} };

  /** `file`: where it is kept; undefined keeps it in memory only (tests, or no state dir). */
  constructor(private readonly file?: string) {
    if (!file) return;
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      return; // first run
    }
    try {
      const parsed = JSON.parse(text) as Stored;
      if (parsed.v !== 1 || typeof parsed.coverage !== 'object' || typeof parsed.findings !== 'object') throw new Error('not a v1 history');
      this.data = parsed;
    } catch (err) {
      throw new FormatError(file, `the console's history cannot be read: ${(err as Error).message}`);
    }
  }

  /** Records today's coverage for a scope and returns its series, oldest first. */
  recordCoverage(scopeKey: string, counts: CoverageCounts, now = new Date()): { day: string; counts: CoverageCounts }[] {
    const day = now.toISOString().slice(0, 10);
    const series = (this.data.coverage[scopeKey] ??= {});
    const changed = JSON.stringify(series[day]) !== JSON.stringify(counts);
    series[day] = counts;
    if (changed) this.save();
    return Object.keys(series)
      .sort()
      .map((d) => ({ day: d, counts: series[d]! }));
  }

  /** Records findings as read now (open: when first seen open; resolved: when it resolved). */
  recordFindings(list: FindingSeen[]): void {
    let changed = false;
    for (const f of list) {
      const h = (this.data.findings[f.id] ??= { severity: f.severity });
      if (f.state === 'open') {
        if (h.resolvedAt !== undefined || h.openedAt === undefined) {
          // Reopened (or new): a new episode starts.
          this.data.findings[f.id] = { openedAt: f.observedAt, severity: f.severity };
          changed = true;
        }
      } else if (h.openedAt !== undefined && h.resolvedAt === undefined) {
        h.resolvedAt = f.observedAt;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  /** Time to resolve (hours) per severity, over the findings of `ids` the console saw open then resolved. */
  timeToResolve(ids: Iterable<string>): Record<string, { count: number; medianHours: number; maxHours: number }> {
    const by = new Map<string, number[]>();
    for (const id of ids) {
      const h = this.data.findings[id];
      if (!h?.openedAt || !h.resolvedAt) continue;
      const hours = (Date.parse(h.resolvedAt) - Date.parse(h.openedAt)) / 3_600_000;
      if (Number.isFinite(hours) && hours >= 0) by.set(h.severity, [...(by.get(h.severity) ?? []), hours]);
    }
    const out: Record<string, { count: number; medianHours: number; maxHours: number }> = {};
    for (const [severity, xs] of by) {
      xs.sort((a, b) => a - b);
      const mid = Math.floor(xs.length / 2);
      const median = xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
      out[severity] = { count: xs.length, medianHours: Math.round(median * 10) / 10, maxHours: Math.round(xs.at(-1)! * 10) / 10 };
    }
    return out;
  }

  private save(): void {
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data));
    renameSync(tmp, this.file);
  }
}
