/**
 * `cratewatch query`: read-only questions an analyst asks of the graph the scorer keeps.
 * Every query, asked or written, goes through the query sandbox (`@cratewatch/sandbox`): judged
 * from its EXPLAIN plan (no LOAD CSV, procedures outside the allow-list, administration commands
 * or writes), then run in a READ transaction with a timeout and a row limit (`--timeout`,
 * `--max-rows`). Neo4j from NEO4J_URI (NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE).
 */
import type { Command } from 'commander';
import neo4j, { type Driver } from 'neo4j-driver';
import {
  QUERY_LIMITS,
  QueryLimitError,
  QueryRefusedError,
  QueryTimeoutError,
  queryLimits,
  runSandboxed,
  type SandboxOptions,
} from '@cratewatch/sandbox';
import { LABELS as L, NODE_PROPS as P, REL_PROPS as RP, REL_TYPES as R } from '@cratewatch/shared';
import { collect, newCommand, parseCommand } from '../args.js';
import { UsageError } from '../io.js';

export const summary =
  'read-only questions on the graph the scorer keeps (advisories, crates, coverage, findings, risk, Cypher); needs NEO4J_URI';

export const usage =
  'cratewatch query <advisory ID | crate NAME | workspace ID | coverage [WORKSPACE] | findings | risk | cypher QUERY> [--state open|resolved] [--severity S] [--team T] [--param k=v]... [--timeout SECONDS] [--max-rows N] [--json]';

interface Question {
  cypher: string;
  params: Record<string, unknown>;
  /** One line per row, for the text output. */
  line: (row: Record<string, unknown>) => string;
  empty: string;
  /** Reshapes the rows (both outputs) when a stored field needs reading. */
  rows?: (rows: Record<string, unknown>[]) => Record<string, unknown>[];
  /** A line printed before the rows (text output only), from its own query's first row, if any. */
  head?: { cypher: string; params: Record<string, unknown>; line: (row: Record<string, unknown>) => string };
}

type Why = { signal: string; contribution: number; detail: string }[];

/** A stored `riskWhy` (JSON) read back; [] when absent or unreadable. */
function whyOf(json: unknown): Why {
  if (typeof json !== 'string') return [];
  try {
    const v: unknown = JSON.parse(json);
    return Array.isArray(v) ? (v as Why) : [];
  } catch {
    return [];
  }
}

const score1 = (x: unknown) => Number(x).toFixed(1);

/**
 * A workspace's risk in words, from its `riskWhy` (shared `workspaceRisk`): the top crate-version
 * and why, how many more are high or critical; with `counts`, its open findings by kind.
 */
function riskSummary(why: Why, counts = false): string {
  const top = why.find((w) => w.signal === 'risk.top');
  if (!top) return 'no open finding';
  const breadth = why.find((w) => w.signal === 'risk.breadth');
  const open = why.filter((w) => w.signal.startsWith('open.')).map((w) => `${w.detail.split(' ')[0]} ${w.signal.slice('open.'.length)}`);
  return `top: ${top.detail}${breadth ? `; ${breadth.detail}` : ''}${counts && open.length ? `; open findings: ${open.join(', ')}` : ''}`;
}

/** The VEX entry of a stored finding's `why` (JSON), when a workspace's VEX statement decided it. */
function vexOf(why: unknown): { signal: string; detail: string } | null {
  const w = whyOf(why).find((x) => x.signal.startsWith('vex.'));
  return w ? { signal: w.signal, detail: w.detail } : null;
}

/** Whether a workspace is exposed to the hit, as the scorer's finding says. */
function exposure(r: Record<string, unknown>): string {
  const vex = r.vex as { signal: string; detail: string } | null;
  if (r.findingState === 'resolved' && vex) return `not exposed per VEX (${vex.signal}: ${vex.detail})`;
  if (r.findingState === 'open') return `finding open: ${r.severity} ${r.score}${vex ? ` (${vex.signal}: ${vex.detail})` : ''}`;
  if (r.findingState === 'resolved') return 'finding resolved';
  return 'no finding yet';
}

const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'];

