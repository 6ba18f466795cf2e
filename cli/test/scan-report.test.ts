/**
 * `cratewatch scan`'s report as a security engineer reads it (issue 13, part 2), as a process: the
 * summary first, vulnerabilities by CVSS with aliases, patched ranges, link and dependency path,
 * informational advisories apart, unvetted packages grouped after; the same in --json; colour only
 * on a terminal and never with NO_COLOR.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { bin, CRATES, cratewatch, ensureBuilt, root } from './helpers.js';

const q = (...args: string[]) => cratewatch(args, { quiet: true });

const pkg = (n: string, deps: string[] = [], member = false) =>
  `\n[[package]]\nname = "${n}"\nversion = "${member ? '0.1.0' : '1.0.0'}"\n${member ? '' : `source = "${CRATES}"\n`}${deps.length ? `dependencies = [${deps.map((d) => `"${d}"`).join(', ')}]\n` : ''}`;

const advisory = (
  id: string,
  crate: string,
  o: { cvss?: string; aliases?: string[]; patched?: string[]; informational?: string; url?: string },
) => `\`\`\`toml
[advisory]
id = "${id}"
package = "${crate}"
date = "2099-01-01"
aliases = [${(o.aliases ?? []).map((a) => `"${a}"`).join(', ')}]
${o.cvss ? `cvss = "${o.cvss}"\n` : ''}${o.informational ? `informational = "${o.informational}"\n` : ''}${o.url ? `url = "${o.url}"\n` : ''}
[versions]
patched = [${(o.patched ?? []).map((p) => `"${p}"`).join(', ')}]
\`\`\`

# ${crate}: ${id}
`;

const HIGH = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H'; // 7.5
const CRITICAL = 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'; // 9.8

let ws = '';
let db = '';
beforeAll(() => {
  ensureBuilt();
  const dir = mkdtempSync(path.join(tmpdir(), 'cratewatch-cli-report-'));
  ws = path.join(dir, 'ws');
  mkdirSync(path.join(ws, 'supply-chain'), { recursive: true });
  // app → mid → {deep, plain}; app → crit, old; cli → tool. app's dependencies need safe-to-run
  // (its policy), cli's the default safe-to-deploy: two groups of unvetted packages.
  writeFileSync(
    path.join(ws, 'Cargo.lock'),
    `version = 4\n${pkg('app', ['crit', 'mid', 'old'], true)}${pkg('cli', ['tool'], true)}${pkg('crit')}${pkg('deep')}${pkg('mid', ['deep', 'plain'])}${pkg('old')}${pkg('plain')}${pkg('tool')}`,
  );
  writeFileSync(
    path.join(ws, 'supply-chain/config.toml'),
    '\n# cargo-vet config file\n\n[cargo-vet]\nversion = "0.10"\n\n[policy.app]\ncriteria = "safe-to-run"\n',
  );
  db = path.join(dir, 'advisory-db');
  const advisories: [string, string, Parameters<typeof advisory>[2]][] = [
    ['RUSTSEC-2099-0001', 'plain', { patched: ['>= 2.0.0'] }], // no CVSS: medium
    [
      'RUSTSEC-2099-0002',
      'deep',
      { cvss: HIGH, aliases: ['CVE-2099-0002', 'GHSA-xxxx-yyyy-zzzz'], patched: ['>= 1.13.3', '>= 1.11.5, < 1.12.0'] },
    ],
    [
      'RUSTSEC-2099-0003',
      'crit',
      { cvss: CRITICAL, aliases: ['GHSA-cccc-dddd-eeee'], patched: ['>=1.0.1'], url: 'https://example.org/crit-fix' },
    ],
    ['RUSTSEC-2099-0004', 'old', { informational: 'unmaintained' }],
  ];
  for (const [id, crate, o] of advisories) {
    mkdirSync(path.join(db, 'crates', crate), { recursive: true });
    writeFileSync(path.join(db, 'crates', crate, `${id}.md`), advisory(id, crate, o));
  }
});

describe('scan report order and content', () => {
  it('summary, then vulnerabilities by CVSS, informational apart, then unvetted grouped by criteria', () => {
    const r = q('scan', ws, '--advisory-db', db);
    expect(r.code).toBe(1);
    const out = r.stdout;
    expect(out).toContain(
      [
        '  coverage: 0/6 third-party packages vetted or exempted (0%)',
        '  vulnerabilities: 3 (critical 1, high 1, medium 1, low 0)',
        '  informational advisories: 1 (unmaintained 1)',
        '  unvetted: 6 (needs safe-to-deploy: 1; needs safe-to-run: 5)',
        '  result: fail (3 vulnerabilities, 6 unvetted)',
      ].join('\n'),
    );
    const at = (s: string) => {
      const i = out.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    const order = [
      '  result: ',
      'Vulnerabilities (3), most severe first:',
      'RUSTSEC-2099-0003 crit@1.0.0',
      'RUSTSEC-2099-0002 deep@1.0.0',
      'RUSTSEC-2099-0001 plain@1.0.0',
      'Informational advisories (1',
      'RUSTSEC-2099-0004 old@1.0.0 [unmaintained]',
      'Unvetted (6), by the criteria they need:',
      '  needs safe-to-deploy (1):',
      '    tool@1.0.0: unvetted',
      '  needs safe-to-run (5):',
    ];
    const idx = order.map(at);
    expect([...idx].sort((a, b) => a - b)).toEqual(idx);
    expect(out).toContain(
      [
        '  RUSTSEC-2099-0002 deep@1.0.0: deep: RUSTSEC-2099-0002',
        `      severity: high, CVSS 7.5  ${HIGH}`,
        '      aliases: CVE-2099-0002, GHSA-xxxx-yyyy-zzzz',
        '      patched: >= 1.13.3 or >= 1.11.5, < 1.12.0',
        '      reached: app@0.1.0 → mid@1.0.0 → deep@1.0.0',
        '      https://rustsec.org/advisories/RUSTSEC-2099-0002',
      ].join('\n'),
    );
    expect(out).toContain(
      `      severity: critical, CVSS 9.8  ${CRITICAL}\n      aliases: GHSA-cccc-dddd-eeee\n      patched: >= 1.0.1\n      reached: direct dependency of app@0.1.0\n      https://rustsec.org/advisories/RUSTSEC-2099-0003  (announcement: https://example.org/crit-fix)`,
    );
    expect(out).toContain(
      'RUSTSEC-2099-0001 plain@1.0.0: plain: RUSTSEC-2099-0001\n      severity: medium, no CVSS vector (rated medium, as the scorer rates it)',
    );
    // The informational one has no severity line: it is not a vulnerability.
    expect(out).toContain(
      'RUSTSEC-2099-0004 old@1.0.0 [unmaintained]: old: RUSTSEC-2099-0004\n      patched: no patched version\n      reached: direct dependency of app@0.1.0\n',
    );
  });

  it('--json carries all of it, beside the fields it had', () => {
    const j = JSON.parse(q('scan', ws, '--advisory-db', db, '--json').stdout);
    // what was there stays
    expect(j.summary).toMatchObject({ thirdParty: 6, unvetted: 6 });
    expect(j.advisories.map((a: { id: string }) => a.id).sort()).toEqual([
      'RUSTSEC-2099-0001',
      'RUSTSEC-2099-0002',
      'RUSTSEC-2099-0003',
      'RUSTSEC-2099-0004',
    ]);
    expect(Object.keys(j.advisories[0]).sort()).toEqual(['id', 'informational', 'package', 'title', 'vex']);
    expect(j.overview).toEqual({
      result: 'fail',
      vulnerabilities: { total: 3, critical: 1, high: 1, medium: 1, low: 0, info: 0 },
      informational: { total: 1, byKind: { unmaintained: 1 } },
      suppressedByVex: null,
      unvetted: 6,
      violationConflicts: 0,
      coverage: { thirdParty: 6, vettedOrExempted: 0, percent: 0 },
    });
    expect(j.vulnerabilities.map((v: { id: string }) => v.id)).toEqual(['RUSTSEC-2099-0003', 'RUSTSEC-2099-0002', 'RUSTSEC-2099-0001']);
    expect(j.vulnerabilities[1]).toEqual({
      id: 'RUSTSEC-2099-0002',
      package: 'deep@1.0.0',
      informational: null,
      title: 'deep: RUSTSEC-2099-0002',
      vex: null,
      severity: 'high',
      score: 7.5,
      cvss: { vector: HIGH, version: '3.1', score: 7.5, estimated: false },
      aliases: ['CVE-2099-0002', 'GHSA-xxxx-yyyy-zzzz'],
      cve: ['CVE-2099-0002'],
      ghsa: ['GHSA-xxxx-yyyy-zzzz'],
      patched: ['>= 1.13.3', '>= 1.11.5, < 1.12.0'],
      unaffected: [],
      link: 'https://rustsec.org/advisories/RUSTSEC-2099-0002',
      url: null,
      reached: 'transitive',
      path: ['app@0.1.0', 'mid@1.0.0', 'deep@1.0.0'],
    });
    expect(j.vulnerabilities[0]).toMatchObject({
      reached: 'direct',
      path: ['app@0.1.0', 'crit@1.0.0'],
      url: 'https://example.org/crit-fix',
      cvss: { score: 9.8 },
    });
    expect(j.vulnerabilities[2]).toMatchObject({ severity: 'medium', cvss: null });
    expect(j.informationalAdvisories).toMatchObject([
      { id: 'RUSTSEC-2099-0004', informational: 'unmaintained', reached: 'direct', patched: [] },
    ]);
    expect(j.unvettedGroups).toEqual([
      { needs: ['safe-to-deploy'], violation: false, packages: ['tool@1.0.0'] },
      { needs: ['safe-to-run'], violation: false, packages: ['crit@1.0.0', 'deep@1.0.0', 'mid@1.0.0', 'old@1.0.0', 'plain@1.0.0'] },
    ]);
  });

  it('without --advisory-db the summary says vulnerabilities were not checked (and JSON has null)', () => {
    const r = q('scan', ws);
    expect(r.stdout).toContain('  vulnerabilities: not checked (pass --advisory-db DIR, a RustSec advisory-db checkout)');
    expect(r.stdout).not.toContain('RustSec:');
    const j = JSON.parse(q('scan', ws, '--json').stdout);
    expect(j.overview.vulnerabilities).toBeNull();
    expect(j.vulnerabilities).toBeNull();
  });
});

describe('gate shares the order and the ranges', () => {
  it('lists what the change brings in vulnerabilities first, by CVSS, then informational; patched ranges apart', () => {
    const base = path.join(path.dirname(ws), 'base.lock');
    writeFileSync(base, `version = 4\n${pkg('app', [], true)}${pkg('cli', [], true)}`);
    const r = q('gate', '--base', base, '--head', path.join(ws, 'Cargo.lock'), '--advisory-db', db);
    expect(r.code).toBe(1);
    const hits = r.stdout.split('\n').filter((l) => /^ {2}(FAIL|warn) added RUSTSEC/.test(l));
    expect(hits).toEqual([
      '  FAIL added RUSTSEC-2099-0003 crit@1.0.0: crit: RUSTSEC-2099-0003 — patched: >= 1.0.1',
      '  FAIL added RUSTSEC-2099-0002 deep@1.0.0: deep: RUSTSEC-2099-0002 — patched: >= 1.13.3 or >= 1.11.5, < 1.12.0',
      '  FAIL added RUSTSEC-2099-0001 plain@1.0.0: plain: RUSTSEC-2099-0001 — patched: >= 2.0.0',
      '  warn added RUSTSEC-2099-0004 old@1.0.0 [unmaintained]: old: RUSTSEC-2099-0004',
    ]);
    const j = JSON.parse(q('gate', '--base', base, '--head', path.join(ws, 'Cargo.lock'), '--advisory-db', db, '--json').stdout);
    expect(j.advisories.map((a: { id: string }) => a.id)).toEqual([
      'RUSTSEC-2099-0003',
      'RUSTSEC-2099-0002',
      'RUSTSEC-2099-0001',
      'RUSTSEC-2099-0004',
    ]);
  });
});

describe('colour', () => {
  const ESC = '\u001b[';
  it('none when stdout is not a terminal (a pipe, a file, CI logs)', () => {
    const r = cratewatch(['scan', ws, '--advisory-db', db], { quiet: true, env: { NO_COLOR: undefined, FORCE_COLOR: '1' } });
    expect(r.stdout).toContain('Vulnerabilities (3)');
    expect(r.stdout).not.toContain(ESC);
  });

  // `script` (util-linux) gives the CLI a pseudo-terminal, as an engineer's shell does.
  const hasScript = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;
  it.skipIf(!hasScript)('on a terminal: coloured, unless NO_COLOR is set', () => {
    const onTty = (env: Record<string, string | undefined>) => {
      const e: Record<string, string | undefined> = { ...process.env, CRATEWATCH_QUIET: '1', ...env };
      for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
      const cmd = [process.execPath, bin, 'scan', ws, '--advisory-db', db].map((a) => `'${a}'`).join(' ');
      return spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8', env: e as NodeJS.ProcessEnv }).stdout;
    };
    const coloured = onTty({ NO_COLOR: undefined });
    expect(coloured).toContain('Vulnerabilities (3)');
    expect(coloured).toContain(`${ESC}1m${ESC}31mcritical${ESC}39m${ESC}22m`);
    const plain = onTty({ NO_COLOR: '1' });
    expect(plain).toContain('Vulnerabilities (3)');
    expect(plain).not.toContain(ESC);
  });
});

describe('on a real workspace (../shared/data)', () => {
  const data = path.resolve(root, '../shared/data');
  const project = path.join(data, 'projects/application-services');
  const have = existsSync(path.join(project, 'Cargo.lock')) && existsSync(path.join(data, 'rustsec/crates'));
  if (!have) console.warn(`skipping the real-workspace report: needs ${project} and ${data}/rustsec (see ../shared/data/SOURCES.md)`);
  it.skipIf(!have)('application-services: the summary and the vulnerabilities come before its 466 unvetted packages', () => {
    const r = q('scan', project, '--advisory-db', path.join(data, 'rustsec'));
    expect(r.code).toBe(1);
    const lines = r.stdout.split('\n');
    const vulnAt = lines.findIndex((l) => l.startsWith('Vulnerabilities ('));
    expect(lines.findIndex((l) => l.startsWith('  result: fail'))).toBeLessThan(12);
    expect(vulnAt).toBeGreaterThan(0);
    expect(vulnAt).toBeLessThan(lines.findIndex((l) => l.startsWith('Informational advisories (')));
    expect(lines.findIndex((l) => l.startsWith('Informational advisories ('))).toBeLessThan(
      lines.findIndex((l) => l.startsWith('Unvetted (466)')),
    );
    const j = JSON.parse(q('scan', project, '--advisory-db', path.join(data, 'rustsec'), '--json').stdout);
    const all = [...j.vulnerabilities, ...j.informationalAdvisories] as {
      package: string;
      path: string[];
      link: string;
      id: string;
      score: number;
      patched: string[];
    }[];
    expect(all.length).toBe(j.advisories.length);
    const scores = j.vulnerabilities.map((v: { score: number }) => v.score);
    expect([...scores].sort((a, b) => b - a)).toEqual(scores);
    for (const h of all) {
      expect(h.link).toBe(`https://rustsec.org/advisories/${h.id}`);
      expect(h.path.at(-1)).toBe(h.package);
      expect(h.path[0]).toMatch(/@/);
      expect(j.unvetted.some((u: { id: string }) => u.id === h.path[0])).toBe(false); // a member: first-party, never unvetted
    }
    // tokio's unsound advisory has four patched ranges: four entries, not one comma list.
    const tokio = all.find((h) => h.package.startsWith('tokio@') && h.id === 'RUSTSEC-2025-0023');
    expect(tokio?.patched).toEqual(['>= 1.38.2, < 1.39.0', '>= 1.42.1, < 1.43.0', '>= 1.43.1, < 1.44.0', '>= 1.44.2']);
  });
});
