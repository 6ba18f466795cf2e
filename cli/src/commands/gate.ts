/**
 * `cratewatch gate --base <old Cargo.lock> --head <new Cargo.lock>`: the CI policy gate. Fails
 * when the change adds or upgrades a third-party crate that the store and the trusted pools do
 * not vet, and names the audit that would let it pass; with `--advisory-db`, also when a crate
 * version it adds or upgrades to is hit by a RustSec vulnerability that the workspace's VEX
 * statements do not suppress (naming the patched versions). Only what the change brings in is
 * judged: a crate already locked in base is not this change's doing.
 */
import path from 'node:path';
import { applyVex, compareVersions, describeRanges, inReadingOrder, patchedRanges, failures, graphFromLockfile, matchLockfile, parseLockfile, resolveVet, vetVersionOf, type AdvisoryHit, type PackageVerdict, type StoreProblem, type VexedHit } from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { hitJson, hitLines, loadAdvisoryDb, loadPools, loadStore, loadVex, loadWorkspace, problemLocation, progress, read, storeErrorLines, UsageError } from '../io.js';
import { describeFailure } from './scan.js';

export const usage = `cratewatch gate --base <old Cargo.lock> --head <new Cargo.lock> [--store supply-chain/]
                [--metadata cargo-metadata.json] [--pools DIR|file[,file]]
                [--advisory-db DIR] [--vex FILE ...] [--json | --sarif] [-q]`;

export const summary = 'the CI gate: fails when a change to Cargo.lock brings in an unvetted or vulnerable crate';

export const command = () =>
  newCommand('cratewatch gate', summary)
    .option('--base <Cargo.lock>', 'the lockfile before the change (required)')
    .option('--head <Cargo.lock>', 'the lockfile after the change (required); its folder is read as scan reads a workspace')
    .option('--store <dir>', 'the cargo-vet store (default: supply-chain/ beside the head Cargo.lock)')
    .option('--metadata <file>', 'cargo metadata JSON of the head, for exact dependency kinds')
    .option('--pools <dir|files>', 'audit pools trusted beside the store: a folder of *.toml or a comma list of files (repeatable)', collect)
    .option('--advisory-db <dir>', 'a local RustSec advisory-db checkout: also fail on a vulnerability the change brings in')
    .option('--vex <file>', 'an OpenVEX document (repeatable; needs --advisory-db)', collect)
    .option('--json', 'the verdict as JSON on stdout')
    .option('--sarif', 'the verdict as SARIF 2.1.0 on stdout')
    .addHelpText('after', '\nExit codes: 0 the change passes; 1 it brings in an unvetted or vulnerable crate; 2 input or usage error (also an invalid store); 3 internal error.');

