/**
 * `cratewatch gate --base <old Cargo.lock> --head <new Cargo.lock>`: the CI policy gate. Fails
 * when the change adds or upgrades a third-party crate that the store and the trusted pools do
 * not vet, and names the audit that would let it pass.
 */
import path from 'node:path';
import { failures, graphFromLockfile, parseLockfile, resolveVet, type PackageVerdict, type StoreProblem } from '@cratewatch/shared';
import { loadPools, loadStore, loadWorkspace, parseArgs, problemLocation, progress, read, storeErrorLines, UsageError } from '../io.js';
import { describeFailure } from './scan.js';

export const usage = `cratewatch gate --base <old Cargo.lock> --head <new Cargo.lock> [--store supply-chain/]
                [--metadata cargo-metadata.json] [--pools DIR|file[,file]] [--json | --sarif]`;

export function run(argv: string[]): number {
  const a = parseArgs(argv, { values: ['base', 'head', 'store', 'pools', 'metadata'], bools: ['json', 'sarif'] });
  const base = a.one('base');
  const head = a.one('head');
  if (!base || !head || a.positional.length) throw new UsageError(`--base and --head are required\n${usage}`);
  if (a.bools.has('json') && a.bools.has('sarif')) throw new UsageError('choose one of --json and --sarif');
  const ws = loadWorkspace(head, a.one('store'), a.one('metadata'));
  const store = ws.store ?? (a.one('store') ? loadStore(a.one('store')!) : undefined);
  const baseLock = parseLockfile(read(base), base);
  const pools = a.all('pools').length ? loadPools(a.all('pools')) : undefined;
  const before = new Set([...graphFromLockfile(baseLock).nodes.values()].map((n) => `${n.name}@${n.vetVersion}`));
  progress(`resolving ${ws.graph.nodes.size} packages of ${head}`);
  const report = resolveVet({ graph: ws.graph, store }, { pools });
  const changed = report.packages.filter((p) => p.thirdParty && !before.has(`${p.name}@${p.vetVersion}`));
  const baseNames = new Set(baseLock.packages.map((p) => p.name));
  const blocking = failures(report).filter((p) => changed.includes(p));
  const change = (p: PackageVerdict) => (baseNames.has(p.name) ? 'upgraded' : 'added');
  const storeDir = ws.storeDir ?? a.one('store');
  const invalid = report.conclusion === 'fail (store)' ? report.store!.reported : [];

  if (a.bools.has('sarif')) {
    process.stdout.write(`${JSON.stringify(sarif(ws.lockPath, ws.lockText, blocking, change, invalid, storeDir), null, 2)}\n`);
  } else if (a.bools.has('json')) {
    process.stdout.write(
      `${JSON.stringify({ base, head, store: storeDir ?? null, conclusion: report.conclusion, storeErrors: report.store?.fatal ? { fatal: report.store.fatal, message: report.store.message, reported: report.store.reported, all: report.store.problems } : null, changed: changed.map((p) => ({ id: p.id, change: change(p), status: p.status })), blocking }, null, 2)}\n`,
    );
  } else {
    const out = invalid.length ? ['(the store is invalid, see stderr: the verdicts below are for information, cargo vet would not resolve)'] : [];
    out.push(`${changed.length} third-party packages added or upgraded; ${blocking.length} not vetted`);
    for (const p of changed) out.push(`  ${p.status === 'unvetted' || p.status === 'violation' ? 'FAIL' : 'ok  '} ${change(p)} ${p.id}: ${p.status}`);
    if (blocking.length) out.push('', 'To pass:');
    for (const p of blocking) out.push(describeFailure(p));
    process.stdout.write(`${out.join('\n')}\n`);
  }
  // An invalid store is an input error (exit 2): cargo vet --locked refuses it before judging.
  if (invalid.length) {
    process.stderr.write(`${storeErrorLines(report, storeDir).join('\n')}\n`);
    return 2;
  }
  return blocking.length ? 1 : 0;
}

function sarif(lockPath: string, lockText: string, blocking: PackageVerdict[], change: (p: PackageVerdict) => string, invalid: StoreProblem[], storeDir: string | undefined) {
  const uri = (f: string) => path.relative(process.cwd(), f).split(path.sep).join('/');
  const lines = lockText.split('\n');
  const lineOf = (p: PackageVerdict) => {
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
        ],
      },
    ],
  };
}
