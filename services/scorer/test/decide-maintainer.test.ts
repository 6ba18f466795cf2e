/** Maintainer-risk findings as the scorer wires them (pure: graph rows in, finding events out). */
import { describe, expect, it } from 'vitest';
import { FindingEventSchema, type FindingEvent } from '@cratewatch/shared';
import { factsFromGraph, maintainerChanges, type CrateFactsRow, type MaintainerInput } from '../src/decide-maintainer.js';
import { maintainerFromEnv } from '../src/main.js';
import type { StoredFinding } from '../src/graph/index.js';

const AT = '2026-03-01T00:00:00.000Z';
const WS = { id: 'acme/app', org: 'acme', team: 'pay' };
const OTHER = { id: 'acme/other', org: 'acme' };

/** How the graph holds a crate after a maintainers event (ingest's shape, flattened by facts.ts). */
function row(over: Partial<CrateFactsRow> = {}): CrateFactsRow {
  return {
    crate: 'leftpadx',
    observedAt: AT,
    ownershipChange: null,
    ownershipChangeObservedAt: null,
    owners: [{ login: 'alice', kind: 'user' }],
    repo: {
      url: 'https://github.com/alice/leftpadx',
      repository: '{"url":"https://github.com/alice/leftpadx","host":"github.com"}',
      archived: true,
      disabled: false,
      signedCommits: '{"signed":0,"total":20,"ratio":0}',
      signedCommits_signed: 0,
      signedCommits_total: 20,
      signedCommits_ratio: 0,
    },
    releases: [],
    ...over,
  };
}

describe('a crate as the graph holds it, back into facts', () => {
  it('owners, the repository and its signals, the ownership change', () => {
    const f = factsFromGraph(
      row({
        owners: [
          { login: 'alice', kind: 'user' },
          { login: 'github:acme:core', kind: 'team' },
        ],
        ownershipChange: '{"added":["github:acme:core"],"removed":[],"previous":["alice"]}',
        ownershipChangeObservedAt: '2026-02-20T00:00:00.000Z',
        releases: [{ version: '1.0.0', publishedAt: '2025-01-01T00:00:00.000Z', publisher: 'alice', yanked: null }],
      }),
    );
    expect(f).toEqual({
      crate: 'leftpadx',
      maintainers: {
        observedAt: AT,
        owners: [
          { login: 'alice', kind: 'user' },
          { login: 'github:acme:core', kind: 'team' },
        ],
        ownershipChange: { added: ['github:acme:core'], removed: [], observedAt: '2026-02-20T00:00:00.000Z' },
        repository: {
          url: 'https://github.com/alice/leftpadx',
          archived: true,
          disabled: false,
          signedCommits: { signed: 0, total: 20, ratio: 0 },
        },
      },
      releases: [{ version: '1.0.0', publishedAt: '2025-01-01T00:00:00.000Z', publisher: 'alice', yanked: false }],
    });
  });

  it('the repository is missing when GitHub does not know it, or when the crate names none', () => {
    expect(
      factsFromGraph(row({ repo: { url: 'https://github.com/gone/x', repository: 'missing', observedAt: AT } })).maintainers!.repository,
    ).toBe('missing');
    expect(factsFromGraph(row({ repo: null })).maintainers!.repository).toBe('missing');
    // a host other than GitHub: present, no signals
    expect(
      factsFromGraph(row({ repo: { url: 'https://gitlab.com/a/x', repository: '{"url":"https://gitlab.com/a/x","host":"gitlab.com"}' } }))
        .maintainers!.repository,
    ).toEqual({ url: 'https://gitlab.com/a/x' });
  });

  it('no maintainers event (or a tombstone): nothing said about owners or the repository, releases still count', () => {
    const f = factsFromGraph(
      row({ observedAt: null, repo: null, owners: [], releases: [{ version: '0.1.0', publishedAt: AT, publisher: null, yanked: true }] }),
    );
    expect(f).toEqual({ crate: 'leftpadx', releases: [{ version: '0.1.0', publishedAt: AT, yanked: true }] });
  });

  it("the repository's release cadence, else its tags'; an unreadable ownership change is ignored", () => {
    const withCadence = (extra: Record<string, unknown>) =>
      factsFromGraph(row({ repo: { url: 'https://github.com/a/x', ...extra } })).maintainers!.repository;
    expect(
      withCadence({
        releases_last: '2026-02-01T00:00:00Z',
        releases_lastGapDays: 400,
        tags_last: '2026-02-02T00:00:00Z',
        tags_lastGapDays: 3,
      }),
    ).toEqual({
      url: 'https://github.com/a/x',
      cadence: { kind: 'releases', last: '2026-02-01T00:00:00Z', lastGapDays: 400 },
    });
    expect(withCadence({ tags_last: '2026-02-02T00:00:00Z' })).toEqual({
      url: 'https://github.com/a/x',
      cadence: { kind: 'tags', last: '2026-02-02T00:00:00Z', lastGapDays: null },
    });
    expect(
      factsFromGraph(row({ ownershipChange: '{not json', ownershipChangeObservedAt: AT })).maintainers!.ownershipChange,
    ).toBeUndefined();
  });
});

