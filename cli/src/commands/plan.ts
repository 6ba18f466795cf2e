/**
 * `cratewatch plan <workspace dir ...>`: the organisation's audit plan, offline — the ordered audits
 * that raise org coverage most per line reviewed (shared `planAudits`), each with the workspaces it
 * vets and the org coverage after it, and the line a manager reads. Sizes from crate sources
 * (`--crate-cache`, `--fetch-crates`); without them, ranked by versions vetted.
 */
import {
  diffLines,
  planAudits,
  percent,
  procMacroCriterionAdvice,
  type AuditPlan,
  type PlanOptions,
  type PlanWorkspace,
  type ProcMacroAdvice,
} from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { auditSizeKey, counterNote, openSources, sizeAudits, type OpenedSources } from '../crates/index.js';
import { loadAdvisoryDb, loadPools, progress, UsageError } from '../io.js';
import { loadOrg, withSourceTargets, type OrgWorkspace } from '../org.js';
import { adviceLines } from '../report.js';

export const summary = "the organisation's audit plan: the audits that raise coverage most per line reviewed, over workspace folders";

export const usage = `cratewatch plan <workspace dir ...> [--pools DIR|file[,file]] [--crate-cache DIR ...] [--fetch-crates]
                [--budget LINES] [--limit N] [--team NAME] [--advisory-db DIR] [--json] [-q]`;

export const command = () =>
  newCommand('cratewatch plan', summary)
    .argument('<workspaces...>', 'workspace folders (each: its Cargo.lock, supply-chain/, cargo-metadata.json); team = the folder above')
    .option('--pools <dir|files>', 'audit pools trusted beside each store, as scan --pools (repeatable)', collect)
    .option('--crate-cache <dir>', 'size each audit as cargo vet suggest does, from the .crate files in DIR (repeatable)', collect)
    .option('--fetch-crates', 'size audits from .crate files downloaded from crates.io into the cache (CRATEWATCH_CRATE_CACHE)')
    .option('--budget <lines>', 'plan at most this many lines of review (needs sizes)')
    .option('--limit <n>', 'at most this many audits')
    .option('--team <name>', "only the workspaces of this team (the name of the folder a workspace's folder sits in)")
    .option('--advisory-db <dir>', 'a local RustSec advisory-db checkout: audits of crates with advisories weigh more')
    .option('--json', 'the plan as JSON on stdout')
    .addHelpText('after', '\nExit codes: 0 the plan printed; 2 input or usage error; 3 internal error.');

interface Opts {
  pools?: string[];
  crateCache?: string[];
  fetchCrates?: boolean;
  budget?: string;
  limit?: string;
  team?: string;
  advisoryDb?: string;
  json?: boolean;
}

function positive(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) <= 0) throw new UsageError(`${flag} ${v}: expected a positive whole number`);
  return Number(v);
}

/** The workspaces asked for, `--team` applied. */
export function orgOf(dirs: string[], team: string | undefined): OrgWorkspace[] {
  const org = loadOrg(dirs);
  if (team === undefined) return org;
  const mine = org.filter((w) => w.team === team);
  if (!mine.length)
    throw new UsageError(
      `--team ${team}: no workspace sits in a folder named ${team} (teams: ${[...new Set(org.map((w) => w.team))].join(', ')})`,
    );
  return mine;
}

/**
 * Plans, sizes what the plan met unsized, and plans again until every candidate it met was tried
 * (an audit planned opens deltas from the version it vets: those are sized on the next round).
 */
async function planSized(ws: PlanWorkspace[], o: PlanOptions, opened: OpenedSources, checksums: Map<string, string>): Promise<AuditPlan> {
  const sizes = new Map<string, number | undefined>();
  const lines: PlanOptions['lines'] = (crate, c) => sizes.get(auditSizeKey(crate, c));
  for (let round = 1; ; round++) {
    const plan = planAudits(ws, { ...o, lines });
    const todo = plan.needSizes.filter((c) => !sizes.has(auditSizeKey(c.crate, c)));
    if (!todo.length || round > 8) return plan;
    const wanted = new Map<string, { from?: string; to: string }[]>();
    for (const c of todo) wanted.set(c.crate, [...(wanted.get(c.crate) ?? []), c]);
    progress(`round ${round}: sizing ${todo.length} audits of ${wanted.size} crates from ${opened.from.join(', ')}`);
    const r = await sizeAudits(wanted, checksums, opened.sources, opened.cacheDir ? { cacheDir: opened.cacheDir } : {});
    for (const c of todo) {
      const d = r.sizes.get(auditSizeKey(c.crate, c));
      sizes.set(auditSizeKey(c.crate, c), d ? diffLines(d) : undefined);
    }
    progress(`sized ${[...r.sizes.values()].filter(Boolean).length} of ${todo.length} (lines counted by ${counterNote(r.counter)})`);
  }
}

