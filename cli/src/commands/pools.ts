/**
 * `cratewatch pools <workspace dir ...> --pools DIR`: before adopting the public pools, per
 * workspace and for the org, what the own stores vet, what the pools alone vet and what both vet,
 * and the gain of each pool: "importing X would vet N more versions across M workspaces"
 * (shared `poolReport`). Pools come from local files, as `scan --pools` reads them; cargo-vet's
 * registry (the list `ingest pools` polls) names the ones not given.
 */
import { poolReport, type PoolReport } from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { loadPools, progress, UsageError } from '../io.js';
import { orgOf } from './plan.js';

export const summary = 'what the public audit pools would vet across workspace folders: own store, pools alone, both, and each pool';

export const usage = `cratewatch pools <workspace dir ...> --pools DIR|file[,file] [--team NAME] [--json] [-q]`;

export const command = () =>
  newCommand('cratewatch pools', summary)
    .argument('<workspaces...>', 'workspace folders (each: its Cargo.lock, supply-chain/, cargo-metadata.json)')
    .option('--pools <dir|files>', 'the audit pools: a folder of *.toml or a comma list of files (repeatable); required', collect)
    .option('--team <name>', "only the workspaces of this team (the name of the folder a workspace's folder sits in)")
    .option('--json', 'the figures as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 the figures printed; 2 input or usage error; 3 internal error.');

const pct = (x: number, of: number) => `${of ? (Math.floor((x / of) * 1000) / 10).toFixed(1) : '100.0'}%`;

function lines(r: PoolReport): string[] {
  const out = ['Coverage of locked third-party versions (own store / pools alone / both):'];
  for (const w of r.perWorkspace)
    out.push(
      `  ${w.id}: ${w.thirdParty} versions; own ${pct(w.own, w.thirdParty)}, pools alone ${pct(w.poolsAlone, w.thirdParty)}, both ${pct(w.both, w.thirdParty)}`,
    );
  out.push('', ...r.summary);
  return out;
}

export function run(argv: string[]): number {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as { pools?: string[]; team?: string; json?: boolean };
  if (!o.pools?.length) throw new UsageError(`--pools is required: the pools' audits.toml files\n${usage}`);
  const org = orgOf(args, o.team);
  const pools = loadPools(o.pools);
  progress(`judging ${org.length} workspaces with and without ${pools.size} pools`);
  const r = poolReport(
    org.map((w) => ({ id: w.id, graph: w.graph, ...(w.store ? { store: w.store } : {}) })),
    pools,
  );
  process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : `${lines(r).join('\n')}\n`);
  return 0;
}