/** leftpadx: one owner (2), archived (1.5), unsigned (1), release after dormancy (2) = 6.5. */
const risky = factsFromGraph(
  row({
    releases: [
      { version: '1.0.0', publishedAt: '2024-01-01T00:00:00.000Z', publisher: 'alice', yanked: false },
      { version: '1.1.0', publishedAt: '2026-02-15T00:00:00.000Z', publisher: 'alice', yanked: false },
    ],
  }),
);
/** The same crate after bob joined and the repository was unarchived: owner added (1), unsigned (1), dormancy (2) = 4. */
const better = factsFromGraph(
  row({
    owners: [
      { login: 'alice', kind: 'user' },
      { login: 'bob', kind: 'user' },
    ],
    ownershipChange: '{"added":["bob"],"removed":[],"previous":["alice"]}',
    ownershipChangeObservedAt: AT,
    repo: { ...row().repo!, archived: false },
    releases: risky.releases.map((r) => ({ ...r, publisher: r.publisher ?? null, yanked: r.yanked })),
  }),
);

const stored = (f: FindingEvent): StoredFinding & { workspace: typeof WS } => ({
  id: f.id,
  state: f.state,
  crate: f.crate,
  version: f.version,
  severity: f.severity,
  score: f.score,
  why: f.why,
  ...(f.maintainer ? { maintainer: f.maintainer } : {}),
  workspace: WS,
});
const input = (over: Partial<MaintainerInput>): MaintainerInput => ({
  locked: [],
  facts: new Map([['leftpadx', risky]]),
  current: [],
  ...over,
});

