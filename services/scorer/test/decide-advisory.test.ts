/** Advisory findings as the scorer wires them, with the workspace's VEX statements (pure: graph rows in, finding events out). */
import { describe, expect, it } from 'vitest';
import { FindingEventSchema, parseVexDocument, type Advisory, type FindingEvent, type VexDocument } from '@cratewatch/shared';
import { advisoryChanges, type AdvisoryFindingContext } from '../src/decide-advisory.js';

const AT = '2026-03-01T00:00:00.000Z';
const WS = { id: 'acme/app', org: 'acme', team: 'pay' };

const advisory = (id: string, pkg: string, o: Partial<Advisory> = {}): Advisory => ({
  id,
  package: pkg,
  collection: 'crates',
  title: `${pkg} is broken`,
  description: '',
  date: '2098-01-01',
  aliases: [],
  related: [],
  categories: [],
  keywords: [],
  references: [],
  affected: { arch: [], os: [], functions: {} },
  versions: { patched: ['>= 2.0.0'], unaffected: [] },
  ...o,
});

const A = advisory('RUSTSEC-2098-0001', 'smallvec', { aliases: ['CVE-2098-1111', 'GHSA-aaaa-bbbb-cccc'] });
const B = advisory('RUSTSEC-2098-0002', 'serde');
const idA = `${WS.id}|smallvec|1.13.2|advisory:${A.id}`;
const idB = `${WS.id}|serde|1.0.0|advisory:${B.id}`;

