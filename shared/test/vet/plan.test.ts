/**
 * The audit planner (`planAudits`) and build-time code (`buildtime.ts`) on small in-memory
 * workspaces: what an audit counts for, the order by weight per line, the budget, chains
 * completed across workspaces, build-time code weighed first, the proc-macro criterion's lines.
 */
import { describe, expect, it } from 'vitest';
import {
  buildTargetsOfCrate,
  graphFromCargoMetadata,
  graphFromLockfile,
  planAudits,
  procMacroCriterionAdvice,
  withBuildTargets,
  workspaceImpact,
  type AuditCandidate,
  type PlanWorkspace,
} from '../../src/index.js';
import { lock, store } from './fixtures.js';

const audit = (crate: string, v: string) => `[[audits.${crate}]]\nwho = "a"\ncriteria = "safe-to-deploy"\nversion = "${v}"\n`;
const ws = (id: string, spec: string, audits = ''): PlanWorkspace => ({
  id,
  graph: graphFromLockfile(lock(spec)),
  store: store('', audits),
});
/** Lines by `from..to` (`..to` for a full audit). */
const sizes =
  (m: Record<string, number>) =>
  (_crate: string, c: AuditCandidate): number | undefined =>
    m[`${c.from ?? ''}..${c.to}`];

describe('planAudits', () => {
  it('one delta counts in every workspace whose store reaches its base; coverage as cargo-vet judges it', () => {
    // foo 1.0.0 is audited in a and b, not c: the delta 1.0.0 -> 1.1.0 vets foo 1.1.0 in a and b only.
    const a = ws('a', '@app 0.1.0 -> foo@1.1.0\nfoo 1.1.0', audit('foo', '1.0.0'));
    const b = ws('b', '@app 0.1.0 -> foo@1.1.0\nfoo 1.1.0', audit('foo', '1.0.0'));
    const c = ws('c', '@app 0.1.0 -> foo@1.1.0\nfoo 1.1.0');
    const plan = planAudits([a, b, c], { lines: sizes({ '1.0.0..1.1.0': 10, '..1.1.0': 500 }) });
    expect(plan.before).toEqual({ vetted: 0, thirdParty: 3, coverage: 0 });
    expect(plan.audits.map((x) => [x.command, x.lines, x.workspaces])).toEqual([
      ['cargo vet certify foo 1.0.0 1.1.0 --criteria safe-to-deploy', 10, ['a', 'b']],
      ['cargo vet certify foo 1.1.0 --criteria safe-to-deploy', 500, ['c']],
    ]);
    expect(plan.audits[0]!.cumulative).toEqual({ lines: 10, vetted: 2, thirdParty: 3, coverage: 2 / 3 });
    expect(plan.after.vetted).toBe(3);
    expect(plan.summary).toBe(
      'these 2 audits, 510 lines, take the org from 0.0% to 100.0% of locked third-party versions vetted (3 more of 3 workspace-versions, 3 workspaces)',
    );
  });

  it('an audit completes a chain: a full audit of the base of an existing delta vets the version above it too', () => {
    const a = ws(
      'a',
      '@app 0.1.0 -> foo@1.1.0\nfoo 1.1.0',
      `[[audits.foo]]\nwho = "a"\ncriteria = "safe-to-deploy"\ndelta = "1.0.0 -> 1.1.0"\n`,
    );
    const plan = planAudits([a], { lines: sizes({ '..1.0.0': 50, '..1.1.0': 60 }) });
    expect(plan.audits[0]).toMatchObject({ crate: 'foo', kind: 'full', to: '1.0.0', lines: 50, versions: ['a: foo@1.1.0'] });
  });

  it('weight per line orders the plan; --budget stops before what does not fit', () => {
    const a = ws('a', '@app 0.1.0 -> big@1.0.0 small@1.0.0\nbig 1.0.0\nsmall 1.0.0');
    const lines = sizes({ '..1.0.0': 0 });
    const byCrate = (crate: string, c: AuditCandidate) => (crate === 'big' ? 1000 : 10) + (lines(crate, c) ?? 0);
    const plan = planAudits([a], { lines: byCrate });
    expect(plan.audits.map((x) => x.crate)).toEqual(['small', 'big']);
    const budget = planAudits([a], { lines: byCrate, budget: 500 });
    expect(budget.audits.map((x) => x.crate)).toEqual(['small']);
    expect(budget.lines).toBe(10);
  });

  it('without sizes: ranked by weight, build-time code before a plain direct dependency, sizes said unknown', () => {
    // mac is a proc-macro (cargo metadata targets); plain is an equally direct, non-build dependency
    const meta = {
      packages: [
        { id: 'app', name: 'app', version: '0.1.0', source: null, targets: [{ kind: ['bin'] }] },
        { id: 'mac', name: 'mac', version: '1.0.0', source: CR, targets: [{ kind: ['proc-macro'] }] },
        { id: 'plain', name: 'plain', version: '1.0.0', source: CR, targets: [{ kind: ['lib'] }] },
      ],
      resolve: { nodes: [{ id: 'app', deps: [{ pkg: 'mac' }, { pkg: 'plain' }] }, { id: 'mac' }, { id: 'plain' }] },
      workspace_members: ['app'],
    };
    const graph = graphFromCargoMetadata(meta);
    expect(workspaceImpact(graph).get('mac@1.0.0')).toMatchObject({ buildTime: true, buildCode: 'proc-macro' });
    const plan = planAudits([{ id: 'w', graph, store: store('') }]);
    expect(plan.audits.map((x) => [x.crate, x.buildTime, x.lines])).toEqual([
      ['mac', true, null],
      ['plain', false, null],
    ]);
    expect(plan.summary).toMatch(/^these 2 audits \(sizes unknown: no crate sources; ranked by versions vetted\)/);
    expect(plan.perWorkspace[0]!.procMacros).toBe(1);
  });

  it('lists the candidates it met without a size, for the caller to size', () => {
    const plan = planAudits([ws('a', '@app 0.1.0 -> foo@1.0.0\nfoo 1.0.0')], { lines: () => undefined });
    expect(plan.needSizes).toEqual([{ crate: 'foo', to: '1.0.0' }]);
    expect(plan.audits[0]!.lines).toBeNull();
    expect(plan.summary).toContain('(and 1 not sized: no sources)');
  });
});

