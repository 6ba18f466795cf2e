import { describe, expect, it } from 'vitest';
import { graphFromCargoMetadata, parseLockfile, resolveVet, type VetReport } from '../../src/index.js';
import { lock, store } from './fixtures.js';

const verdict = (r: VetReport, id: string) => {
  const p = r.packages.find((x) => x.id === id);
  if (!p) throw new Error(`no ${id}`);
  return p;
};

describe('resolver rules', () => {
  it('built-in safe-to-deploy implies safe-to-run; safe-to-run does not imply safe-to-deploy', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 bar@1.0.0\nfoo 1.0.0\nbar 1.0.0');
    const s = store(
      '[policy.app]\ncriteria = "safe-to-run"\n',
      '[[audits.foo]]\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n\n[[audits.bar]]\ncriteria = "safe-to-run"\nversion = "1.0.0"\n',
    );
    expect(verdict(resolveVet({ lockfile: l, store: s }), 'foo@1.0.0').status).toBe('vetted');
    const strict = store('', s.audits === undefined ? '' : '[[audits.bar]]\ncriteria = "safe-to-run"\nversion = "1.0.0"\n');
    const r = resolveVet({ lockfile: lock('@app 0.1.0 -> bar@1.0.0\nbar 1.0.0'), store: strict });
    expect(verdict(r, 'bar@1.0.0').status).toBe('unvetted');
    expect(verdict(r, 'bar@1.0.0').missing).toEqual(['safe-to-deploy']);
  });

  it('criteria implication across namespaces: an imported criterion that implies safe-to-deploy, and criteria-map', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 bar@2.0.0\nfoo 1.0.0\nbar 2.0.0');
    const imports = `
[audits.google.criteria.rule-of-two]
description = "strong"
implies = "safe-to-deploy"

[audits.google.criteria.crypto-safe]
description = "crypto reviewed"

[[audits.google.audits.foo]]
who = "g"
criteria = "rule-of-two"
version = "1.0.0"

[[audits.google.audits.bar]]
who = "g"
criteria = ["crypto-safe", "safe-to-deploy"]
version = "2.0.0"
`;
    const config = `
[imports.google]
url = "https://example.invalid/audits.toml"

[imports.google.criteria-map]
crypto-safe = "our-crypto"

[policy.app]
criteria = ["safe-to-deploy", "our-crypto"]
dependency-criteria = { foo = "safe-to-deploy" }
`;
    const audits = '[criteria.our-crypto]\ndescription = "ours"\n\n[audits]\n';
    const r = resolveVet({ lockfile: l, store: store(config, audits, imports) });
    expect(verdict(r, 'foo@1.0.0').status).toBe('vetted'); // google::rule-of-two -> safe-to-deploy
    expect(verdict(r, 'bar@2.0.0').status).toBe('vetted'); // google::crypto-safe -> our-crypto via criteria-map
    // Without the mapping the foreign name is not ours: bar lacks our-crypto.
    const unmapped = resolveVet({ lockfile: l, store: store(config.replace('crypto-safe = "our-crypto"', ''), audits, imports) });
    expect(verdict(unmapped, 'bar@2.0.0').missing).toEqual(['our-crypto']);
    // cargo-vet 0.10 writes imported audits into imports.lock with LOCAL criteria names (the
    // criteria-map is applied at fetch time, storage.rs:1056-1116; --locked reads them as they
    // are): an imported name that is defined locally is the local criterion.
    const sameName = resolveVet({
      lockfile: lock('@app 0.1.0 -> bar@2.0.0\nbar 2.0.0'),
      store: store('[policy.app]\ncriteria = "crypto-safe"\n', '[criteria.crypto-safe]\ndescription = "ours"\n\n[audits]\n', imports),
    });
    expect(verdict(sameName, 'bar@2.0.0').status).toBe('vetted');
  });

  it('a delta chain vets; a gap in it does not, and the suggestion is the gap', () => {
    const l = lock('@app 0.1.0 -> foo@1.3.0\nfoo 1.3.0');
    const chain = (gap: boolean) => `
[[audits.foo]]
criteria = "safe-to-deploy"
version = "1.0.0"

${gap ? '' : '[[audits.foo]]\ncriteria = "safe-to-deploy"\ndelta = "1.0.0 -> 1.1.0"\n'}
[[audits.foo]]
criteria = "safe-to-deploy"
delta = "1.1.0 -> 1.2.0"

[[audits.foo]]
criteria = "safe-to-deploy"
delta = "1.2.0 -> 1.3.0"
`;
    const ok = verdict(resolveVet({ lockfile: l, store: store('', chain(false)) }), 'foo@1.3.0');
    expect(ok.status).toBe('vetted');
    expect(ok.path.map((p) => p.index)).toEqual([0, 1, 2, 3]);
    const gap = verdict(resolveVet({ lockfile: l, store: store('', chain(true)) }), 'foo@1.3.0');
    expect(gap.status).toBe('unvetted');
    expect(gap.suggestion).toMatchObject({ kind: 'delta', from: '1.0.0', to: '1.1.0', criteria: ['safe-to-deploy'] });
  });

  it('without any vetted version the suggestion is a full audit; with one, the delta from the closest lower version', () => {
    const l = lock('@app 0.1.0 -> foo@1.4.0\nfoo 1.4.0');
    const none = verdict(resolveVet({ lockfile: l, store: store('') }), 'foo@1.4.0');
    expect(none.suggestion).toMatchObject({ kind: 'full', to: '1.4.0' });
    const some = verdict(
      resolveVet({
        lockfile: l,
        store: store(
          '',
          ['0.9.0', '1.2.0', '1.3.5', '2.0.0'].map((v) => `[[audits.foo]]\ncriteria = "safe-to-deploy"\nversion = "${v}"\n`).join('\n'),
        ),
      }),
      'foo@1.4.0',
    );
    expect(some.suggestion).toMatchObject({ kind: 'delta', from: '1.3.5', to: '1.4.0' });
    expect(some.suggestion!.command).toBe('cargo vet certify foo 1.3.5 1.4.0 --criteria safe-to-deploy');
  });

  it('a violation covering a version range blocks those versions whatever the audits say', () => {
    const l = lock('@app 0.1.0 -> foo@1.5.0 bar@2.1.0\nfoo 1.5.0\nbar 2.1.0');
    const audits = `
[[audits.foo]]
criteria = "safe-to-deploy"
version = "1.5.0"

[[audits.foo]]
criteria = "safe-to-run"
violation = ">=1.2.0, <1.6"

[[audits.bar]]
criteria = "safe-to-deploy"
version = "2.1.0"

[[audits.bar]]
criteria = "safe-to-deploy"
violation = "<2.1.0"
`;
    const r = resolveVet({ lockfile: l, store: store('', audits) });
    const foo = verdict(r, 'foo@1.5.0');
    expect(foo.status).toBe('violation'); // safe-to-deploy implies the violated safe-to-run
    expect(foo.violations![0]!.violation).toBe('>=1.2.0, <1.6');
    expect(verdict(r, 'bar@2.1.0').status).toBe('vetted'); // 2.1.0 is outside <2.1.0
  });

  it('an expired wildcard audit does not cover versions published after its end', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 bar@2.0.0\nfoo 1.0.0\nbar 2.0.0');
    const audits = `
[[wildcard-audits.foo]]
criteria = "safe-to-deploy"
user-id = 7
start = "2020-01-01"
end = "2023-01-01"

[[trusted.bar]]
criteria = "safe-to-deploy"
user-id = 7
start = "2020-01-01"
end = "2030-01-01"
`;
    const imports = (fooWhen: string) => `
[[publisher.bar]]
version = "2.0.0"
when = "2024-05-01"
user-id = 7

[[publisher.foo]]
version = "1.0.0"
when = "${fooWhen}"
user-id = 7

[audits]
`;
    const live = resolveVet({ lockfile: l, store: store('', audits, imports('2022-06-01')) });
    expect(verdict(live, 'foo@1.0.0').status).toBe('vetted');
    expect(verdict(live, 'bar@2.0.0').status).toBe('vetted');
    expect(verdict(live, 'foo@1.0.0').path[0]).toMatchObject({ table: 'wildcard-audits' });
    const expired = resolveVet({ lockfile: l, store: store('', audits, imports('2023-03-01')) });
    expect(verdict(expired, 'foo@1.0.0').status).toBe('unvetted');
    // another publisher does not count either
    const other = resolveVet({
      lockfile: l,
      store: store('', audits, imports('2022-06-01').replace(/user-id = 7\n\n\[audits\]/, 'user-id = 8\n\n[audits]')),
    });
    expect(verdict(other, 'foo@1.0.0').status).toBe('unvetted');
  });

  it('exemptions vet; an exemption that audits now cover is reported as no longer needed', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 bar@1.0.0\nfoo 1.0.0\nbar 1.0.0');
    const config =
      '[[exemptions.foo]]\nversion = "1.0.0"\ncriteria = "safe-to-deploy"\n\n[[exemptions.bar]]\nversion = "1.0.0"\ncriteria = "safe-to-deploy"\n\n[[exemptions.gone]]\nversion = "3.0.0"\ncriteria = "safe-to-deploy"\n';
    const r = resolveVet({ lockfile: l, store: store(config, '[[audits.bar]]\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n') });
    expect(verdict(r, 'foo@1.0.0').status).toBe('exempted');
    expect(verdict(r, 'bar@1.0.0').status).toBe('vetted');
    expect(r.unneededExemptions).toEqual([
      { crate: 'bar', version: '1.0.0', criteria: ['safe-to-deploy'], reason: 'audited' },
      { crate: 'gone', version: '3.0.0', criteria: ['safe-to-deploy'], reason: 'not locked' },
    ]);
  });

  it('a git audit (1.2.3@git:<rev>) vets only the package built from that revision, never the crates.io release', () => {
    // The real case: mozilla audits oneshot 0.1.5 and its fork at 1f3c657c…; a workspace locking both.
    const rev = '1f3c657c8073aec4f0b6ebac7be33b4851644745';
    const reg = 'registry+https://github.com/rust-lang/crates.io-index';
    const git = 'git+https://github.com/bendk/oneshot?branch=no-loom';
    const l = parseLockfile(
      `version = 4\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["oneshot 0.1.5 (${reg})", "oneshot 0.1.5 (${git})"]\n` +
        `[[package]]\nname = "oneshot"\nversion = "0.1.5"\nsource = "${reg}"\n` +
        `[[package]]\nname = "oneshot"\nversion = "0.1.5"\nsource = "${git}#${rev}"\n`,
    );
    // cargo-vet checks a git package only when told to audit it as crates.io.
    const policy = `[policy."oneshot:0.1.5@git:${rev}"]\naudit-as-crates-io = true\n`;
    const r = resolveVet({
      lockfile: l,
      store: store(policy, `[[audits.oneshot]]\ncriteria = "safe-to-deploy"\nversion = "0.1.5@git:${rev}"\n`),
    });
    expect(verdict(r, `oneshot@0.1.5 (${git})`)).toMatchObject({ status: 'vetted', vetVersion: `0.1.5@git:${rev}` });
    expect(verdict(r, `oneshot@0.1.5 (${reg})`).status).toBe('unvetted');
  });

  it('a dev-only crate needs only safe-to-run (metadata); from a Cargo.lock the verdict is named as kind-dependent', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 tester@1.0.0\nfoo 1.0.0\ntester 1.0.0 -> helper@1.0.0\nhelper 1.0.0');
    const s = store(
      '',
      ['foo', 'tester', 'helper']
        .map((n) => `[[audits.${n}]]\ncriteria = "${n === 'foo' ? 'safe-to-deploy' : 'safe-to-run'}"\nversion = "1.0.0"\n`)
        .join('\n'),
    );
    const reg = 'registry+https://github.com/rust-lang/crates.io-index';
    const pkg = (name: string, source: string | null) => ({ id: `${name}-id`, name, version: name === 'app' ? '0.1.0' : '1.0.0', source });
    const meta = {
      packages: [pkg('app', null), pkg('foo', reg), pkg('tester', reg), pkg('helper', reg)],
      workspace_members: ['app-id'],
      resolve: {
        nodes: [
          {
            id: 'app-id',
            deps: [
              { pkg: 'foo-id', dep_kinds: [{ kind: null }] },
              { pkg: 'tester-id', dep_kinds: [{ kind: 'dev' }] },
            ],
          },
          { id: 'foo-id', deps: [] },
          { id: 'tester-id', deps: [{ pkg: 'helper-id', dep_kinds: [{ kind: null }] }] },
          { id: 'helper-id', deps: [] },
        ],
      },
    };
    const withKinds = resolveVet({ graph: graphFromCargoMetadata(meta), store: s });
    expect(verdict(withKinds, 'tester@1.0.0')).toMatchObject({ status: 'vetted', required: ['safe-to-run'] });
    expect(verdict(withKinds, 'helper@1.0.0')).toMatchObject({ status: 'vetted', required: ['safe-to-run'] });
    expect(verdict(withKinds, 'tester@1.0.0').requiredBy[0]).toMatchObject({ by: 'app@0.1.0', kind: 'dev' });
    const fromLock = resolveVet({ lockfile: l, store: s });
    expect(fromLock.kindsKnown).toBe(false);
    expect(verdict(fromLock, 'tester@1.0.0')).toMatchObject({ status: 'unvetted', kindDependent: { ifDevEdges: 'vetted' } });
    expect(verdict(fromLock, 'helper@1.0.0').kindDependent?.ifDevEdges).toBe('vetted');
    expect(verdict(fromLock, 'foo@1.0.0').kindDependent).toBeUndefined();
    expect(fromLock.summary.kindDependent).toBe(2);
  });

  it('policy: dependency-criteria, audit-as-crates-io; default-criteria is not a policy', () => {
    const l = lock('@app 0.1.0 -> foo@1.0.0 bar@1.0.0\nfoo 1.0.0 -> deep@1.0.0\ndeep 1.0.0\nbar 1.0.0');
    const s = store('default-criteria = "safe-to-run"\n', '', '');
    s.config.policy.set('app', { dependencyCriteria: new Map([['bar', ['safe-to-run']]]) });
    const r = resolveVet({ lockfile: l, store: s });
    // `default-criteria` is only `cargo vet certify`'s default (main.rs:1628); roots need
    // DEFAULT_POLICY_CRITERIA = safe-to-deploy (resolver.rs:933-938, format.rs:895).
    expect(verdict(r, 'foo@1.0.0').required).toEqual(['safe-to-deploy']);
    expect(verdict(r, 'deep@1.0.0').required).toEqual(['safe-to-deploy']); // passed down by foo
    expect(verdict(r, 'deep@1.0.0').requiredBy[0]).toMatchObject({ by: 'foo@1.0.0', why: 'dependent' });
    expect(verdict(r, 'bar@1.0.0').required).toEqual(['safe-to-run']); // dependency-criteria replaces, not adds
    expect(verdict(r, 'bar@1.0.0').requiredBy[0]!.why).toBe('policy.dependency-criteria');
    // a path crate with audit-as-crates-io = true is third-party
    const l2 = lock('@app 0.1.0 -> vendored@1.0.0\n@vendored 1.0.0');
    const r2 = resolveVet({ lockfile: l2, store: store('[policy.vendored]\naudit-as-crates-io = true\n') });
    expect(verdict(r2, 'vendored@1.0.0')).toMatchObject({ thirdParty: true, status: 'unvetted' });
  });

  // --- rules checked against cargo-vet 0.10.3's source (src/resolver.rs, storage.rs) --------------

  it('policy criteria / dependency-criteria on a THIRD-PARTY crate apply (resolver.rs:925-950)', () => {
    const l = lock('@app 0.1.0 -> lock_api@0.4.12\nlock_api 0.4.12 -> scopeguard@1.2.0\nscopeguard 1.2.0');
    const audits = `
[criteria.strong]
description = "two reviewers"
implies = "safe-to-deploy"

[[audits.lock_api]]
criteria = "safe-to-run"
version = "0.4.12"

[[audits.scopeguard]]
criteria = "safe-to-deploy"
version = "1.2.0"
`;
    const r = resolveVet({
      lockfile: l,
      store: store('[policy.lock_api]\ncriteria = "safe-to-run"\ndependency-criteria = { scopeguard = "strong" }\n', audits),
    });
    // its own criteria replace what app asked (safe-to-deploy)
    expect(verdict(r, 'lock_api@0.4.12')).toMatchObject({ status: 'vetted', required: ['safe-to-run'] });
    expect(verdict(r, 'scopeguard@1.2.0')).toMatchObject({ status: 'unvetted', required: ['strong'], missing: ['strong'] });
  });

  it('a non-root first-party crate passes on what its dependents ask, not safe-to-deploy (resolver.rs:927-950)', () => {
    const l = lock('@app 0.1.0 -> corelib@0.1.0\n@corelib 0.1.0 -> ryu@1.0.18\nryu 1.0.18');
    const r = resolveVet({
      lockfile: l,
      store: store('[policy.app]\ncriteria = "safe-to-run"\n', '[[audits.ryu]]\ncriteria = "safe-to-run"\nversion = "1.0.18"\n'),
    });
    expect(verdict(r, 'ryu@1.0.18')).toMatchObject({ status: 'vetted', required: ['safe-to-run'] });
  });

  it('a violation conflicts with audits, not with locked versions (resolver.rs:1304-1396)', () => {
    const l = lock('@app 0.1.0 -> memchr@2.7.4 ryu@1.0.18\nmemchr 2.7.4\nryu 1.0.18');
    // memchr 2.7.4 lies in the violated range but nothing audits it: plainly unvetted.
    const inRange = resolveVet({ lockfile: l, store: store('', '[[audits.memchr]]\ncriteria = "safe-to-run"\nviolation = ">=2.7.0"\n') });
    expect(verdict(inRange, 'memchr@2.7.4').status).toBe('unvetted');
    expect(inRange.conclusion).toBe('fail (vet)');
    // An audit of a version that is not even locked contradicts it: the crate is a violation and
    // the run fails for violations alone.
    const audits = `
[[audits.ryu]]
criteria = "safe-to-deploy"
version = "1.0.5"

[[audits.ryu]]
criteria = "safe-to-run"
violation = "<1.0.10"
`;
    const conflict = resolveVet({ lockfile: l, store: store('', audits) });
    expect(verdict(conflict, 'ryu@1.0.18')).toMatchObject({ status: 'violation' });
    expect(verdict(conflict, 'ryu@1.0.18').violations![0]).toMatchObject({ violation: '<1.0.10', conflictsWith: 'audit (local) 1.0.5' });
    expect(conflict.conclusion).toBe('fail (violation)');
    // a delta whose `from` is in range conflicts too; an exemption as well
    const delta = resolveVet({
      lockfile: l,
      store: store(
        '[[exemptions.memchr]]\nversion = "2.7.4"\ncriteria = "safe-to-run"\n',
        '[[audits.ryu]]\ncriteria = "safe-to-run"\ndelta = "1.0.9 -> 1.0.18"\n\n[[audits.ryu]]\ncriteria = "safe-to-deploy"\nviolation = "=1.0.9"\n\n[[audits.memchr]]\ncriteria = "safe-to-run"\nviolation = ">=2.7.0"\n',
      ),
    });
    // violation safe-to-deploy vs audit safe-to-run: the audit does not contain the violated criterion
    expect(verdict(delta, 'ryu@1.0.18').status).toBe('unvetted');
    expect(verdict(delta, 'memchr@2.7.4').violations![0]!.conflictsWith).toBe('exemption 2.7.4');
  });

  it("an import's trusted entries do not vet; only the store's own do (resolver.rs:1136-1141)", () => {
    const l = lock('@app 0.1.0 -> scopeguard@1.2.0\nscopeguard 1.2.0');
    const imports = `
[[publisher.scopeguard]]
version = "1.2.0"
when = "2023-07-17"
user-id = 4000

[[audits.peer.trusted.scopeguard]]
criteria = "safe-to-deploy"
user-id = 4000
start = "2019-01-01"
end = "2026-01-01"
`;
    const config = '[imports.peer]\nurl = "https://example.invalid/audits.toml"\n';
    expect(verdict(resolveVet({ lockfile: l, store: store(config, '', imports) }), 'scopeguard@1.2.0').status).toBe('unvetted');
    const local = '[[trusted.scopeguard]]\ncriteria = "safe-to-deploy"\nuser-id = 4000\nstart = "2019-01-01"\nend = "2026-01-01"\n';
    expect(verdict(resolveVet({ lockfile: l, store: store(config, local, imports) }), 'scopeguard@1.2.0').status).toBe('vetted');
  });

  it('a wildcard audit covers start <= publication < end: the end day itself is out (resolver.rs:1196-1202)', () => {
    const l = lock('@app 0.1.0 -> log@0.4.22\nlog 0.4.22');
    const audits = '[[wildcard-audits.log]]\ncriteria = "safe-to-deploy"\nuser-id = 3000\nstart = "2024-06-27"\nend = "2024-06-28"\n';
    const at = (when: string) =>
      verdict(
        resolveVet({ lockfile: l, store: store('', audits, `[[publisher.log]]\nversion = "0.4.22"\nwhen = "${when}"\nuser-id = 3000\n`) }),
        'log@0.4.22',
      ).status;
    expect(at('2024-06-27')).toBe('vetted');
    expect(at('2024-06-28')).toBe('unvetted');
  });

  it('an imports.lock unpublished record is a delta audited-as -> version for every criterion (resolver.rs:1270-1290)', () => {
    const l = lock('@app 0.1.0 -> vendored@0.2.0\n@vendored 0.2.0');
    const config = '[policy.vendored]\naudit-as-crates-io = true\n';
    const audits =
      '[criteria.strong]\ndescription = "s"\nimplies = "safe-to-deploy"\n\n[[audits.vendored]]\ncriteria = "strong"\nversion = "0.1.0"\n';
    const imports = '[[unpublished.vendored]]\nversion = "0.2.0"\naudited_as = "0.1.0"\n';
    const r = resolveVet({ lockfile: l, store: store(config + '[policy.app]\ncriteria = "strong"\n', audits, imports) });
    expect(verdict(r, 'vendored@0.2.0')).toMatchObject({ status: 'vetted', required: ['strong'] });
    expect(verdict(r, 'vendored@0.2.0').path.map((p) => p.table)).toEqual(['audits', 'unpublished']);
    expect(verdict(resolveVet({ lockfile: l, store: store(config, audits) }), 'vendored@0.2.0').status).toBe('unvetted');
  });
});