export function run(argv: string[]): number {
  const { opts } = parseCommand(command(), argv);
  const o = opts as { base?: string; head?: string; store?: string; metadata?: string; pools?: string[]; advisoryDb?: string; vex?: string[]; json?: boolean; sarif?: boolean };
  const { base, head } = o;
  if (!base || !head) throw new UsageError(`--base and --head are required\n${usage}`);
  if (o.json && o.sarif) throw new UsageError('choose one of --json and --sarif');
  const ws = loadWorkspace(head, o.store, o.metadata);
  const store = ws.store ?? (o.store ? loadStore(o.store) : undefined);
  const baseLock = parseLockfile(read(base), base);
  const pools = o.pools?.length ? loadPools(o.pools) : undefined;
  const dbDir = o.advisoryDb;
  if (!dbDir && o.vex?.length) throw new UsageError('--vex needs --advisory-db (VEX statements are about advisories)');
  if (dbDir) progress(`reading advisories from ${dbDir}`);
  const advisories = dbDir ? loadAdvisoryDb(dbDir) : undefined;
  const vex = advisories ? loadVex(head, o.vex ?? []) : [];
  const before = new Set([...graphFromLockfile(baseLock).nodes.values()].map((n) => `${n.name}@${n.vetVersion}`));
  progress(`resolving ${ws.graph.nodes.size} packages of ${head}`);
  const report = resolveVet({ graph: ws.graph, store }, { pools });
  const changed = report.packages.filter((p) => p.thirdParty && !before.has(`${p.name}@${p.vetVersion}`));
  const baseVersions = new Map<string, string[]>();
  for (const p of baseLock.packages) baseVersions.set(p.name, [...(baseVersions.get(p.name) ?? []), p.version]);
  // added: base had no version of the crate; downgraded: every version base had is newer; else upgraded.
  const changeKind = (name: string, version: string): 'added' | 'upgraded' | 'downgraded' => {
    const had = baseVersions.get(name);
    if (!had) return 'added';
    try {
      return had.every((v) => compareVersions(v, version) > 0) ? 'downgraded' : 'upgraded';
    } catch {
      return 'upgraded'; // a version string semver refuses: said as a change all the same
    }
  };
  const blocking = failures(report).filter((p) => changed.includes(p));
  const change = (p: PackageVerdict) => changeKind(p.name, p.version);
  const storeDir = ws.storeDir ?? o.store;
  const invalid = report.conclusion === 'fail (store)' ? report.store!.reported : [];
  // RustSec on what the change brings in; and what it fixes: a hit in base that head no longer has.
  const brought = (h: AdvisoryHit) => !before.has(`${h.package.name}@${vetVersionOf(h.package)}`);
  const headHits = advisories ? matchLockfile(advisories, ws.lockfile) : [];
  const vexed = applyVex(headHits.filter(brought), vex);
  const exposed = inReadingOrder(vexed.exposed); // vulnerabilities first, most severe first
  const suppressed = vexed.suppressed;
  const vulnerable = exposed.filter((h) => h.advisory.informational === undefined);
  const stillHit = new Set(headHits.map(hitKey));
  const fixed = advisories ? dedupe(matchLockfile(advisories, baseLock).filter((h) => h.advisory.informational === undefined && !stillHit.has(hitKey(h)))) : [];
  const changeOf = (h: AdvisoryHit) => changeKind(h.package.name, h.package.version);
  // Each range apart (`>= 1.13.3 or >= 1.11.5, < 1.12.0`): a comma joins the bounds of one range.
  const patched = (h: AdvisoryHit) => describeRanges(patchedRanges(h.advisory));

  if (o.sarif) {
    process.stdout.write(`${JSON.stringify(sarif(ws.lockPath, ws.lockText, blocking, change, invalid, storeDir, exposed, changeOf), null, 2)}\n`);
  } else if (o.json) {
    process.stdout.write(
      `${JSON.stringify({ base, head, store: storeDir ?? null, conclusion: report.conclusion, storeErrors: report.store?.fatal ? { fatal: report.store.fatal, message: report.store.message, reported: report.store.reported, all: report.store.problems } : null, changed: changed.map((p) => ({ id: p.id, change: change(p), status: p.status })), blocking, ...(advisories ? { advisories: exposed.map((h) => ({ ...hitJson(h), change: changeOf(h), patched: h.advisory.versions.patched })), suppressedByVex: suppressed.map((h) => ({ ...hitJson(h), change: changeOf(h) })), fixedAdvisories: fixed.map((h) => ({ id: h.advisory.id, package: h.package.id, title: h.advisory.title })), vexDocuments: vex.map((d) => d.file) } : {}) }, null, 2)}\n`,
    );
  } else {
    const out = invalid.length ? ['(the store is invalid, see stderr: the verdicts below are for information, cargo vet would not resolve)'] : [];
    out.push(`${changed.length} third-party packages added or upgraded; ${blocking.length} not vetted`);
    for (const p of changed) out.push(`  ${p.status === 'unvetted' || p.status === 'violation' ? 'FAIL' : 'ok  '} ${change(p)} ${p.id}: ${p.status}`);
    if (blocking.length) out.push('', 'To pass:');
    for (const p of blocking) out.push(describeFailure(p));
    if (advisories) {
      out.push('', `RustSec on what the change brings in: ${vulnerable.length} vulnerabilities, ${exposed.length - vulnerable.length} informational${vex.length ? `; suppressed by VEX: ${suppressed.length}` : ''}`);
      for (const h of exposed) {
        const [first, ...rest] = hitLines(h, `  ${h.advisory.informational === undefined ? 'FAIL' : 'warn'} ${changeOf(h)} `);
        out.push(`${first}${h.advisory.informational === undefined ? ` — patched: ${patched(h)}` : ''}`, ...rest);
      }
      if (suppressed.length) {
        out.push('', `Suppressed by VEX (${suppressed.length}, not counted):`);
        for (const h of suppressed) out.push(...hitLines(h));
      }
      if (fixed.length) out.push('', `Fixed by this change: ${fixed.map((h) => `${h.advisory.id} (${h.package.id})`).join(', ')}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // An invalid store is an input error (exit 2): cargo vet --locked refuses it before judging.
  if (invalid.length) {
    process.stderr.write(`${storeErrorLines(report, storeDir).join('\n')}\n`);
    return 2;
  }
  return blocking.length || vulnerable.length ? 1 : 0;
}

/** A hit as (advisory, crate name): what "the same advisory on the same crate" means across base and head. */
const hitKey = (h: AdvisoryHit) => `${h.advisory.id}\u0000${h.package.name}`;

/** One hit per (advisory, crate name): an advisory on several locked versions of a crate is fixed once. */
function dedupe(hits: AdvisoryHit[]): AdvisoryHit[] {
  const seen = new Set<string>();
  return hits.filter((h) => {
    const k = hitKey(h);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function sarif(
  lockPath: string,
  lockText: string,
  blocking: PackageVerdict[],
  change: (p: PackageVerdict) => string,
  invalid: StoreProblem[],
  storeDir: string | undefined,
  hits: VexedHit[],
  changeOf: (h: AdvisoryHit) => string,
) {
  const uri = (f: string) => path.relative(process.cwd(), f).split(path.sep).join('/');
  const lines = lockText.split('\n');
  const lineOf = (p: { name: string; version: string }) => {
    for (let i = 0; i < lines.length - 1; i++) if (lines[i] === `name = "${p.name}"` && lines[i + 1] === `version = "${p.version}"`) return i + 1;
    return 1;
  };
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'cratewatch',
            informationUri: 'https://mozilla.github.io/cargo-vet/',
            rules: [
              { id: 'unvetted-crate', shortDescription: { text: 'A crate added or upgraded that no trusted audit vets' } },
              { id: 'audit-violation', shortDescription: { text: 'A crate version that a trusted audit marks as a violation' } },
              { id: 'invalid-store', shortDescription: { text: 'A cargo-vet store that cargo vet --locked refuses before resolving' } },
              { id: 'vulnerable-crate', shortDescription: { text: 'A crate version added or upgraded to that a RustSec vulnerability affects' } },
              { id: 'informational-advisory', shortDescription: { text: 'A crate version added or upgraded to that a RustSec informational advisory (unmaintained, unsound, notice) names' } },
            ],
          },
        },
        results: [
          ...invalid.map((p) => {
            const l = problemLocation(p, storeDir);
            return {
              ruleId: 'invalid-store',
              level: 'error',
              message: { text: `${p.table}${p.key ? `, ${p.key}` : ''}: ${p.message}` },
              locations: [{ physicalLocation: { artifactLocation: { uri: uri(l.file) }, region: { startLine: l.line } } }],
              partialFingerprints: { storeProblem: `${p.code}:${p.table}:${p.subject}` },
            };
          }),
          ...blocking.map((p) => ({
          ruleId: p.status === 'violation' ? 'audit-violation' : 'unvetted-crate',
          level: 'error',
          message: {
            text: `${p.id} (${change(p)}) is not vetted for ${p.missing.join(', ')}.${p.suggestion ? ` Fix: ${p.suggestion.command}` : ''}`,
          },
          locations: [{ physicalLocation: { artifactLocation: { uri: uri(lockPath) }, region: { startLine: lineOf(p) } } }],
          partialFingerprints: { package: p.id },
          })),
          ...hits.map((h) => ({
            ruleId: h.advisory.informational === undefined ? 'vulnerable-crate' : 'informational-advisory',
            level: h.advisory.informational === undefined ? 'error' : 'warning',
            message: {
              text: `${h.package.id} (${changeOf(h)}): ${h.advisory.id}${h.advisory.informational ? ` [${h.advisory.informational}]` : ''}: ${h.advisory.title}.${h.advisory.informational === undefined ? ` Patched: ${h.advisory.versions.patched.join(', ') || 'none'}.` : ''}${h.vex ? ` VEX ${h.vex.statement.status} (${h.vex.document.file}).` : ''} https://rustsec.org/advisories/${h.advisory.id}.html`,
            },
            locations: [{ physicalLocation: { artifactLocation: { uri: uri(lockPath) }, region: { startLine: lineOf(h.package) } } }],
            partialFingerprints: { advisory: `${h.advisory.id}:${h.package.id}` },
          })),
        ],
      },
    ],
  };
}
