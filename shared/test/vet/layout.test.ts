/**
 * The store-order rule: `cargo vet --locked` refuses a store file that is not exactly what
 * `cargo vet fmt` would write (entry order, table order, string style). Our writers write that
 * from the records alone, so the check compares a file with cargo-vet's rewrite, not with itself.
 * Real stores of ../shared/data, made misordered by swapping two tables, must be refused naming
 * the file; the stores as they are (cargo-vet accepts them: see differential-real) must not.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  checkLayout,
  compareStr,
  compareVetVersion,
  displayVersionReq,
  parseAuditsFile,
  parseConfigFile,
  readStore,
  serializeAuditsFile,
  serializeConfigFile,
  serializeImportsLock,
  userInfoOf,
  stringRepr,
  type StoreProblem,
} from '../../src/index.js';
import { dataDir, hasData, POOLS, PROJECTS } from './data.js';

describe('strings as toml_edit 0.22.26 writes them (cargo-vet 0.10.3)', () => {
  it('picks the first of "…", \'…\', """…""", \'\'\'…\'\'\' that can hold the text', () => {
    expect(stringRepr('plain')).toBe('"plain"');
    expect(stringRepr('a\tb')).toBe('"a\\tb"'); // a tab is escaped in a basic string
    expect(stringRepr('say "hi"')).toBe(`'say "hi"'`); // 0.10: literal, not "say \"hi\""
    expect(stringRepr('C:\\dir')).toBe(`'C:\\dir'`);
    expect(stringRepr(`it's "x"`)).toBe(`"""it's "x""""`); // no newline: no leading newline
    expect(stringRepr('line one\nsays "two"\n')).toBe('"""\nline one\nsays "two"\n"""'); // quotes left alone in """
    expect(stringRepr("a\\b\nit's")).toBe("'''\na\\b\nit's'''");
    expect(stringRepr('three """ quotes\nand \\')).toBe("'''\nthree \"\"\" quotes\nand \\'''");
    expect(stringRepr('three """ quotes\nand a bell \u0007')).toBe('"""\nthree ""\\" quotes\nand a bell \\u0007"""'); // only the third quote of a run is escaped
    expect(stringRepr('bell\u0007')).toBe('"bell\\u0007"');
  });
});

describe('cargo-vet sort order', () => {
  it('policy keys sort as whole strings: "-" before ":", so foo-bar:… before foo:…', () => {
    const keys = ['incrementalmerkletree:0.8.2', 'incrementalmerkletree-testing:0.3.0', 'glib-rebind', 'glib-gtk4-rebind'];
    expect([...keys].sort(compareStr)).toEqual([
      'glib-gtk4-rebind',
      'glib-rebind',
      'incrementalmerkletree-testing:0.3.0',
      'incrementalmerkletree:0.8.2',
    ]);
  });
  it('versions as semver::Version: numeric parts, pre-releases first, build metadata compared too, git revisions last', () => {
    const vs = [
      '0.10.0+wasi-snapshot-preview1',
      '0.9.0+wasi-snapshot-preview1',
      '1.0.0',
      '1.0.0-rc.1',
      '1.0.0+b',
      '1.0.0@git:aaaa',
      '1.0.0-rc.10',
      '1.0.0-rc.2',
    ];
    expect([...vs].sort(compareVetVersion)).toEqual([
      '0.9.0+wasi-snapshot-preview1',
      '0.10.0+wasi-snapshot-preview1',
      '1.0.0-rc.1',
      '1.0.0-rc.2',
      '1.0.0-rc.10',
      '1.0.0',
      '1.0.0@git:aaaa',
      '1.0.0+b',
    ]);
  });
  it('a violation is written back as semver::VersionReq displays it', () => {
    expect(displayVersionReq('>= 1.0, < 1.2.3')).toBe('>=1.0, <1.2.3');
    expect(displayVersionReq('1.2')).toBe('^1.2');
    expect(displayVersionReq('1.*')).toBe('1.*');
    expect(displayVersionReq('*')).toBe('*');
  });
  it('config.toml: policy by key string, exemptions by crate then version, with the fixed heading', () => {
    const c = parseConfigFile(
      '[cargo-vet]\nversion = "0.10"\n\n[policy."incrementalmerkletree:0.8.2"]\ncriteria = "safe-to-run"\n\n[policy."incrementalmerkletree-testing:0.3.0"]\ncriteria = "safe-to-run"\n\n' +
        '[[exemptions.zz]]\nversion = "1.10.0"\ncriteria = "safe-to-run"\n\n[[exemptions.zz]]\nversion = "1.9.0"\ncriteria = "safe-to-run"\n\n[[exemptions.aa]]\nversion = "1.0.0"\ncriteria = "safe-to-run"\n',
    );
    const out = serializeConfigFile(c);
    expect(out.startsWith('\n# cargo-vet config file\n\n[cargo-vet]\n')).toBe(true);
    const headers = out.split('\n').filter((l) => l.startsWith('['));
    expect(headers).toEqual([
      '[cargo-vet]',
      '[policy."incrementalmerkletree-testing:0.3.0"]',
      '[policy."incrementalmerkletree:0.8.2"]',
      '[[exemptions.aa]]',
      '[[exemptions.zz]]',
      '[[exemptions.zz]]',
    ]);
    expect(out.indexOf('version = "1.9.0"')).toBeLessThan(out.indexOf('version = "1.10.0"'));
  });
});

/** The file split into blocks, each starting at a table header line. */
function blocks(text: string): { head: string; blocks: string[] } {
  const lines = text.split('\n');
  const first = lines.findIndex((l) => l.startsWith('['));
  const out: string[][] = [];
  for (const l of lines.slice(first)) {
    if (l.startsWith('[')) out.push([]);
    out[out.length - 1]!.push(l);
  }
  return { head: lines.slice(0, first).join('\n'), blocks: out.map((b) => b.join('\n')) };
}
/** Swaps the first two neighbouring blocks whose header matches `header` (and differs in text). */
function swapFirst(text: string, header: RegExp): string | undefined {
  const { head, blocks: bs } = blocks(text);
  for (let i = 0; i + 1 < bs.length; i++) {
    const [a, b] = [bs[i]!, bs[i + 1]!];
    if (!header.test(a.split('\n')[0]!) || !header.test(b.split('\n')[0]!) || a === b) continue;
    // keep the blank line that ends each block where it was
    const trim = (s: string) => s.replace(/\n+$/, '');
    const tail = (s: string) => s.slice(trim(s).length);
    const swapped = [...bs.slice(0, i), trim(b) + tail(a), trim(a) + tail(b), ...bs.slice(i + 2)];
    return [head, ...swapped].join('\n');
  }
  return undefined;
}

