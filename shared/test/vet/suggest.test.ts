import { describe, expect, it } from 'vitest';
import {
  chooseSuggestion,
  diffstat,
  resolveVet,
  type AuditCandidate,
  type DiffStat,
  type SourceTree,
  type VetReport,
} from '../../src/index.js';
import { lines } from './crates.js';
import { lock, store } from './fixtures.js';

const audit = (crate: string, v: string, criteria = 'safe-to-deploy') =>
  `[[audits.${crate}]]\ncriteria = "${criteria}"\nversion = "${v}"\n`;
const delta = (crate: string, from: string, to: string) => `[[audits.${crate}]]\ncriteria = "safe-to-deploy"\ndelta = "${from} -> ${to}"\n`;
const verdict = (r: VetReport, id: string) => r.packages.find((x) => x.id === id)!;
const suggestionFor = (locked: string, audits: string, config = '') =>
  verdict(resolveVet({ lockfile: lock(`@app 0.1.0 -> foo@${locked}\nfoo ${locked}`), store: store(config, audits) }), `foo@${locked}`)
    .suggestion!;

/** Sizes from trees: each version's one file of `size[v]` lines, sharing the first min(…) lines. */
const sizer = (sizes: Record<string, number>) => {
  const t = (v: string): SourceTree => new Map([['src/lib.rs', Buffer.from(lines(sizes[v]!))]]);
  return (c: AuditCandidate): DiffStat | undefined =>
    c.to in sizes && (c.from === undefined || c.from in sizes) ? diffstat(c.from === undefined ? null : t(c.from), t(c.to)) : undefined;
};

describe('suggestions chosen as cargo vet suggest chooses them', () => {
  it("cargo-vet's candidates: the closest vetted version below and above the target (the empty root when none below)", () => {
    const s = suggestionFor(
      '2.0.0',
      [audit('foo', '1.0.0'), audit('foo', '1.5.0'), audit('foo', '3.0.0'), audit('foo', '4.0.0')].join('\n'),
    );
    expect(s.candidates).toEqual([
      { from: '1.5.0', to: '2.0.0' },
      { from: '3.0.0', to: '2.0.0' },
    ]);
    expect(suggestionFor('0.5.0', audit('foo', '1.0.0')).candidates).toEqual([{ to: '0.5.0' }, { from: '1.0.0', to: '0.5.0' }]);
  });

  it('a version that already reaches the target through a delta is a candidate target too', () => {
    const s = suggestionFor('1.2.0', [audit('foo', '1.0.0'), delta('foo', '1.1.0', '1.2.0')].join('\n'));
    expect(s.candidates).toEqual([
      { from: '1.0.0', to: '1.1.0' },
      { from: '1.0.0', to: '1.2.0' },
    ]);
  });

  it('without sizes: never a delta down from a newer version while a base below exists (the empty root is one)', () => {
    // The old choice was the smallest semver distance: 1.2.53 -> 1.2.48 (5 patches) over full.
    const s = suggestionFor('1.2.48', audit('foo', '1.2.53'));
    expect(s).toMatchObject({ kind: 'full', to: '1.2.48' });
    expect(s.why).toMatch(/sizes unknown/);
    expect(suggestionFor('1.2.48', [audit('foo', '1.0.0'), audit('foo', '1.2.49')].join('\n'))).toMatchObject({
      kind: 'delta',
      from: '1.0.0',
      to: '1.2.48',
    });
  });

  it('with sizes: the smallest candidate wins, also a delta down when it is really the smallest, and says why', () => {
    const s = suggestionFor('2.0.0', [audit('foo', '1.0.0'), audit('foo', '3.0.0')].join('\n'));
    const up = chooseSuggestion('foo', s, sizer({ '1.0.0': 100, '2.0.0': 400, '3.0.0': 420 }));
    expect(up).toMatchObject({
      kind: 'delta',
      from: '3.0.0',
      to: '2.0.0',
      lines: 20,
      command: 'cargo vet certify foo 3.0.0 2.0.0 --criteria safe-to-deploy',
    });
    expect(up.why).toBe('delta from 3.0.0, the smallest of 2 candidates: 20 lines vs 1.0.0 -> 2.0.0 300');
    const down = chooseSuggestion('foo', s, sizer({ '1.0.0': 390, '2.0.0': 400, '3.0.0': 1000 }));
    expect(down).toMatchObject({ from: '1.0.0', to: '2.0.0', lines: 10 });
  });

  it('with sizes, a full audit when it is smaller than any delta; an unsized candidate is left out', () => {
    const s = suggestionFor('0.5.0', audit('foo', '9.0.0'));
    const full = chooseSuggestion('foo', s, sizer({ '0.5.0': 30, '9.0.0': 5000 }));
    expect(full).toMatchObject({ kind: 'full', to: '0.5.0', lines: 30, command: 'cargo vet certify foo 0.5.0 --criteria safe-to-deploy' });
    expect(full.why).toBe('a full audit of 0.5.0, the smallest of 2 candidates: 30 lines vs 9.0.0 -> 0.5.0 4,970');
    const partly = chooseSuggestion('foo', s, sizer({ '0.5.0': 30 }));
    expect(partly.why).toBe('a full audit of 0.5.0, the only candidate: 30 lines (1 not sized: no sources)');
    expect(chooseSuggestion('foo', s, () => undefined)).toBe(s);
  });

  it('exempted versions are no base (cargo vet suggest drops exemptions), except suggest = false ones', () => {
    const exempt = (suggest: boolean) =>
      `[[exemptions.foo]]\nversion = "1.0.0"\ncriteria = "safe-to-deploy"\n${suggest ? '' : 'suggest = false\n'}`;
    expect(suggestionFor('1.1.0', '', exempt(true)).candidates).toEqual([{ to: '1.1.0' }]);
    expect(suggestionFor('1.1.0', '', exempt(false)).candidates).toEqual([{ from: '1.0.0', to: '1.1.0' }]);
  });
});