function question(
  kind: string,
  arg: string | undefined,
  opts: { state?: string; severity?: string; team?: string; params: Record<string, string> },
): Question {
  const need = (what: string) => {
    if (!arg) throw new UsageError(`query ${kind} needs ${what}\nusage: ${usage}`);
    return arg;
  };
  switch (kind) {
    case 'advisory':
      return {
        cypher: `MATCH (a:${L.Advisory} {${P.Advisory.id}: $id})
                 OPTIONAL MATCH (a)-[:${R.AFFECTS}]->(v:${L.Version})<-[:${R.LOCKS}]-(w:${L.Workspace})
                 // The scorer's finding on the hit says whether it is exposed: a VEX statement of the
                 // workspace (not_affected, fixed) resolves it, and its why says so.
                 OPTIONAL MATCH (f:${L.Finding} {${P.Finding.workspace}: w.${P.Workspace.id}, ${P.Finding.kind}: 'advisory', ${P.Finding.crate}: v.${P.Version.crate}, ${P.Finding.version}: v.${P.Version.version}, ${P.Finding.advisory}: a.${P.Advisory.id}})
                 RETURN a.${P.Advisory.id} AS advisory, a.${P.Advisory.package} AS crate, a.${P.Advisory.title} AS title, a.${P.Advisory.withdrawn} AS withdrawn,
                        a.${P.Advisory.informational} AS informational, a.${P.Advisory.patched} AS patched, v.${P.Version.version} AS version, w.${P.Workspace.id} AS workspace, w.${P.Workspace.team} AS team,
                        f.${P.Finding.state} AS findingState, f.${P.Finding.severity} AS severity, f.${P.Finding.score} AS score, f.${P.Finding.why} AS why
                 ORDER BY workspace, version`,
        params: { id: need('an advisory id') },
        line: (r) =>
          r.workspace
            ? `${r.workspace}${r.team ? ` (team ${r.team})` : ''}  ${r.crate} ${r.version}  patched: ${(r.patched as string[]).join(', ') || 'none'}  ${exposure(r)}`
            : `${r.advisory} (${r.crate}): no workspace locks an affected version${r.withdrawn ? ' (withdrawn)' : ''}`,
        rows: (rs) => rs.map(({ why, ...r }) => (r.workspace ? { ...r, vex: vexOf(why) } : r)),
        empty: `no advisory ${arg} in the graph`,
      };
    case 'crate':
      return {
        cypher: `MATCH (:${L.Crate} {${P.Crate.name}: $name})-[:${R.HAS_VERSION}]->(v:${L.Version})<-[l:${R.LOCKS}]-(w:${L.Workspace})
                 OPTIONAL MATCH (a:${L.Advisory})-[:${R.AFFECTS}]->(v) WHERE a.${P.Advisory.withdrawn} IS NULL
                 RETURN v.${P.Version.version} AS version, w.${P.Workspace.id} AS workspace, w.${P.Workspace.team} AS team, l.${RP.LOCKS.vetted} AS vetted, l.${RP.LOCKS.via} AS via, collect(a.${P.Advisory.id}) AS advisories
                 ORDER BY version, workspace`,
        params: { name: need('a crate name') },
        line: (r) =>
          `${r.version}  ${r.workspace}${r.team ? ` (team ${r.team})` : ''}${r.vetted ? `  ${r.vetted}${(r.via as string[] | null)?.length ? ` via ${(r.via as string[]).join(', ')}` : ''}` : ''}${(r.advisories as string[]).length ? `  advisories: ${(r.advisories as string[]).join(', ')}` : ''}`,
        empty: `no workspace locks ${arg}`,
      };
    case 'coverage':
      // Audit coverage as the scorer computed it (cargo-vet rules: the workspace's store + trusted
      // pools); with a workspace, also each version that is not vetted and what it needs.
      return {
        cypher: `MATCH (w:${L.Workspace}) WHERE ($workspace IS NULL OR w.${P.Workspace.id} = $workspace) AND ($team IS NULL OR w.${P.Workspace.team} = $team)
                 OPTIONAL MATCH (w)-[l:${R.LOCKS}]->(v:${L.Version}) WHERE $workspace IS NOT NULL AND l.${RP.LOCKS.vetted} IN ['unvetted', 'violation']
                 WITH w, v, l ORDER BY v.${P.Version.crate}, v.${P.Version.version}
                 RETURN w.${P.Workspace.id} AS workspace, w.${P.Workspace.team} AS team, w.${P.Workspace.vetConclusion} AS conclusion, w.${P.Workspace.vetThirdParty} AS thirdParty,
                        w.${P.Workspace.vetVetted} AS vetted, w.${P.Workspace.vetExempted} AS exempted, w.${P.Workspace.vetUnvetted} AS unvetted, w.${P.Workspace.vetViolation} AS violation,
                        w.${P.Workspace.vetKindsKnown} AS kindsKnown, w.${P.Workspace.vetTrustedPools} AS trustedPools,
                        [x IN collect({crate: v.${P.Version.crate}, version: v.${P.Version.version}, status: l.${RP.LOCKS.vetted}, needs: l.${RP.LOCKS.needs}}) WHERE x.crate IS NOT NULL] AS notVetted
                 ORDER BY workspace`,
        params: { workspace: arg ?? null, team: opts.team ?? null },
        line: (r) => {
          const head =
            r.conclusion === null || r.conclusion === undefined
              ? `${r.workspace}: no coverage yet (registered before the scorer computed it; it is computed at the next event)`
              : `${r.workspace}${r.team ? ` (team ${r.team})` : ''}: ${r.vetted}/${r.thirdParty} vetted, ${r.exempted} exempted, ${r.unvetted} unvetted, ${r.violation} violation — ${r.conclusion}` +
                `${(r.trustedPools as string[] | null)?.length ? `; trusted pools: ${(r.trustedPools as string[]).join(', ')}` : ''}${r.kindsKnown === false ? '; dependency kinds unknown (Cargo.lock only)' : ''}`;
          const rest = (r.notVetted as { crate: string; version: string; status: string; needs: string[] }[]).map(
            (x) => `  ${x.status.padEnd(9)} ${x.crate} ${x.version}  needs ${x.needs.join(', ')}`,
          );
          return [head, ...rest].join('\n');
        },
        empty: arg ? `no workspace ${arg} in the graph` : 'no workspaces in the graph',
      };
    case 'workspace':
    case 'findings': {
      if (opts.severity && !SEVERITIES.includes(opts.severity)) throw new UsageError(`--severity must be one of ${SEVERITIES.join(', ')}`);
      if (opts.state && !['open', 'resolved'].includes(opts.state)) throw new UsageError('--state must be open or resolved');
      return {
        cypher: `MATCH (f:${L.Finding})-[:${R.IN}]->(w:${L.Workspace})
                 WHERE ($workspace IS NULL OR w.${P.Workspace.id} = $workspace) AND ($state IS NULL OR f.${P.Finding.state} = $state)
                   AND ($severity IS NULL OR f.${P.Finding.severity} = $severity) AND ($team IS NULL OR w.${P.Workspace.team} = $team)
                 RETURN f.${P.Finding.id} AS id, f.${P.Finding.kind} AS kind, f.${P.Finding.state} AS state, f.${P.Finding.severity} AS severity, f.${P.Finding.score} AS score,
                        w.${P.Workspace.id} AS workspace, f.${P.Finding.crate} AS crate, f.${P.Finding.version} AS version, f.${P.Finding.advisory} AS advisory
                 ORDER BY f.${P.Finding.score} DESC, workspace, crate`,
        params: {
          workspace: kind === 'workspace' ? need('a workspace id') : null,
          state: opts.state ?? (kind === 'workspace' ? 'open' : null),
          severity: opts.severity ?? null,
          team: opts.team ?? null,
        },
        line: (r) =>
          `${String(r.severity).padEnd(8)} ${String(r.score).padStart(4)}  ${r.workspace}  ${r.crate} ${r.version}  ${r.advisory ?? r.kind}  (${r.state})`,
        empty: 'no findings match',
        // `query workspace`: its risk first (text output; as JSON, `query risk --json`).
        ...(kind === 'workspace'
          ? {
              head: {
                cypher: `MATCH (w:${L.Workspace} {${P.Workspace.id}: $workspace}) RETURN w.${P.Workspace.risk} AS risk, w.${P.Workspace.riskSeverity} AS severity, w.${P.Workspace.riskWhy} AS why`,
                params: { workspace: arg },
                line: (r: Record<string, unknown>) =>
                  r.risk === null || r.risk === undefined
                    ? 'risk: not computed yet (the scorer writes it when the workspace or its findings next change)'
                    : `risk ${score1(r.risk)} ${r.severity}  ${riskSummary(whyOf(r.why), true)}`,
              },
            }
          : {}),
      };
    }
    case 'risk':
      // Workspaces ranked by the risk the scorer wrote (shared `workspaceRisk`: the riskiest
      // crate-version + breadth), with why. A workspace whose findings have not changed since the
      // scorer began writing risk has none yet and is not listed.
      return {
        cypher: `MATCH (w:${L.Workspace}) WHERE w.${P.Workspace.risk} IS NOT NULL AND ($team IS NULL OR w.${P.Workspace.team} = $team)
                 RETURN w.${P.Workspace.id} AS workspace, w.${P.Workspace.team} AS team, w.${P.Workspace.risk} AS risk, w.${P.Workspace.riskSeverity} AS severity, w.${P.Workspace.riskWhy} AS why
                 ORDER BY risk DESC, workspace`,
        params: { team: opts.team ?? null },
        rows: (rs) => rs.map((r) => ({ ...r, why: whyOf(r.why) })),
        line: (r) =>
          `${score1(r.risk).padStart(4)} ${String(r.severity).padEnd(8)} ${r.workspace}${r.team ? ` (team ${r.team})` : ''}  ${riskSummary(r.why as Why)}`,
        empty: opts.team
          ? `no workspace of team ${opts.team} has a risk yet`
          : 'no workspace has a risk yet (the scorer writes it when a workspace or its findings change)',
      };
    case 'cypher':
      return { cypher: need('a Cypher query'), params: opts.params, line: (r) => JSON.stringify(r), empty: '(no rows)' };
    default:
      throw new UsageError(`unknown query "${kind ?? ''}"\nusage: ${usage}`);
  }
}

