/** The kept resolutions: used only while the graph's event hash and coverage stamp are theirs, on their day; bounded. */
import { describe, expect, it } from 'vitest';
import type { VetReport, WorkspaceEvent } from '@cratewatch/shared';
import { ResolutionCache, reportDigest, utcDay, type Resolution } from '../src/resolution-cache.js';
import type { PreparedWorkspace } from '../src/decide-coverage.js';

const report = (unvetted: number): VetReport => ({
  kindsKnown: false,
  conclusion: unvetted ? 'fail (vet)' : 'success',
  packages: [],
  unneededExemptions: [],
  summary: { thirdParty: 1, vetted: 1 - unvetted, exempted: 0, unvetted, violation: 0, firstParty: 0, kindDependent: 0 },
});
const entry = (n: number, o: Partial<Resolution> = {}): Resolution => ({
  eventHash: `h${n}`,
  stamp: reportDigest(report(n % 2)),
  workspace: {
    event: { id: `ws-${n}` } as WorkspaceEvent,
    store: undefined,
    graph: { nodes: new Map(), kindsKnown: false } as unknown as PreparedWorkspace['graph'],
  },
  report: report(n % 2),
  day: utcDay(),
  ...o,
});

describe('ResolutionCache', () => {
  it('answers only for the same event hash and coverage stamp, and only on the day it was made', () => {
    const c = new ResolutionCache(10);
    const e = entry(1);
    c.set('ws-1', e);
    expect(c.get('ws-1', 'h1', e.stamp)).toBe(e);
    expect(c.get('ws-1', 'h2', e.stamp)).toBeUndefined(); // a new lockfile
    expect(c.get('ws-1', 'h1', reportDigest(report(0)))).toBeUndefined(); // another scorer wrote other coverage
    expect(c.get('ws-1', 'h1', null)).toBeUndefined();
    c.set('ws-2', entry(2, { day: '2000-01-01' }));
    expect(c.get('ws-2', 'h2', entry(2).stamp)).toBeUndefined();
  });

  it('keeps at most its bound, the least recently used going first; 0 keeps nothing', () => {
    const c = new ResolutionCache(2);
    for (const n of [1, 2]) c.set(`ws-${n}`, entry(n));
    expect(c.get('ws-1', 'h1', entry(1).stamp)).toBeDefined(); // ws-1 now most recent
    c.set('ws-3', entry(3));
    expect(c.size).toBe(2);
    expect(c.get('ws-2', 'h2', entry(2).stamp)).toBeUndefined();
    expect(c.get('ws-1', 'h1', entry(1).stamp)).toBeDefined();
    const none = new ResolutionCache(0);
    none.set('ws-1', entry(1));
    expect(none.size).toBe(0);
  });

  it('the digest is of the verdicts: equal reports, equal digests', () => {
    expect(reportDigest(report(1))).toBe(reportDigest(report(1)));
    expect(reportDigest(report(1))).not.toBe(reportDigest(report(0)));
  });
});