const vex = (statements: Record<string, unknown>[], file = 'acme/app/vex.json'): VexDocument =>
  parseVexDocument(JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', timestamp: '2026-02-01T00:00:00Z', statements }), file);
const notAffectedA = {
  vulnerability: { name: 'CVE-2098-1111' },
  products: [{ '@id': 'pkg:cargo/smallvec' }],
  status: 'not_affected',
  justification: 'vulnerable_code_not_in_execute_path',
  impact_statement: 'we never call insert_many',
};

const ctx = (o: Partial<AdvisoryFindingContext> = {}): AdvisoryFindingContext => ({
  workspace: WS,
  exposure: [
    { version: '1.13.2', advisory: A },
    { version: '1.0.0', advisory: B },
  ],
  current: [],
  vex: [],
  ...o,
});
/** The stored findings after these events were written (what the next recompute reads). */
const stored = (events: FindingEvent[]): AdvisoryFindingContext['current'] =>
  events.map((f) => ({
    id: f.id,
    state: f.state,
    severity: f.severity,
    score: f.score,
    crate: f.crate,
    version: f.version,
    advisory: f.advisory!.id === A.id ? A : B,
    advisoryId: f.advisory!.id,
  }));
const states = (events: FindingEvent[]) => events.map((f) => [f.id, f.state]);

describe('advisory findings with VEX statements', () => {
  it('without VEX, every hit opens a finding; the same graph again gives nothing', () => {
    const { changes, suppressed } = advisoryChanges(ctx(), AT);
    expect(states(changes)).toEqual([
      [idA, 'open'],
      [idB, 'open'],
    ]);
    expect(suppressed.size).toBe(0);
    for (const f of changes) FindingEventSchema.parse(f);
    expect(advisoryChanges(ctx({ current: stored(changes) }), AT).changes).toEqual([]);
  });

  it('a hit a not_affected statement covers opens no finding; the others do', () => {
    const { changes, suppressed } = advisoryChanges(ctx({ vex: [vex([notAffectedA])] }), AT);
    expect(states(changes)).toEqual([[idB, 'open']]);
    expect([...suppressed.keys()]).toEqual([idA]);
    expect(suppressed.get(idA)!.statement.status).toBe('not_affected');
  });

  it('a fixed statement suppresses too; one about another version does not', () => {
    const fixed = { ...notAffectedA, status: 'fixed', products: [{ '@id': 'pkg:cargo/smallvec@1.13.2' }] };
    expect(states(advisoryChanges(ctx({ vex: [vex([fixed])] }), AT).changes)).toEqual([[idB, 'open']]);
    const otherVersion = { ...fixed, products: [{ '@id': 'pkg:cargo/smallvec@1.13.1' }] };
    expect(states(advisoryChanges(ctx({ vex: [vex([otherVersion])] }), AT).changes)).toEqual([
      [idA, 'open'],
      [idB, 'open'],
    ]);
  });

  it('an open finding whose hit a statement comes to cover resolves, saying vex.not_affected and why; again: nothing', () => {
    const opened = advisoryChanges(ctx(), AT).changes;
    const { changes } = advisoryChanges(ctx({ current: stored(opened), vex: [vex([notAffectedA])] }), AT);
    expect(states(changes)).toEqual([[idA, 'resolved']]);
    const f = FindingEventSchema.parse(changes[0]);
    expect(f.why).toEqual([
      { signal: 'advisory.vulnerability', contribution: f.score, detail: `${A.id}: smallvec is broken — no CVSS given` },
      {
        signal: 'vex.not_affected',
        contribution: 0,
        detail: 'vulnerable_code_not_in_execute_path: we never call insert_many (acme/app/vex.json statements[0], 2026-02-01T00:00:00Z)',
      },
    ]);
    expect(f).toMatchObject({ crate: 'smallvec', version: '1.13.2', advisory: { id: A.id } });
    const after = stored([...opened.filter((o) => o.id !== idA), ...changes]);
    expect(advisoryChanges(ctx({ current: after, vex: [vex([notAffectedA])] }), AT).changes).toEqual([]);
  });

  it('removing the statement reopens the finding, without the VEX entry', () => {
    const resolved = advisoryFinding(idA, 'resolved');
    const { changes } = advisoryChanges(ctx({ current: stored([resolved, advisoryFinding(idB, 'open')]), vex: [] }), AT);
    expect(states(changes)).toEqual([[idA, 'open']]);
    expect(changes[0]!.why.map((w) => w.signal)).toEqual(['advisory.vulnerability']);
  });

  it('a later affected or under_investigation statement keeps (or reopens) the finding, and its text is shown', () => {
    const affected = {
      ...notAffectedA,
      status: 'affected',
      justification: undefined,
      impact_statement: undefined,
      action_statement: 'upgrade smallvec to 2.0',
      timestamp: '2026-02-15T00:00:00Z',
    };
    const { changes } = advisoryChanges(
      ctx({
        current: stored([advisoryFinding(idA, 'resolved')]),
        vex: [vex([notAffectedA]), vex([affected], 'acme/app/team.openvex.json')],
      }),
      AT,
    );
    expect(states(changes)).toEqual([
      [idA, 'open'],
      [idB, 'open'],
    ]);
    expect(changes[0]!.why[1]).toEqual({
      signal: 'vex.affected',
      contribution: 0,
      detail: 'upgrade smallvec to 2.0 (acme/app/team.openvex.json statements[0], 2026-02-15T00:00:00Z)',
    });
    const investigating = { ...affected, status: 'under_investigation', action_statement: undefined, status_notes: 'asked upstream' };
    expect(advisoryChanges(ctx({ vex: [vex([investigating])] }), AT).changes[0]!.why[1]).toMatchObject({
      signal: 'vex.under_investigation',
      detail: expect.stringMatching(/^asked upstream \(/),
    });
  });

  it('a finding already resolved (the version upgraded) stays so whatever the statements; a gone hit resolves without a VEX entry', () => {
    const noLongerExposed = ctx({
      exposure: [{ version: '1.0.0', advisory: B }],
      current: stored([advisoryFinding(idA, 'open'), advisoryFinding(idB, 'open')]),
      vex: [vex([notAffectedA])],
    });
    const { changes } = advisoryChanges(noLongerExposed, AT);
    expect(states(changes)).toEqual([[idA, 'resolved']]);
    expect(changes[0]!.why.map((w) => w.signal)).toEqual(['advisory.vulnerability']); // resolved by the upgrade, not by VEX
    expect(
      advisoryChanges(
        ctx({ current: stored([advisoryFinding(idA, 'resolved'), advisoryFinding(idB, 'open')]), vex: [vex([notAffectedA])] }),
        AT,
      ).changes,
    ).toEqual([]);
  });

  it('matches the advisory by its RUSTSEC id or any alias, and only on its own crate', () => {
    for (const name of [A.id, 'CVE-2098-1111', 'ghsa-aaaa-bbbb-cccc']) {
      expect(states(advisoryChanges(ctx({ vex: [vex([{ ...notAffectedA, vulnerability: { name } }])] }), AT).changes), name).toEqual([
        [idB, 'open'],
      ]);
    }
    // The statement names smallvec; B is on serde: it stays.
    expect(states(advisoryChanges(ctx({ vex: [vex([{ ...notAffectedA, vulnerability: { name: B.id } }])] }), AT).changes)).toEqual([
      [idA, 'open'],
      [idB, 'open'],
    ]);
  });
});

describe('an open advisory finding whose severity or score moves', () => {
  /** The RustSec advisory A edited to carry a CVSS 3.1 vector (network, no privileges, full impact: 9.8). */
  const critical = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H';
  const withCvss = (cvss: string, o: Partial<Advisory> = {}): AdvisoryFindingContext['exposure'] => [
    { version: '1.13.2', advisory: { ...A, cvss, ...o } },
    { version: '1.0.0', advisory: B },
  ];
  /** What the graph holds once these events are written over the earlier ones (same id: replaced). */
  const over = (before: FindingEvent[], sent: FindingEvent[]): AdvisoryFindingContext['current'] =>
    stored([...before.filter((b) => !sent.some((s) => s.id === b.id)), ...sent]);

  it('the advisory gains a CVSS that raises it (medium 5 → critical 9.8): the open finding is re-sent once, open, with the new severity and score; the same context again sends nothing', () => {
    const opened = advisoryChanges(ctx(), AT).changes;
    expect(opened.map((f) => [f.id, f.severity, f.score])).toEqual([
      [idA, 'medium', 5],
      [idB, 'medium', 5],
    ]);
    const raised = ctx({ exposure: withCvss(critical), current: stored(opened) });
    const { changes } = advisoryChanges(raised, AT);
    expect(changes.map((f) => [f.id, f.state, f.severity, f.score])).toEqual([[idA, 'open', 'critical', 9.8]]);
    expect(FindingEventSchema.parse(changes[0]).why[0]!.detail).toBe(`${A.id}: smallvec is broken — CVSS 3.1 9.8`);
    // Written: the graph holds critical 9.8 now, and the same advisory again sends nothing.
    expect(advisoryChanges(ctx({ exposure: withCvss(critical), current: over(opened, changes) }), AT).changes).toEqual([]);
  });

  it('a CVSS change within the same severity still re-sends (the score is what moved); lowering it re-sends too', () => {
    const opened = advisoryChanges(ctx({ exposure: withCvss(critical) }), AT).changes;
    const lower = 'CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H'; // 8.8, high
    const { changes } = advisoryChanges(ctx({ exposure: withCvss(lower), current: stored(opened) }), AT);
    expect(changes.map((f) => [f.id, f.state, f.severity, f.score])).toEqual([[idA, 'open', 'high', 8.8]]);
    const sameSeverity = 'CVSS:3.1/AV:N/AC:L/PR:H/UI:N/S:U/C:H/I:H/A:H'; // 7.2, still high
    expect(
      advisoryChanges(ctx({ exposure: withCvss(sameSeverity), current: over(opened, changes) }), AT).changes.map((f) => [
        f.severity,
        f.score,
      ]),
    ).toEqual([['high', 7.2]]);
  });

  it('what the finding says changing alone (a new title, an affected statement added) sends nothing', () => {
    const opened = advisoryChanges(ctx({ exposure: withCvss(critical) }), AT).changes;
    const retitled = ctx({ exposure: withCvss(critical, { title: 'smallvec is broken (details added)' }), current: stored(opened) });
    expect(advisoryChanges(retitled, AT).changes).toEqual([]);
    const affected = {
      ...notAffectedA,
      status: 'affected',
      justification: undefined,
      impact_statement: undefined,
      action_statement: 'upgrade smallvec to 2.0',
    };
    expect(advisoryChanges({ ...retitled, vex: [vex([affected])] }, AT).changes).toEqual([]);
  });

  it('a resolved finding whose advisory moved meanwhile reopens once, with the new severity', () => {
    const resolved = advisoryFinding(idA, 'resolved');
    const { changes } = advisoryChanges(
      ctx({ exposure: withCvss(critical), current: stored([resolved, advisoryFinding(idB, 'open')]) }),
      AT,
    );
    expect(changes.map((f) => [f.id, f.state, f.severity])).toEqual([[idA, 'open', 'critical']]);
  });
});

/** A stored finding for A or B, as an earlier recompute wrote it. */
function advisoryFinding(id: string, state: 'open' | 'resolved'): FindingEvent {
  const a = id === idA ? A : B;
  return {
    v: 1,
    id,
    kind: 'advisory',
    state,
    severity: 'medium',
    score: 5,
    workspace: WS,
    crate: a.package,
    version: id === idA ? '1.13.2' : '1.0.0',
    why: [],
    advisory: { id: a.id, title: a.title, patched: [], aliases: [] },
    observedAt: AT,
  };
}

describe('an advisory that now names another crate', () => {
  it('resolves the open finding under its own id, on the crate it was raised on', () => {
    const opened = advisoryChanges(ctx(), AT).changes;
    const movedA = { ...A, package: 'smallvec-core' };
    const current = stored(opened).map((c) => (c.advisoryId === A.id ? { ...c, advisory: movedA } : c));
    const { changes } = advisoryChanges(ctx({ exposure: [{ version: '1.0.0', advisory: B }], current }), AT);
    expect(states(changes)).toEqual([[idA, 'resolved']]);
    expect(changes[0]).toMatchObject({ crate: 'smallvec', version: '1.13.2', advisory: { id: A.id } });
  });
});