function driverFromEnv(): Driver {
  const uri = process.env.NEO4J_URI;
  if (!uri) throw new UsageError('NEO4J_URI is not set (the graph the scorer keeps, e.g. bolt://127.0.0.1:17687)');
  const auth = process.env.NEO4J_PASSWORD ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', process.env.NEO4J_PASSWORD) : undefined;
  try {
    return neo4j.driver(uri, auth, { disableLosslessIntegers: true });
  } catch (err) {
    throw new UsageError(`NEO4J_URI ${withoutCredentials(uri)}: ${(err as Error).message}`);
  }
}

/** The URI as it may be printed: a `user:password@` in it is dropped. */
function withoutCredentials(uri: string): string {
  return uri.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}

/**
 * A driver error the user can act on, as one line naming the URI (never the password): the graph
 * does not answer, or refuses the credentials. Undefined for anything else.
 */
function graphProblem(err: { code?: string; message: string }): UsageError | undefined {
  const uri = withoutCredentials(process.env.NEO4J_URI ?? '');
  if (err.code === 'ServiceUnavailable' || err.code === 'SessionExpired') {
    const cause = /Caused by: (.*)$/.exec(err.message)?.[1] ?? err.message.split('. ')[0];
    return new UsageError(`cannot reach Neo4j at ${uri} (NEO4J_URI): ${cause}`);
  }
  if (err.code?.startsWith('Neo.ClientError.Security'))
    return new UsageError(`Neo4j at ${uri} refused the credentials (NEO4J_USER / NEO4J_PASSWORD): ${err.message}`);
  return undefined;
}

