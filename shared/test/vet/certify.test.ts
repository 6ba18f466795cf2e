/**
 * `certify`'s store update, rule by rule (the recorded cargo-vet cases are compared byte for byte
 * in cli/test/certify.test.ts): which exemptions of the certified crate go, which stay narrowed,
 * and when nothing is pruned.
 */
import { describe, expect, it } from 'vitest';
import {
  certify,
  CertifyError,
  graphFromLockfile,
  parseAuditsFile,
  parseConfigFile,
  parseLockfile,
  serializeAuditsFile,
  type VetStore,
} from '../../src/index.js';

const CRATES = 'registry+https://github.com/rust-lang/crates.io-index';
const graph = graphFromLockfile(
  parseLockfile(
    `version = 4\n\n[[package]]\nname = "app"\nversion = "0.1.0"\ndependencies = ["foo"]\n` +
      `\n[[package]]\nname = "foo"\nversion = "1.1.0"\nsource = "${CRATES}"\n`,
  ),
);
const HEAD = '[cargo-vet]\nversion = "0.10"\n';
const store = (config: string, audits = ''): VetStore => ({ config: parseConfigFile(`${HEAD}${config}`), audits: parseAuditsFile(audits) });
const WHO = ['T <t@example.com>'];

describe('certify: the store update', () => {
  it('a full audit of the locked version: the exemption of that crate goes', () => {
    const r = certify(store('\n[[exemptions.foo]]\nversion = "1.1.0"\ncriteria = "safe-to-deploy"\n'), graph, {
      crate: 'foo',
      to: '1.1.0',
      criteria: ['safe-to-deploy'],
      who: WHO,
    });
    expect(r.exemptions.removed.map((x) => `${x.crate} ${x.exemption.version}`)).toEqual(['foo 1.1.0']);
    expect(r.store.config.exemptions.has('foo')).toBe(false);
    expect(r.store.audits.audits.get('foo')).toEqual([{ who: WHO, criteria: ['safe-to-deploy'], version: '1.1.0', aggregatedFrom: [] }]);
  });

  it('an audit too weak for the requirement: the exemption stays', () => {
    const r = certify(store('\n[[exemptions.foo]]\nversion = "1.1.0"\ncriteria = "safe-to-deploy"\n'), graph, {
      crate: 'foo',
      to: '1.1.0',
      criteria: ['safe-to-run'],
      who: WHO,
    });
    expect(r.exemptions.removed).toEqual([]);
    expect(r.store.config.exemptions.get('foo')!.map((e) => e.criteria)).toEqual([['safe-to-deploy']]);
  });

  it('a crate the graph does not lock (force): all its exemptions go, as update_store finds no package needing them', () => {
    const s = store(
      '\n[[exemptions.bar]]\nversion = "2.0.0"\ncriteria = "safe-to-run"\n\n[[exemptions.foo]]\nversion = "1.1.0"\ncriteria = "safe-to-deploy"\n',
    );
    expect(() => certify(s, graph, { crate: 'bar', to: '2.0.0', criteria: ['safe-to-run'], who: WHO })).toThrow(CertifyError);
    const r = certify(s, graph, { crate: 'bar', to: '2.1.0', criteria: ['safe-to-run'], who: WHO, force: true });
    expect([...r.store.config.exemptions.keys()]).toEqual(['foo']);
  });

  it('a violation conflict on the crate: nothing is pruned (cargo-vet gives up on that crate)', () => {
    const s = store(
      '\n[[exemptions.foo]]\nversion = "1.1.0"\ncriteria = "safe-to-deploy"\n',
      '[[audits.foo]]\nwho = "x"\ncriteria = "safe-to-deploy"\nviolation = "=1.1.0"\n',
    );
    const r = certify(s, graph, { crate: 'foo', to: '1.1.0', criteria: ['safe-to-deploy'], who: WHO });
    expect(r.exemptions.removed).toEqual([]);
  });

  it('a git revision is written non-importable, criteria are reduced to the minimal set in cargo-vet order', () => {
    const rev = 'b6d42fe41e5690844a661deb631d996a2b49debc';
    const s = store(
      '',
      '[criteria.alpha]\ndescription = "a"\nimplies = "safe-to-run"\n\n[[audits.foo]]\nwho = "x"\ncriteria = "safe-to-deploy"\nversion = "1.0.0"\n',
    );
    const r = certify(s, graph, {
      crate: 'foo',
      from: '1.0.0',
      to: `1.1.0@git:${rev}`,
      criteria: ['safe-to-run', 'alpha', 'safe-to-deploy'],
      who: WHO,
      force: true,
    });
    expect(r.audit).toMatchObject({
      criteria: ['safe-to-deploy', 'alpha'],
      delta: { from: '1.0.0', to: `1.1.0@git:${rev}` },
      importable: false,
    });
    expect(serializeAuditsFile(r.store.audits)).toContain(
      `criteria = ["safe-to-deploy", "alpha"]\ndelta = "1.0.0 -> 1.1.0@git:${rev}"\nimportable = false\n`,
    );
  });

  it('errors name the field', () => {
    const s = store('');
    const bad = (req: Partial<Parameters<typeof certify>[2]>) => () =>
      certify(s, graph, { crate: 'foo', to: '1.1.0', criteria: ['safe-to-run'], who: WHO, ...req });
    expect(bad({ to: 'v1' })).toThrow(/^to: "v1" is not a version/);
    expect(bad({ from: '1.0' })).toThrow(/^from: "1.0" is not a version/);
    expect(bad({ criteria: ['nope'] })).toThrow(/^criteria: 'nope' is not a criteria of this store/);
    expect(bad({ who: [' '] })).toThrow(/^who: the auditor is required/);
    expect(bad({ crate: 'a b' })).toThrow(/^crate: "a b" is not a crate name/);
  });
});
