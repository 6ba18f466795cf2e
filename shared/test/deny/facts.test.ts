/**
 * The deny checks' inputs through the `org.workspaces` event (the scorer judges what `cratewatch
 * deny` judges), what gate counts as brought in (`denyBroughtIn`), and the findings and rules the
 * scorer and SARIF give the same problem.
 */
import { describe, expect, it } from 'vitest';
import {
  checkDeny,
  denyBroughtIn,
  denyFindingChanges,
  denyFindingKey,
  denyPackages,
  denyPackagesOfEvent,
  denyRuleInfo,
  parseDenyConfig,
  parseLockfile,
  WorkspaceEventSchema,
  workspaceEvent,
} from '../../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const LOCK = `version = 4

[[package]]
name = "app"
version = "0.1.0"
dependencies = ["gpl", "evil"]

[[package]]
name = "evil"
version = "1.0.0"
source = "${CRATES}"

[[package]]
name = "gpl"
version = "1.0.0"
source = "${CRATES}"
`;
const pkg = (name: string, license: string, deps: string[] = []) => ({
  id: `${name} ${name === 'app' ? '0.1.0' : '1.0.0'}`,
  name,
  version: name === 'app' ? '0.1.0' : '1.0.0',
  source: name === 'app' ? null : CRATES,
  license,
  license_file: null,
  publish: null,
  dependencies: deps.map((d) => ({ name: d, req: '*', kind: null, source: CRATES })),
});
const META = {
  packages: [pkg('app', 'MIT', ['gpl', 'evil']), pkg('evil', 'MIT'), pkg('gpl', 'GPL-3.0-only')],
  workspace_members: ['app 0.1.0'],
  resolve: {
    root: null,
    nodes: [
      { id: 'app 0.1.0', deps: ['gpl 1.0.0', 'evil 1.0.0'].map((p) => ({ pkg: p, dep_kinds: [{ kind: null }] })) },
      { id: 'evil 1.0.0', deps: [] },
      { id: 'gpl 1.0.0', deps: [] },
    ],
  },
};
const DENY = '[licenses]\nallow = ["MIT"]\n[bans]\nwildcards = "deny"\ndeny = ["evil"]\n';
const lock = parseLockfile(LOCK, 'ws/Cargo.lock');
const cfg = parseDenyConfig(DENY, 'ws/deny.toml');
const event = (metadata: boolean) =>
  workspaceEvent({
    id: 'acme/app',
    org: 'acme',
    lock,
    ...(metadata ? { metadata: META, metadataFile: 'ws/cargo-metadata.json' } : {}),
    deny: { file: 'ws/deny.toml', text: DENY },
    origin: { path: 'ws/Cargo.lock', checksum: 'x' },
    observedAt: '2026-01-01T00:00:00.000Z',
  });

describe('deny facts in the workspace event', () => {
  it('judge as the CLI judges the files, with cargo metadata and without', () => {
    for (const withMeta of [true, false]) {
      const ev = WorkspaceEventSchema.parse(JSON.parse(JSON.stringify(event(withMeta))));
      const direct = checkDeny(denyPackages(lock, withMeta ? { value: META, file: 'm', lockPath: 'ws/Cargo.lock' } : undefined), cfg);
      expect(checkDeny(denyPackagesOfEvent(ev), cfg).findings).toEqual(direct.findings);
    }
    expect(checkDeny(denyPackagesOfEvent(event(true)), cfg).findings.map(denyFindingKey)).toEqual([
      'licenses:rejected:gpl@1.0.0',
      'bans:banned:evil@1.0.0',
      'bans:wildcard:app@0.1.0',
    ]);
  });

  it('are optional (an older event is valid), and a deny.toml that does not read refuses the event', () => {
    const { deny: _, ...old } = event(false);
    expect(WorkspaceEventSchema.safeParse(old).success).toBe(true);
    expect(() =>
      workspaceEvent({
        ...{ id: 'a', org: 'o', lock, origin: { path: 'p', checksum: 'c' }, observedAt: '2026-01-01T00:00:00.000Z' },
        deny: { file: 'ws/deny.toml', text: '[bans]\nwildcards = 3\n' },
      }),
    ).toThrow(/ws\/deny.toml, line 2/);
  });

  it('an id deny.packages names that is not locked is refused, naming the field', () => {
    const ev = event(true);
    ev.deny!.packages![0]!.id = 'ghost@1.0.0';
    expect(() => denyPackagesOfEvent(ev)).toThrow(/deny\.packages\.0\.id/);
  });
});

describe('denyBroughtIn', () => {
  const head = checkDeny(denyPackages(lock, { value: META, file: 'm', lockPath: 'l' }), cfg);
  it('with base metadata: the problems the base has not', () => {
    const base = checkDeny(denyPackages(lock, { value: META, file: 'm', lockPath: 'l' }), cfg);
    expect(denyBroughtIn(head, { report: base, metadata: true, locked: new Set() })).toEqual([]);
  });
  it('without base metadata: a license or wildcard problem is new when its crate-version is', () => {
    const baseLock = parseLockfile(LOCK.replace(', "evil"', '').replace(/\n\[\[package\]\]\nname = "evil"[^[]*/, '\n'), 'b');
    const base = checkDeny(denyPackages(baseLock), cfg);
    const ids = new Set(baseLock.packages.map((p) => p.id));
    expect(denyBroughtIn(head, { report: base, metadata: false, locked: ids }).map(denyFindingKey)).toEqual(['bans:banned:evil@1.0.0']);
    expect(denyBroughtIn(head, { report: base, metadata: false, locked: new Set() }).map(denyFindingKey)).toEqual([
      'licenses:rejected:gpl@1.0.0',
      'bans:banned:evil@1.0.0',
      'bans:wildcard:app@0.1.0',
    ]);
  });
});

describe('deny findings and rules', () => {
  const ws = { id: 'acme/app', org: 'acme' };
  const report = checkDeny(denyPackages(lock, { value: META, file: 'm', lockPath: 'l' }), cfg);
  it('open one finding per deny-level problem, rated by its rule; resolve what is gone; a replay sends nothing', () => {
    const opened = denyFindingChanges(ws, report, [], 'now');
    expect(opened.map((f) => [f.crate, f.deny!.code, f.severity, f.score])).toEqual([
      ['gpl', 'rejected', 'medium', 6],
      ['evil', 'banned', 'high', 8],
      ['app', 'wildcard', 'low', 4],
    ]);
    const stored = opened.map((f) => ({ ...f, state: 'open' }));
    expect(denyFindingChanges(ws, report, stored, 'later')).toEqual([]);
    const gone = denyFindingChanges(ws, undefined, stored, 'later');
    expect(gone.map((f) => [f.crate, f.state, f.deny])).toEqual(opened.map((f) => [f.crate, 'resolved', f.deny]));
  });
  it('rules: cargo-deny pages; security for bans and sources, never critical', () => {
    expect(denyRuleInfo('licenses', 'rejected')).toMatchObject({
      id: 'deny/licenses/rejected',
      name: 'DenyLicensesRejected',
      helpUri: 'https://embarkstudios.github.io/cargo-deny/checks/licenses/diags.html#rejected',
      security: false,
    });
    expect(denyRuleInfo('sources', 'source-not-allowed')).toMatchObject({ severity: 'high', security: true });
    expect(denyRuleInfo('bans', 'unmatched-skip')).toMatchObject({ severity: 'info', security: false });
  });
});