interface Asked {
  kind: string;
  arg?: string;
  opts: { json?: boolean; state?: string; severity?: string; team?: string; param?: string[]; timeout?: string; maxRows?: string };
}

/** `query` and one subcommand per question, each with its --help; `onAsk` gets what was asked. */
export function command(onAsk: (a: Asked) => void): Command {
  const q = newCommand('cratewatch query', summary)
    .configureHelp({ subcommandTerm: (c) => `${c.name()} ${c.usage()}` })
    .addHelpText(
      'after',
      '\nThe graph: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE. Every query goes through the query sandbox: judged from its EXPLAIN plan (no LOAD CSV, no procedure outside the allow-list, no administration command, no write), then run read-only with a timeout and a row limit.\nExit codes: 0 answered (also when nothing matched, or cut at the row limit: said on stderr); 2 usage error, NEO4J_URI unset or unreachable, credentials refused, a refused query, a query past its timeout; 3 internal error.',
    );
  const sub = (name: string, what: string, arg?: [spec: string, desc: string], extra: (c: Command) => void = () => {}) => {
    const c = q
      .command(name)
      .description(what)
      .option('-q, --quiet', 'no progress on stderr')
      .option('--json', 'the rows as JSON')
      .option(
        '--timeout <seconds>',
        `stop the query after this long (default ${QUERY_LIMITS.timeout.defaultS}, at most ${QUERY_LIMITS.timeout.maxS}; CRATEWATCH_QUERY_TIMEOUT_S)`,
      )
      .option(
        '--max-rows <n>',
        `show at most this many rows (default ${QUERY_LIMITS.maxRows.default}, at most ${QUERY_LIMITS.maxRows.max}; CRATEWATCH_QUERY_MAX_ROWS)`,
      );
    // Optional to commander, so that question() says what is missing in its own words; the usage
    // line still shows a required one as <id>.
    if (arg) c.argument(arg[0], arg[1]).usage(`[options] ${arg[1].endsWith(', required') ? `<${arg[0].slice(1, -1)}>` : arg[0]}`);
    extra(c);
    c.action((...xs: unknown[]) => {
      const cmd = xs[xs.length - 1] as Command;
      onAsk({ kind: name, arg: cmd.args[0], opts: cmd.opts() });
    });
  };
  const team = (c: Command) => c.option('--team <team>', 'only workspaces of this team');
  sub('advisory', 'which workspaces lock an affected version, and whether each is exposed', [
    '[id]',
    'the advisory id (RUSTSEC-…), required',
  ]);
  sub('crate', 'who locks which version: its cargo-vet verdict there, the advisories on it', ['[name]', 'the crate name, required']);
  sub('workspace', "a workspace's risk, then its open findings, highest score first", ['[id]', 'the workspace id, required'], (c) =>
    c.option('--state <state>', 'open (default) or resolved').option('--severity <s>', SEVERITIES.join(', ')),
  );
  sub(
    'coverage',
    'audit coverage as the scorer computed it; with a workspace, every version not vetted',
    ['[workspace]', 'one workspace (else one line per workspace)'],
    team,
  );
  sub('findings', 'findings, highest score first', undefined, (c) =>
    team(c).option('--state <state>', 'open or resolved').option('--severity <s>', SEVERITIES.join(', ')),
  );
  sub('risk', 'workspaces ranked by risk, highest first, with the top crate-version and why', undefined, team);
  sub('cypher', 'any read-only Cypher query', ['[query]', 'the Cypher text, required'], (c) =>
    c.option('--param <name=value>', 'a query parameter (repeatable)', collect),
  );
  return q;
}

