/** Maintainer risk: each rule on its own, then together (pure: facts in, score and reasons out). */
import { describe, expect, it } from 'vitest';
import {
  FindingEventSchema,
  WIDELY_USED_CRATES,
  editDistance,
  maintainerFinding,
  maintainerRisk,
  nameLookalike,
  type MaintainerFacts,
} from '../src/index.js';

const OBSERVED = '2026-03-01T00:00:00.000Z';
const daysBefore = (n: number, from = OBSERVED) => new Date(Date.parse(from) - n * 86_400_000).toISOString();

/** A crate with nothing to say against it: two owners, a live repository, signed commits. */
function healthy(
  over: Partial<NonNullable<MaintainerFacts['maintainers']>> = {},
  releases: MaintainerFacts['releases'] = [],
): MaintainerFacts {
  return {
    crate: 'quietcrate',
    maintainers: {
      observedAt: OBSERVED,
      owners: [
        { login: 'alice', kind: 'user' },
        { login: 'bob', kind: 'user' },
      ],
      repository: {
        url: 'https://github.com/acme/quietcrate',
        archived: false,
        disabled: false,
        signedCommits: { signed: 40, total: 50, ratio: 0.8 },
      },
      ...over,
    },
    releases,
  };
}
const signals = (f: MaintainerFacts) => Object.fromEntries(maintainerRisk(f).why.map((w) => [w.signal, w.contribution]));