describe('maintainer findings of a scope', () => {
  const locked = [{ workspace: WS, crate: 'leftpadx', version: '1.0.0' }];

  it('a locked version of a crate at or over the minimum score opens one finding, per workspace and version', () => {
    const changes = maintainerChanges(input({ locked: [...locked, { workspace: OTHER, crate: 'leftpadx', version: '1.1.0' }] }), 5, AT);
    expect(changes.map((f) => [f.id, f.state, f.score, f.severity])).toEqual([
      ['acme/app|leftpadx|1.0.0|maintainer', 'open', 6.5, 'medium'],
      ['acme/other|leftpadx|1.1.0|maintainer', 'open', 6.5, 'medium'],
    ]);
    for (const f of changes) expect(FindingEventSchema.parse(f)).toEqual(f);
    expect(changes[0]!.why.map((w) => w.signal)).toEqual([
      'maintainer.single-owner',
      'release.after-dormancy',
      'repository.archived',
      'repository.unsigned-commits',
    ]);
    expect(changes[0]!.maintainer).toEqual({
      owners: ['alice'],
      repository: 'https://github.com/alice/leftpadx',
      latestRelease: { version: '1.1.0', publishedAt: '2026-02-15T00:00:00.000Z', publisher: 'alice' },
    });
    expect(changes[0]!.workspace).toEqual(WS);
  });

  it('under the minimum score, or not a locked version: no finding; the minimum is configurable', () => {
    expect(maintainerChanges(input({ locked }), 7, AT)).toEqual([]);
    expect(maintainerChanges(input({ locked, facts: new Map([['leftpadx', better]]) }), 5, AT)).toEqual([]);
    expect(maintainerChanges(input({ locked: [] }), 0, AT)).toEqual([]);
    expect(maintainerChanges(input({ locked, facts: new Map([['leftpadx', better]]) }), 4, AT)).toHaveLength(1);
  });

  it('already open and still risky: nothing to send (a replay sends nothing)', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    expect(maintainerChanges(input({ locked, current: [stored(open!)] }), 5, '2026-04-01T00:00:00.000Z')).toEqual([]);
  });

  it('the risk drops below the minimum: resolved, repeating what the open finding said', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const later = '2026-03-02T00:00:00.000Z';
    const changes = maintainerChanges(input({ locked, facts: new Map([['leftpadx', better]]), current: [stored(open!)] }), 5, later);
    expect(changes).toEqual([{ ...open!, state: 'resolved', observedAt: later }]);
  });

  it('no longer locked (or locked at another version): the old one resolves, the new one opens', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const changes = maintainerChanges(
      input({ locked: [{ workspace: WS, crate: 'leftpadx', version: '1.1.0' }], current: [stored(open!)] }),
      5,
      AT,
    );
    expect(changes.map((f) => [f.version, f.state])).toEqual([
      ['1.1.0', 'open'],
      ['1.0.0', 'resolved'],
    ]);
    expect(maintainerChanges(input({ locked: [], current: [stored(open!)] }), 5, AT).map((f) => f.state)).toEqual(['resolved']);
  });

  it('a resolved finding reopens when the risk comes back; a resolved one stays quiet while the crate is fine', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const resolved = stored({ ...open!, state: 'resolved' });
    expect(maintainerChanges(input({ locked, current: [resolved] }), 5, AT).map((f) => [f.id, f.state])).toEqual([[open!.id, 'open']]);
    expect(maintainerChanges(input({ locked, facts: new Map([['leftpadx', better]]), current: [resolved] }), 5, AT)).toEqual([]);
  });

  it('the risk rises while the finding is open (owners replaced: 6.5 medium → 9.5 high): re-sent once, open, with the new score and severity; again: nothing', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const worse = factsFromGraph(
      row({
        owners: [{ login: 'mallory', kind: 'user' }],
        ownershipChange: '{"added":["mallory"],"removed":["alice"],"previous":["alice"]}',
        ownershipChangeObservedAt: AT,
        releases: risky.releases.map((r) => ({ ...r, publisher: r.publisher ?? null, yanked: r.yanked })),
      }),
    );
    const later = '2026-03-02T00:00:00.000Z';
    const changes = maintainerChanges(input({ locked, facts: new Map([['leftpadx', worse]]), current: [stored(open!)] }), 5, later);
    expect(changes.map((f) => [f.id, f.state, f.score, f.severity])).toEqual([[open!.id, 'open', 9.5, 'high']]);
    expect(changes[0]!.why.map((w) => w.signal)).toContain('maintainer.owner-change');
    expect(changes[0]!.maintainer!.owners).toEqual(['mallory']);
    // Once written, the same facts send nothing.
    expect(maintainerChanges(input({ locked, facts: new Map([['leftpadx', worse]]), current: [stored(changes[0]!)] }), 5, later)).toEqual(
      [],
    );
    // It resolves later with what the rescored finding said (the Finding node holds the last one sent).
    const resolved = maintainerChanges(input({ locked, facts: new Map([['leftpadx', better]]), current: [stored(changes[0]!)] }), 5, later);
    expect(resolved.map((f) => [f.state, f.score, f.severity])).toEqual([['resolved', 9.5, 'high']]);
  });

  it('a drop that stays over the minimum re-sends too (more commits signed: 6.5 → 6, still medium and open)', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const signedMore = factsFromGraph(
      row({
        repo: { ...row().repo!, signedCommits_signed: 8, signedCommits_ratio: 0.4 },
        releases: risky.releases.map((r) => ({ ...r, publisher: r.publisher ?? null, yanked: r.yanked })),
      }),
    );
    const changes = maintainerChanges(input({ locked, facts: new Map([['leftpadx', signedMore]]), current: [stored(open!)] }), 5, AT);
    expect(changes.map((f) => [f.state, f.score, f.severity])).toEqual([['open', 6, 'medium']]);
  });

  it('what the finding says changing alone (another single owner: the why and the owners read differently, same score) sends nothing', () => {
    const [open] = maintainerChanges(input({ locked }), 5, AT);
    const carol = factsFromGraph(
      row({
        owners: [{ login: 'carol', kind: 'user' }],
        releases: risky.releases.map((r) => ({ ...r, publisher: r.publisher ?? null, yanked: r.yanked })),
      }),
    );
    const reworded = maintainerChanges(input({ locked, facts: new Map([['leftpadx', carol]]) }), 5, AT)[0]!;
    expect(reworded.why).not.toEqual(open!.why);
    expect([reworded.score, reworded.severity]).toEqual([open!.score, open!.severity]);
    expect(maintainerChanges(input({ locked, facts: new Map([['leftpadx', carol]]), current: [stored(open!)] }), 5, AT)).toEqual([]);
  });

  it('a crate with no facts at all is judged by its name alone (a lookalike scores 3: no finding at the default)', () => {
    const l = [{ workspace: WS, crate: 'tokio-utill', version: '0.1.0' }];
    expect(maintainerChanges(input({ locked: l, facts: new Map() }), 5, AT)).toEqual([]);
    expect(maintainerChanges(input({ locked: l, facts: new Map() }), 3, AT).map((f) => f.why.map((w) => w.signal))).toEqual([
      ['name.lookalike'],
    ]);
  });
});

describe('SCORER_MAINTAINER_MIN_SCORE', () => {
  it('defaults to 5; a number from 0 to 10; anything else refuses to start', () => {
    expect(maintainerFromEnv({})).toEqual({ minScore: 5 });
    expect(maintainerFromEnv({ SCORER_MAINTAINER_MIN_SCORE: '' })).toEqual({ minScore: 5 });
    expect(maintainerFromEnv({ SCORER_MAINTAINER_MIN_SCORE: '6.5' })).toEqual({ minScore: 6.5 });
    expect(() => maintainerFromEnv({ SCORER_MAINTAINER_MIN_SCORE: 'high' })).toThrow(
      'SCORER_MAINTAINER_MIN_SCORE: "high" is not a number from 0 to 10',
    );
    expect(() => maintainerFromEnv({ SCORER_MAINTAINER_MIN_SCORE: '11' })).toThrow(/0 to 10/);
  });
});