export async function run(argv: string[]): Promise<number> {
  let asked: Asked | undefined;
  parseCommand(
    command((a) => (asked = a)),
    argv,
  );
  if (!asked) throw new UsageError(`a question is needed\nusage: ${usage}`);
  const values = asked.opts;
  const params: Record<string, string> = {};
  for (const p of values.param ?? []) {
    const i = p.indexOf('=');
    if (i <= 0) throw new UsageError(`--param takes name=value, got "${p}"`);
    params[p.slice(0, i)] = p.slice(i + 1);
  }
  const { kind, arg } = asked;
  const q = question(kind, arg, {
    ...(values.state ? { state: values.state } : {}),
    ...(values.severity ? { severity: values.severity } : {}),
    ...(values.team ? { team: values.team } : {}),
    params,
  });
  const sandbox = sandboxOptions(values.timeout, values.maxRows);
  const driver = driverFromEnv();
  try {
    await driver.verifyConnectivity(); // an unreachable graph is said at once, not after the transaction's retries
    const { rows: read, truncated } = await ask(driver, { cypher: q.cypher, params: q.params }, sandbox);
    const head = q.head && !values.json ? (await ask(driver, q.head, sandbox)).rows[0] : undefined;
    const rows = q.rows ? q.rows(read) : read;
    if (values.json) process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
    else
      process.stdout.write([...(head ? [q.head!.line(head)] : []), rows.length ? rows.map(q.line).join('\n') : q.empty].join('\n') + '\n');
    // Truncation is said on stderr, so --json stays a plain array; the exit code stays 0.
    if (truncated)
      process.stderr.write(
        `cratewatch query: truncated: showing the first ${sandbox.limits.maxRows} rows, the query has more (--max-rows N or CRATEWATCH_QUERY_MAX_ROWS raises the limit, at most ${QUERY_LIMITS.maxRows.max})\n`,
      );
    return 0;
  } catch (err) {
    const problem = graphProblem(err as { code?: string; message: string });
    if (problem) throw problem;
    throw err;
  } finally {
    await driver.close();
  }
}

function sandboxOptions(timeout: string | undefined, maxRows: string | undefined): SandboxOptions {
  try {
    const limits = queryLimits(process.env, {
      ...(timeout !== undefined ? { timeout } : {}),
      ...(maxRows !== undefined ? { maxRows } : {}),
    });
    return { limits, ...(process.env.NEO4J_DATABASE ? { database: process.env.NEO4J_DATABASE } : {}) };
  } catch (err) {
    if (err instanceof QueryLimitError) throw new UsageError(err.message);
    throw err;
  }
}

/** One query through the sandbox; its refusals and the server's client errors as one-line usage errors (exit 2). */
async function ask(driver: Driver, q: { cypher: string; params: Record<string, unknown> }, o: SandboxOptions) {
  try {
    return await runSandboxed(driver, q, o);
  } catch (err) {
    if (err instanceof QueryRefusedError) throw new UsageError(err.message);
    if (err instanceof QueryTimeoutError)
      throw new UsageError(
        `${err.message} (--timeout SECONDS or CRATEWATCH_QUERY_TIMEOUT_S raises it, at most ${QUERY_LIMITS.timeout.maxS})`,
      );
    const e = err as { code?: string; message: string };
    if (e.code?.startsWith('Neo.ClientError')) throw new UsageError(e.message.split('\n')[0]!);
    throw err;
  }
}