describe('maintainer risk, rule by rule', () => {
  it('a healthy crate scores 0 (info), and so does a crate nothing is known about', () => {
    expect(maintainerRisk(healthy())).toEqual({ score: 0, severity: 'info', why: [] });
    expect(maintainerRisk({ crate: 'quietcrate', releases: [] }).score).toBe(0);
  });

  it('single owner: one user account (2); a lone team, or two owners, is not', () => {
    expect(signals(healthy({ owners: [{ login: 'alice', kind: 'user' }] }))).toEqual({ 'maintainer.single-owner': 2 });
    expect(maintainerRisk(healthy({ owners: [{ login: 'alice', kind: 'user' }] })).why[0]!.detail).toBe('one owner can publish: alice');
    expect(signals(healthy({ owners: [{ login: 'github:acme:core', kind: 'team' }] }))).toEqual({});
    expect(signals(healthy())).toEqual({});
  });

  it('unsigned commits: under 10% signed 1, under 50% 0.5, half or more 0; too few commits say nothing', () => {
    const sc = (signed: number, total: number) =>
      healthy({ repository: { url: 'u', signedCommits: { signed, total, ratio: total ? signed / total : null } } });
    expect(signals(sc(0, 50))).toEqual({ 'repository.unsigned-commits': 1 });
    expect(signals(sc(4, 50))).toEqual({ 'repository.unsigned-commits': 1 }); // 8%
    expect(signals(sc(5, 50))).toEqual({ 'repository.unsigned-commits': 0.5 }); // 10%
    expect(signals(sc(24, 50))).toEqual({ 'repository.unsigned-commits': 0.5 }); // 48%
    expect(signals(sc(25, 50))).toEqual({});
    expect(signals(sc(0, 4))).toEqual({});
    expect(signals(sc(0, 0))).toEqual({});
    expect(maintainerRisk(sc(2, 50)).why[0]!.detail).toBe('2 of the last 50 commits signed');
  });

  it('archived or disabled repository 1.5; missing repository 2', () => {
    expect(signals(healthy({ repository: { url: 'https://github.com/acme/q', archived: true } }))).toEqual({ 'repository.archived': 1.5 });
    expect(signals(healthy({ repository: { url: 'https://github.com/acme/q', disabled: true } }))).toEqual({ 'repository.archived': 1.5 });
    expect(signals(healthy({ repository: 'missing' }))).toEqual({ 'repository.missing': 2 });
  });

  it('owner change: replaced (added and removed) 3, only added or only removed 1, and only while recent (90 days from the newest fact)', () => {
    const change = (added: string[], removed: string[], at = daysBefore(10)) =>
      healthy({ ownershipChange: { added, removed, observedAt: at } });
    expect(signals(change(['mallory'], ['carol']))).toEqual({ 'maintainer.owner-change': 3 });
    expect(maintainerRisk(change(['mallory'], ['carol'])).why[0]!.detail).toBe(
      `owners replaced ${daysBefore(10).slice(0, 10)}: added mallory; removed carol`,
    );
    expect(signals(change(['bob'], []))).toEqual({ 'maintainer.owner-change': 1 });
    expect(signals(change([], ['carol']))).toEqual({ 'maintainer.owner-change': 1 });
    expect(signals(change(['mallory'], ['carol'], daysBefore(91)))).toEqual({});
    expect(signals(change(['mallory'], ['carol'], daysBefore(90)))).toEqual({ 'maintainer.owner-change': 3 });
    expect(signals(change([], []))).toEqual({});
  });

  it('"recent" is measured from the newest fact about the crate, not the wall clock: a newer release makes an old change old', () => {
    const f = healthy({ ownershipChange: { added: ['mallory'], removed: ['carol'], observedAt: daysBefore(10) } });
    expect(signals(f)).toEqual({ 'maintainer.owner-change': 3 });
    const later = {
      ...f,
      releases: [{ version: '2.0.0', publishedAt: new Date(Date.parse(OBSERVED) + 200 * 86_400_000).toISOString(), yanked: false }],
    };
    expect(signals(later)).toEqual({});
  });

  it('release after dormancy: the newest release a year or more after the previous one (2), only while recent; yanked releases do not count', () => {
    const rel = (version: string, daysAgo: number, yanked = false) => ({ version, publishedAt: daysBefore(daysAgo), yanked });
    expect(signals(healthy({}, [rel('1.0.0', 420), rel('1.0.1', 20)]))).toEqual({ 'release.after-dormancy': 2 });
    expect(maintainerRisk(healthy({}, [rel('1.0.0', 420), rel('1.0.1', 20)])).why[0]!.detail).toBe(
      `1.0.1 (${daysBefore(20).slice(0, 10)}) came 400 days after 1.0.0`,
    );
    expect(signals(healthy({}, [rel('1.0.0', 300), rel('1.0.1', 20)]))).toEqual({}); // 280 days: not dormant
    expect(signals(healthy({}, [rel('1.0.0', 900), rel('1.0.1', 200)]))).toEqual({}); // dormant, but long ago
    expect(signals(healthy({}, [rel('1.0.0', 420), rel('1.0.1', 20, true)]))).toEqual({}); // the sudden one was yanked
    expect(signals(healthy({}, [rel('1.0.0', 420), rel('1.0.1', 30), rel('1.0.2', 20)]))).toEqual({}); // the newest follows a recent one
  });

  it("release after dormancy falls back to the repository's cadence when the registry's dates are not known", () => {
    const repo = (lastGapDays: number | null, last = daysBefore(5)) =>
      healthy({ repository: { url: 'https://github.com/acme/q', cadence: { kind: 'releases', last, lastGapDays } } });
    expect(signals(repo(500))).toEqual({ 'release.after-dormancy': 2 });
    expect(maintainerRisk(repo(500)).why[0]!.detail).toMatch(/the repository's last release \(\d{4}-\d\d-\d\d\) came 500 days after/);
    expect(signals(repo(100))).toEqual({});
    expect(signals(repo(null))).toEqual({});
    expect(signals(repo(500, daysBefore(200)))).toEqual({});
    // registry history wins: two releases close together, whatever the repository says
    const both = {
      ...repo(500),
      releases: [
        { version: '1.0.0', publishedAt: daysBefore(30), yanked: false },
        { version: '1.0.1', publishedAt: daysBefore(5), yanked: false },
      ],
    };
    expect(signals(both)).toEqual({});
  });

  it('new publisher: the newest release by someone who published none of the earlier ones (2), only while recent', () => {
    const rel = (version: string, daysAgo: number, publisher?: string) => ({
      version,
      publishedAt: daysBefore(daysAgo),
      yanked: false,
      ...(publisher ? { publisher } : {}),
    });
    expect(signals(healthy({}, [rel('1.0.0', 60, 'alice'), rel('1.1.0', 40, 'bob'), rel('1.2.0', 10, 'mallory')]))).toEqual({
      'release.new-publisher': 2,
    });
    expect(maintainerRisk(healthy({}, [rel('1.0.0', 60, 'alice'), rel('1.2.0', 10, 'mallory')])).why[0]!.detail).toBe(
      `1.2.0 (${daysBefore(10).slice(0, 10)}) published by mallory, who published none of the 1 earlier releases (alice)`,
    );
    expect(signals(healthy({}, [rel('1.0.0', 60, 'alice'), rel('1.2.0', 10, 'alice')]))).toEqual({});
    expect(signals(healthy({}, [rel('1.0.0', 60), rel('1.2.0', 10, 'mallory')]))).toEqual({}); // no earlier publisher known
    expect(signals(healthy({}, [rel('1.2.0', 10, 'mallory')]))).toEqual({}); // a first release
    expect(signals(healthy({}, [rel('1.0.0', 300, 'alice'), rel('1.2.0', 200, 'mallory')]))).toEqual({}); // long ago
  });

  it('lookalike names: a separator variant or one edit 3, two edits 2; the crates themselves and far names are not', () => {
    const named = (crate: string) => ({ ...healthy(), crate });
    expect(signals(named('rustdecimal'))).toEqual({ 'name.lookalike': 3 });
    expect(maintainerRisk(named('rustdecimal')).why[0]!.detail).toBe('rustdecimal is rust_decimal with its separators changed');
    expect(signals(named('serde-json'))).toEqual({ 'name.lookalike': 3 }); // a literal swap (crates.io refuses to publish it beside serde_json)
    expect(signals(named('tokoi'))).toEqual({ 'name.lookalike': 3 }); // transposition: one edit
    expect(signals(named('reqwests'))).toEqual({ 'name.lookalike': 3 });
    expect(maintainerRisk(named('reqwests')).why[0]!.detail).toBe('reqwests is 1 edit from reqwest, a widely used crate');
    expect(signals(named('serde_jsonxx'))).toEqual({ 'name.lookalike': 2 });
    expect(signals(named('serde_json'))).toEqual({});
    expect(signals(named('Serde_Json'))).toEqual({}); // the crate itself, in another case
    expect(signals(named('lgo'))).toEqual({}); // one edit from log, but 3-letter names have too many honest neighbours
    expect(signals(named('tokioxx'))).toEqual({}); // two edits from a 5-letter name: not counted
    expect(signals(named('quietcrate'))).toEqual({});
  });

  it('edit distance counts a transposition as one edit', () => {
    expect(editDistance('tokio', 'tokio')).toBe(0);
    expect(editDistance('tokio', 'tokoi')).toBe(1);
    expect(editDistance('serde', 'serd')).toBe(1);
    expect(editDistance('fast-log', 'faster-log')).toBe(2);
    expect(editDistance('abc', 'xyz')).toBe(3);
    expect(nameLookalike('sha3')).toEqual({ of: 'sha1', kind: 'edit', distance: 1 });
    expect(nameLookalike('sha2')).toBeUndefined();
  });

  it('no two crates of the widely used list are lookalikes of each other by the rules (the list does not flag itself)', () => {
    for (const c of WIDELY_USED_CRATES) expect(nameLookalike(c), c).toBeUndefined();
  });
});

describe('maintainer risk, signals together', () => {
  it('a takeover: owners replaced, single owner left, unsigned, a release by the newcomer after a year of silence: high, capped at 10', () => {
    const f: MaintainerFacts = {
      crate: 'quietcrate',
      maintainers: {
        observedAt: OBSERVED,
        owners: [{ login: 'mallory', kind: 'user' }],
        ownershipChange: { added: ['mallory'], removed: ['alice'], observedAt: daysBefore(30) },
        repository: { url: 'https://github.com/acme/quietcrate', archived: false, signedCommits: { signed: 0, total: 50, ratio: 0 } },
      },
      releases: [
        { version: '1.0.0', publishedAt: daysBefore(800), publisher: 'alice', yanked: false },
        { version: '1.0.1', publishedAt: daysBefore(10), publisher: 'mallory', yanked: false },
      ],
    };
    const r = maintainerRisk(f);
    expect(r.why.map((w) => w.signal)).toEqual([
      'maintainer.single-owner',
      'maintainer.owner-change',
      'release.new-publisher',
      'release.after-dormancy',
      'repository.unsigned-commits',
    ]);
    expect(r).toMatchObject({ score: 10, severity: 'high' });
  });

  it('common crate shapes: one owner + unsigned is 3 (info); + archived 4.5 (low); + a lookalike name 6 (medium)', () => {
    const base = healthy({
      owners: [{ login: 'alice', kind: 'user' }],
      repository: { url: 'u', signedCommits: { signed: 0, total: 50, ratio: 0 } },
    });
    expect(maintainerRisk(base)).toMatchObject({ score: 3, severity: 'info' });
    expect(
      maintainerRisk(
        healthy({ ...base.maintainers, repository: { url: 'u', archived: true, signedCommits: { signed: 0, total: 50, ratio: 0 } } }),
      ),
    ).toMatchObject({ score: 4.5, severity: 'low' });
    expect(maintainerRisk({ ...base, crate: 'tokio-utill' })).toMatchObject({ score: 6, severity: 'medium' });
  });

  it('the finding: id workspace|crate|version|maintainer, why, and who/where details; valid against the topic schema', () => {
    const f: MaintainerFacts = {
      crate: 'rustdecimal',
      maintainers: { observedAt: OBSERVED, owners: [{ login: 'mallory', kind: 'user' }], repository: 'missing' },
      releases: [{ version: '1.23.1', publishedAt: daysBefore(3), publisher: 'mallory', yanked: false }],
    };
    const ev = maintainerFinding({ id: 'acme/app', org: 'acme', team: 'pay' }, f, '1.23.1', 'open', OBSERVED);
    expect(FindingEventSchema.parse(ev)).toEqual(ev);
    expect(ev).toMatchObject({
      id: 'acme/app|rustdecimal|1.23.1|maintainer',
      kind: 'maintainer',
      state: 'open',
      score: 7,
      severity: 'medium',
      workspace: { id: 'acme/app', org: 'acme', team: 'pay' },
      crate: 'rustdecimal',
      version: '1.23.1',
      maintainer: {
        owners: ['mallory'],
        repository: 'missing',
        latestRelease: { version: '1.23.1', publishedAt: daysBefore(3), publisher: 'mallory' },
        lookalikeOf: 'rust_decimal',
      },
    });
    expect(ev.why.map((w) => [w.signal, w.contribution])).toEqual([
      ['maintainer.single-owner', 2],
      ['repository.missing', 2],
      ['name.lookalike', 3],
    ]);
    // Nothing known but the name: no owners/repository in the details.
    expect(maintainerFinding({ id: 'w', org: 'o' }, { crate: 'x', releases: [] }, '1.0.0', 'resolved', OBSERVED).maintainer).toEqual({});
  });
});
