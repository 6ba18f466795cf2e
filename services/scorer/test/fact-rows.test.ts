/**
 * How pool entries become Audit rows (pure): what each audit's version certifies. A cargo-vet git
 * audit (`1.2.3@git:<commit>`) certifies no crates.io release; a version cargo-vet cannot read
 * keeps its Audit but certifies nothing, without refusing the crate's other entries.
 */
import { describe, expect, it } from 'vitest';
import { BadMessageError } from '@cratewatch/runtime';
import type { PoolEvent, ReleaseEvent } from '@cratewatch/shared';
import { poolCrateSet, releaseRow } from '../src/fact-rows.js';

const REV = '1f3c657c8073aec4f0b6ebac7be33b4851644745';
const pool = (audits: Record<string, unknown>[]): PoolEvent => ({
  v: 1,
  pool: 'mozilla',
  url: 'https://example.invalid/audits.toml',
  crate: 'oneshot',
  entries: { audits },
  observedAt: '2026-03-01T00:00:00.000Z',
});
const entry = (o: Record<string, unknown>) => ({ who: 'bdk', criteria: 'safe-to-deploy', ...o });
const byVersion = (ev: PoolEvent) => new Map(poolCrateSet(ev).audits.map((a) => [String(a.props.version ?? a.props.delta), a]));

describe('poolCrateSet: what an audit certifies', () => {
  it('a git audit certifies no crates.io version and keeps its revision; the plain audit of the same number does', () => {
    const rows = byVersion(pool([entry({ version: '0.1.5' }), entry({ version: `0.1.5@git:${REV}` })]));
    expect(rows.get('0.1.5')).toMatchObject({ certifies: '0.1.5', props: { gitRev: null, versionProblem: null } });
    const git = rows.get(`0.1.5@git:${REV}`)!;
    expect(git.certifies).toBeUndefined();
    expect(git.props).toMatchObject({ kind: 'full', version: `0.1.5@git:${REV}`, gitRev: REV, versionProblem: null });
  });

  it('a delta to a git revision certifies nothing; one from a git revision certifies its crates.io target', () => {
    const rows = byVersion(pool([entry({ delta: `0.1.5 -> 0.1.6@git:${REV}` }), entry({ delta: `0.1.5@git:${REV} -> 0.1.6` })]));
    expect(rows.get(`0.1.5 -> 0.1.6@git:${REV}`)).toMatchObject({ props: { kind: 'delta', gitRev: REV, versionProblem: null } });
    expect(rows.get(`0.1.5 -> 0.1.6@git:${REV}`)!.certifies).toBeUndefined();
    expect(rows.get(`0.1.5@git:${REV} -> 0.1.6`)).toMatchObject({ certifies: '0.1.6', props: { gitRev: null } });
  });

  it('a version cargo-vet cannot read keeps the Audit, certifying nothing, and names the field; the other entries stay', () => {
    const set = poolCrateSet(
      pool([
        entry({ version: '0.1' }),
        entry({ delta: '0.1.x -> 0.1.11' }),
        entry({ version: '0.1.5@git:1f3c' }),
        entry({ version: '0.1.13' }),
      ]),
    );
    expect(set.audits).toHaveLength(4);
    const rows = new Map(set.audits.map((a) => [String(a.props.version ?? a.props.delta), a]));
    expect(rows.get('0.1')!.certifies).toBeUndefined();
    expect(rows.get('0.1')!.props.versionProblem).toBe(
      'entries.audits[0].version: "0.1" is not a version (SemVer, or SemVer@git:<40 hex digits>)',
    );
    // the delta's target is fine, but its start is not: kept certifying the target, the problem named
    expect(rows.get('0.1.x -> 0.1.11')).toMatchObject({
      certifies: '0.1.11',
      props: { versionProblem: 'entries.audits[1].delta: "0.1.x" is not a version (SemVer, or SemVer@git:<40 hex digits>)' },
    });
    expect(rows.get('0.1.5@git:1f3c')).toMatchObject({
      props: { gitRev: null, versionProblem: expect.stringContaining('entries.audits[2].version') },
    });
    expect(rows.get('0.1.5@git:1f3c')!.certifies).toBeUndefined();
    expect(rows.get('0.1.13')!.certifies).toBe('0.1.13');
  });

  it('a violation certifies nothing and has no version problem (it is a requirement, not a version)', () => {
    const [v] = poolCrateSet(pool([entry({ violation: '< 0.1.5' })])).audits;
    expect(v!.certifies).toBeUndefined();
    expect(v!.props).toMatchObject({ kind: 'violation', versionProblem: null, gitRev: null });
  });
});

describe('releaseRow', () => {
  const release = (version: string): ReleaseEvent =>
    ({
      v: 1,
      crate: 'oneshot',
      version,
      yanked: false,
      features: {},
      dependencies: [],
      observedAt: '2026-03-01T00:00:00.000Z',
    }) as ReleaseEvent;
  it('refuses a release whose version is not SemVer (crates.io publishes none), naming the field', () => {
    expect(() => releaseRow(release('0.1'))).toThrow(BadMessageError);
    expect(() => releaseRow(release('0.1'))).toThrow('version: "0.1" is not SemVer');
    expect(releaseRow(release('1.0.2+wasi-0.2.9')).version).toBe('1.0.2+wasi-0.2.9');
  });
});