describe.skipIf(!hasData)('real stores: accepted as they are, refused misordered', () => {
  const readAll = (p: string) => {
    const dir = path.join(dataDir, 'projects', p, 'supply-chain');
    const r = (f: string) => readFileSync(path.join(dir, f), 'utf8');
    return { config: r('config.toml'), audits: r('audits.toml'), importsLock: r('imports.lock') };
  };
  const layout = (t: { config: string; audits: string; importsLock: string }) => checkLayout(readStore(t, 'supply-chain'));
  const canonical = (t: { config: string; audits: string; importsLock: string }) => {
    const s = readStore(t, 'supply-chain');
    return [serializeConfigFile(s.config), serializeAuditsFile(s.audits, userInfoOf(s.imports)), serializeImportsLock(s.imports!)];
  };

  for (const p of PROJECTS) {
    it(`${p}: the store as it is passes the format check`, () => {
      expect(layout(readAll(p))).toEqual([]);
    });
  }

  const cases: [string, 'config' | 'audits' | 'importsLock', RegExp, StoreProblem['file']][] = [
    ['two [policy] tables', 'config', /^\[policy\./, 'supply-chain/config.toml'],
    ['two crates of [[exemptions]]', 'config', /^\[\[exemptions\./, 'supply-chain/config.toml'],
    ['two [[audits]] entries', 'audits', /^\[\[audits\./, 'supply-chain/audits.toml'],
    ['two [[publisher]] records', 'importsLock', /^\[\[publisher\./, 'supply-chain/imports.lock'],
    ['two imported audits', 'importsLock', /^\[\[audits\.[^.]+\.audits\./, 'supply-chain/imports.lock'],
  ];
  for (const p of PROJECTS) {
    for (const [what, file, header, name] of cases) {
      const t = readAll(p);
      const swapped = swapFirst(t[file], header);
      if (swapped === undefined) continue; // this store has no two such tables
      it(`${p}: ${what} swapped in ${name} is refused with cargo-vet's message, naming the file`, () => {
        const mis = { ...t, [file]: swapped };
        // the records are the same (cargo vet fmt writes both alike): only the order differs
        expect(canonical(mis)).toEqual(canonical(t));
        const problems = layout(mis);
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatchObject({ code: 'bad-format', stage: 'validate', file: name });
        expect(problems[0]!.message).toMatch(
          new RegExp(`^A file in the store is not correctly formatted: ${name.replace('.', '\\.')} line \\d+ `),
        );
        expect(problems[0]!.message).toContain('run `cargo vet fmt` to reformat files in the store');
      });
    }
  }

  it('ariel-os: [policy."incrementalmerkletree:…"] before [policy."incrementalmerkletree-testing:…"] is refused; in cargo-vet order it passes', () => {
    const t = readAll('ariel-os');
    // two policy entries whose names share a prefix, the longer one written first (cargo-vet's order)
    const add = (order: string[]) =>
      t.config.replace(
        '\n[policy.nrf-mpsl]\n',
        `\n${order.map((k) => `[policy.${k}]\ncriteria = "safe-to-run"\n\n`).join('')}[policy.nrf-mpsl]\n`,
      );
    const good = layout({ ...t, config: add(['"incrementalmerkletree-testing:0.3.0"', '"incrementalmerkletree:0.8.2"']) });
    expect(good).toEqual([]);
    const bad = layout({ ...t, config: add(['"incrementalmerkletree:0.8.2"', '"incrementalmerkletree-testing:0.3.0"']) });
    expect(bad.map((x) => [x.file, x.table])).toEqual([['supply-chain/config.toml', '[policy."incrementalmerkletree:0.8.2"]']]);
  });

  it('libprio-rs: an audit note quoted as older cargo-vet releases wrote it (\\" inside """) is refused, with the hint', () => {
    const t = readAll('libprio-rs');
    const note = 'notes = """\nGrepped for \\"unsafe\\" - no hits.\n"""\n';
    const at = t.audits.indexOf('\n[[audits.');
    const end = t.audits.indexOf('\n\n', at + 1);
    const old = { ...t, audits: `${t.audits.slice(0, end)}\n${note}${t.audits.slice(end + 1)}` };
    // the same record written by 0.10: the quotes left alone
    const current = { ...t, audits: old.audits.replace(note, 'notes = """\nGrepped for "unsafe" - no hits.\n"""\n') };
    expect(layout(current)).toEqual([]);
    const [p] = layout(old);
    expect(p).toMatchObject({ code: 'bad-format', file: 'supply-chain/audits.toml' });
    expect(p!.message).toContain('strings quoted the way cargo-vet releases before 0.10 wrote them');
  });
});

/** The real cargo-vet, when installed (never installed by a test): `cargo vet fmt` is the oracle. */
const cargoVet = spawnSync('cargo', ['vet', '--version'], { encoding: 'utf8' });
const hasCargoVet = cargoVet.status === 0 && /cargo-vet 0\.10\./.test(cargoVet.stdout);
if (!hasCargoVet)
  console.warn(
    'skipping the cargo vet fmt comparison: cargo-vet 0.10 is not installed (cargo install cargo-vet --version 0.10.3 --locked)',
  );

/** An empty cargo workspace in a temp folder whose store holds `files`; runs `cargo vet fmt` and returns the store after. */
function cargoVetFmt(files: Record<string, string>): Record<string, string> {
  const ws = mkdtempSync(path.join(tmpdir(), 'cratewatch-fmt-'));
  try {
    mkdirSync(path.join(ws, 'src'));
    mkdirSync(path.join(ws, 'supply-chain'));
    writeFileSync(path.join(ws, 'Cargo.toml'), '[package]\nname = "empty"\nversion = "0.1.0"\nedition = "2021"\n');
    writeFileSync(path.join(ws, 'src', 'lib.rs'), '');
    const all: Record<string, string> = {
      'config.toml': '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n',
      'imports.lock': '\n# cargo-vet imports lock\n',
      ...files,
    };
    for (const [f, text] of Object.entries(all)) writeFileSync(path.join(ws, 'supply-chain', f), text);
    for (const args of [
      ['generate-lockfile', '--offline'],
      ['vet', 'fmt'],
    ]) {
      const r = spawnSync('cargo', args, { cwd: ws, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(r.status, `cargo ${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    return Object.fromEntries(Object.keys(all).map((f) => [f, readFileSync(path.join(ws, 'supply-chain', f), 'utf8')]));
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
}

describe.skipIf(!hasData || !hasCargoVet)('the real cargo vet fmt (0.10) as the oracle', () => {
  for (const pool of POOLS) {
    it(`pool ${pool} as a store's audits.toml: cargo vet fmt writes what our writer writes, byte for byte`, () => {
      const text = readFileSync(path.join(dataDir, 'audit-pools', `${pool}.audits.toml`), 'utf8');
      const theirs = cargoVetFmt({ 'audits.toml': text })['audits.toml'];
      // a store with no imports.lock publisher records: no user-id comments
      expect(serializeAuditsFile(parseAuditsFile(text), userInfoOf(undefined))).toBe(theirs);
    }, 60_000);
  }
  for (const p of PROJECTS) {
    it(`${p}: cargo vet fmt leaves the store as our writers write it`, () => {
      const dir = path.join(dataDir, 'projects', p, 'supply-chain');
      const files = Object.fromEntries(
        ['config.toml', 'audits.toml', 'imports.lock'].map((f) => [f, readFileSync(path.join(dir, f), 'utf8')]),
      );
      const theirs = cargoVetFmt(files);
      const s = readStore({ config: files['config.toml'], audits: files['audits.toml'], importsLock: files['imports.lock'] }, '');
      // cargo vet fmt also migrates an older store format (spin: 0.7) to 0.10; we write the version read
      const version = (t: string) => t.replace(/^version = "\d+\.\d+"$/m, 'version = "0.10"');
      expect(version(serializeConfigFile(s.config))).toBe(theirs['config.toml']);
      expect(serializeAuditsFile(s.audits, userInfoOf(s.imports))).toBe(theirs['audits.toml']);
      expect(serializeImportsLock(s.imports!)).toBe(theirs['imports.lock']);
    }, 60_000);
  }
});
