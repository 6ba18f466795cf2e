/** The console's history (no servers): one coverage snapshot a day per scope, time-to-resolve from first open to resolved. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConsoleHistory } from '../src/history.js';

const counts = (vetted: number) => ({ vetted, exempted: 1, unvetted: 2, violation: 0, thirdParty: vetted + 3 });

describe('ConsoleHistory', () => {
  it('keeps one snapshot a day per scope, the last read winning, and reads it back from its file', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'console-history-')), 'h.json');
    const h = new ConsoleHistory(file);
    h.recordCoverage('acme|*', counts(1), new Date('2026-01-01T10:00:00Z'));
    h.recordCoverage('acme|*', counts(2), new Date('2026-01-01T18:00:00Z'));
    const series = h.recordCoverage('acme|*', counts(5), new Date('2026-01-02T01:00:00Z'));
    expect(series).toEqual([
      { day: '2026-01-01', counts: counts(2) },
      { day: '2026-01-02', counts: counts(5) },
    ]);
    expect(new ConsoleHistory(file).recordCoverage('acme|payments', counts(0), new Date('2026-01-02T00:00:00Z'))).toHaveLength(1);
    expect(JSON.parse(readFileSync(file, 'utf8')).coverage['acme|*']['2026-01-02']).toEqual(counts(5));
  });

  it('counts time-to-resolve from the first time a finding was seen open; a reopened one starts again', () => {
    const h = new ConsoleHistory();
    const seen = (id: string, state: string, at: string, severity = 'high') => ({ id, state, severity, observedAt: at });
    h.recordFindings([
      seen('a', 'open', '2026-01-01T00:00:00Z'),
      seen('b', 'open', '2026-01-01T00:00:00Z'),
      seen('c', 'resolved', '2026-01-01T00:00:00Z'),
    ]);
    h.recordFindings([seen('a', 'open', '2026-01-01T05:00:00Z'), seen('b', 'resolved', '2026-01-01T10:00:00Z')]);
    h.recordFindings([seen('a', 'resolved', '2026-01-02T00:00:00Z')]);
    expect(h.timeToResolve(['a', 'b', 'c'])).toEqual({ high: { count: 2, medianHours: 17, maxHours: 24 } });
    h.recordFindings([seen('a', 'open', '2026-01-03T00:00:00Z')]);
    expect(h.timeToResolve(['a', 'b'])).toEqual({ high: { count: 1, medianHours: 10, maxHours: 10 } });
    expect(() => new ConsoleHistory(join(__dirname, '../queries.toml'))).toThrow(/queries\.toml: the console's history cannot be read/);
  });
});
