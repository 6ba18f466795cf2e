/**
 * `cratewatch sbom <workspace>`: the workspace as a CycloneDX 1.6 JSON document (shared
 * `cycloneDxDocument`): components with purls, the dependency graph, the RustSec advisories that
 * hit as vulnerabilities (with the analysis the workspace's VEX statements give), and the cargo-vet
 * audits that vet each component as attestations. Reads the workspace as `scan` does. No
 * infrastructure; exit 0 once written (it is a document, not a gate: `scan` and `gate` judge).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { applyVex, cycloneDxDocument, inReadingOrder, matchLockfile, resolveVet, shortestPathsFromMembers } from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { loadAdvisoryDb, loadPools, loadVex, loadWorkspace, progress, storeErrorLines, UsageError, type Workspace } from '../io.js';

export const summary =
  'the workspace as a CycloneDX 1.6 SBOM: purls, dependencies, RustSec vulnerabilities with VEX analysis, cargo-vet audits as attestations';

export const usage = `cratewatch sbom <workspace dir | Cargo.lock | SBOM> [--output FILE] [--store DIR] [--metadata cargo-metadata.json]
                [--pools DIR|file[,file]] [--advisory-db DIR] [--vex FILE ...] [-q]`;

export const command = () =>
  newCommand('cratewatch sbom', summary)
    .argument('<target>', 'a workspace folder, a Cargo.lock, or a CycloneDX SBOM (read as scan reads it)')
    .option('--output <file>', 'write the document to FILE (default: stdout)')
    .option('--store <dir>', 'the cargo-vet store (default: supply-chain/ beside the Cargo.lock)')
    .option(
      '--metadata <file>',
      "cargo metadata --format-version 1 --all-features output (default: cargo-metadata.json beside the Cargo.lock): dependency kinds, path packages' folders",
    )
    .option('--pools <dir|files>', 'audit pools trusted beside the store (repeatable)', collect)
    .option('--advisory-db <dir>', 'a local RustSec advisory-db checkout: the advisories that hit, as vulnerabilities')
    .option('--vex <file>', 'a VEX document (OpenVEX, CycloneDX, CSAF) beside those found next to the Cargo.lock (repeatable)', collect)
    .addHelpText('after', '\nExit codes: 0 written; 2 input or usage error (also an invalid store); 3 internal error.');

const version = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function run(argv: string[]): number {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as { output?: string; store?: string; metadata?: string; pools?: string[]; advisoryDb?: string; vex?: string[] };
  const target = args[0]!;
  const ws = loadWorkspace(target, o.store, o.metadata);
  if (!o.advisoryDb && o.vex?.length) throw new UsageError('--vex needs --advisory-db (VEX statements are about advisories)');
  const pools = o.pools?.length ? loadPools(o.pools) : undefined;
  const advisories = o.advisoryDb ? loadAdvisoryDb(o.advisoryDb) : undefined;
  const vex = advisories ? loadVex(target, o.vex ?? []) : [];
  progress(`resolving ${ws.graph.nodes.size} packages${ws.store ? ` against ${ws.storeDir}` : ' (no store: default policy)'}`);
  const report = resolveVet({ graph: ws.graph, store: ws.store }, { pools });
  if (report.conclusion === 'fail (store)') {
    process.stderr.write(`${storeErrorLines(report, ws.storeDir).join('\n')}\n`);
    return 2; // attestations from a store cargo-vet refuses would claim what it does not
  }
  const vexed = advisories ? applyVex(matchLockfile(advisories, ws.lockfile), vex) : undefined;
  const doc = cycloneDxDocument({
    workspace: path.basename(path.resolve(path.dirname(ws.lockPath))),
    lockfile: ws.lockfile,
    packageDirs: ws.metadataPath ? pathPackageDirs(ws) : undefined,
    report,
    store: ws.store,
    pools,
    hits: vexed ? inReadingOrder([...vexed.exposed, ...vexed.suppressed]) : undefined, // vulnerabilities first, most severe first
    paths: shortestPathsFromMembers(ws.lockfile),
    tool: { name: 'cratewatch', version },
    timestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    serialNumber: `urn:uuid:${randomUUID()}`,
  });
  const text = `${JSON.stringify(doc, null, 2)}\n`;
  if (o.output) {
    writeFileSync(o.output, text);
    progress(
      `wrote ${o.output}: ${ws.lockfile.packages.length} components, ${(doc.vulnerabilities as unknown[] | undefined)?.length ?? 0} vulnerabilities`,
    );
  } else process.stdout.write(text);
  return 0;
}

/**
 * Each path package's folder relative to the workspace root, from cargo metadata's `manifest_path`
 * (what cargo-cyclonedx writes as `download_url=file://<dir>`); by package id, name@version being
 * unique among path packages.
 */
function pathPackageDirs(ws: Workspace): Map<string, string> {
  const meta = JSON.parse(readFileSync(ws.metadataPath!, 'utf8')) as {
    workspace_root?: string;
    packages?: { name: string; version: string; source?: string | null; manifest_path?: string }[];
  };
  const out = new Map<string, string>();
  if (typeof meta.workspace_root !== 'string') return out;
  const ids = new Set(ws.lockfile.packages.filter((p) => p.source === undefined).map((p) => p.id));
  for (const p of meta.packages ?? []) {
    const id = `${p.name}@${p.version}`;
    if (p.source || typeof p.manifest_path !== 'string' || !ids.has(id)) continue;
    const rel = path.relative(meta.workspace_root, path.dirname(p.manifest_path)).split(path.sep).join('/');
    out.set(id, rel === '' ? '.' : rel);
  }
  return out;
}