const checksumsOf = (org: OrgWorkspace[]) =>
  new Map(org.flatMap((w) => w.lockfile.packages.filter((p) => p.checksum).map((p) => [`${p.name}@${p.version}`, p.checksum!] as const)));

export async function run(argv: string[]): Promise<number> {
  const { opts, args } = parseCommand(command(), argv);
  const o = opts as Opts;
  const budget = positive('--budget', o.budget);
  const limit = positive('--limit', o.limit);
  const sized = (o.crateCache?.length ?? 0) > 0 || o.fetchCrates === true;
  if (budget !== undefined && !sized)
    throw new UsageError('--budget counts lines: give --crate-cache DIR or --fetch-crates to size audits');
  let org = orgOf(args, o.team);
  const pools = o.pools?.length ? loadPools(o.pools) : undefined;
  const advisories = o.advisoryDb ? new Set(loadAdvisoryDb(o.advisoryDb).map((a) => a.package)) : undefined;
  const base: PlanOptions = { ...(pools ? { pools } : {}), ...(advisories ? { advisories } : {}), ...(budget ? { budget } : {}) };
  const opts2 = { ...base, ...(limit ? { limit } : {}) };
  let plan: AuditPlan;
  if (sized) {
    const opened = await openSources({ localDirs: o.crateCache ?? [], fetch: o.fetchCrates === true });
    try {
      org = await withSourceTargets(org, opened.sources);
      plan = await planSized(planInput(org), opts2, opened, checksumsOf(org));
    } finally {
      await opened.close();
    }
  } else {
    progress(`planning over ${org.length} workspaces without sizes (no --crate-cache / --fetch-crates): ranked by versions vetted`);
    plan = planAudits(planInput(org), opts2);
  }
  const advice = new Map(org.flatMap((w) => ((a) => (a ? [[w.id, a] as const] : []))(procMacroCriterionAdvice(w.graph, w.store))));
  process.stdout.write(
    o.json ? `${JSON.stringify(planJson(plan, org, advice), null, 2)}\n` : `${planLines(plan, org, advice).join('\n')}\n`,
  );
  return 0;
}

const planInput = (org: OrgWorkspace[]): PlanWorkspace[] =>
  org.map((w) => ({ id: w.id, team: w.team, graph: w.graph, ...(w.store ? { store: w.store } : {}) }));

function planJson(plan: AuditPlan, org: OrgWorkspace[], advice: Map<string, ProcMacroAdvice>) {
  return {
    ...plan,
    buildTime: Object.fromEntries(org.map((w) => [w.id, { from: w.buildTimeFrom, readFromSources: w.buildTimeRead }])),
    procMacroCriterion: Object.fromEntries(advice),
  };
}

const n = (x: number) => x.toLocaleString('en-US');

function auditLine(a: AuditPlan['audits'][number], i: number): string {
  const what = a.from !== undefined ? `${a.from} -> ${a.to}` : `${a.to} (full)`;
  const size = a.lines === null ? 'lines unknown' : `${n(a.lines)} lines`;
  const ws =
    a.workspaces.length > 4 ? `${a.workspaces.slice(0, 4).join(', ')} and ${a.workspaces.length - 4} more` : a.workspaces.join(', ');
  const bt = a.buildTime ? ', build-time code' : '';
  return `${String(i + 1).padStart(4)}. ${a.crate} ${what} for ${a.criteria.join(', ')}: ${size}; vets ${a.vets} in ${ws}${bt}; org ${percent(a.cumulative)}`;
}

function planLines(plan: AuditPlan, org: OrgWorkspace[], advice: Map<string, ProcMacroAdvice>): string[] {
  const out = [`Audit plan for ${n(plan.workspaces)} workspaces: ${plan.summary}`, ''];
  out.push(...plan.audits.map(auditLine));
  if (!plan.audits.length) out.push('  nothing to plan: every locked third-party version is vetted, or none has a candidate audit');
  out.push('', 'Per workspace (vetted before -> after the plan):');
  for (const w of plan.perWorkspace)
    out.push(`  ${w.id}${w.team ? ` (${w.team})` : ''}: ${percent(w.before)} -> ${percent(w.after)} of ${n(w.before.thirdParty)}`);
  const unknown = org.filter((w) => w.buildTimeFrom === 'unknown').map((w) => w.id);
  if (unknown.length)
    out.push(
      '',
      `Build-time code unknown in ${unknown.join(', ')} (a Cargo.lock only): save cargo-metadata.json beside it, or give --crate-cache`,
    );
  for (const [id, a] of advice) out.push('', ...adviceLines(id, a));
  return out;
}