const CR = 'registry+https://github.com/rust-lang/crates.io-index';
const tree = (files: Record<string, string>) => new Map(Object.entries(files).map(([k, v]) => [k, Buffer.from(v)]));

describe('build-time code from the crate sources and the proc-macro criterion', () => {
  it('reads [lib] proc-macro, package.build and an auto-detected build.rs', () => {
    expect(buildTargetsOfCrate('m', '1.0.0', tree({ 'Cargo.toml': '[package]\nname = "m"\n[lib]\nproc-macro = true\n' }))).toEqual({
      procMacro: true,
      buildScript: false,
    });
    expect(buildTargetsOfCrate('b', '1.0.0', tree({ 'Cargo.toml': '[package]\nname = "b"\nbuild = "gen.rs"\n' }))).toEqual({
      procMacro: false,
      buildScript: true,
    });
    expect(
      buildTargetsOfCrate('c', '1.0.0', tree({ 'Cargo.toml': '[package]\nname = "c"\n', 'build.rs': 'fn main() {}' })).buildScript,
    ).toBe(true);
    expect(
      buildTargetsOfCrate('d', '1.0.0', tree({ 'Cargo.toml': '[package]\nname = "d"\nbuild = false\n', 'build.rs': '' })).buildScript,
    ).toBe(false);
    expect(() => buildTargetsOfCrate('e', '1.0.0', tree({ 'Cargo.toml': '[package\n' }))).toThrow(/^e 1\.0\.0: Cargo\.toml does not parse/);
  });

  it('suggests a stricter criterion for the proc-macros, with the lines cargo vet fmt writes; none once required', () => {
    const g = withBuildTargets(
      graphFromLockfile(lock('@app 0.1.0 -> mac@1.0.0 foo@1.0.0\nmac 1.0.0\nfoo 1.0.0')),
      new Map([['mac@1.0.0', { procMacro: true, buildScript: false }]]),
    );
    expect(workspaceImpact(g).get('mac@1.0.0')?.buildTime).toBe(true);
    const a = procMacroCriterionAdvice(g, store(''))!;
    expect(a.procMacros).toEqual(['mac@1.0.0']);
    expect(a.configToml).toBe('[policy."mac:1.0.0"]\ncriteria = "safe-to-compile"');
    expect(a.auditsToml).toMatch(/^\[criteria\.safe-to-compile\]\ndescription = "[^\n]+"\nimplies = "safe-to-deploy"$/);
    const adopted = store(
      '[policy."mac:1.0.0"]\ncriteria = "safe-to-compile"\n',
      '[criteria.safe-to-compile]\ndescription = "x"\nimplies = "safe-to-deploy"\n',
    );
    expect(procMacroCriterionAdvice(g, adopted)).toBeUndefined();
    expect(procMacroCriterionAdvice(graphFromLockfile(lock('@app 0.1.0 -> foo@1.0.0\nfoo 1.0.0')), store(''))).toBeUndefined();
  });
});
