/**
 * How the console reads the graph: every query through the query sandbox (`@cratewatch/sandbox`:
 * EXPLAIN-plan policy, READ transaction, timeout, row limit), with the caller's scope always passed
 * as `$org` / `$teams`, so no page can forget it. Pages build their Cypher with `scoped()`.
 */
import type { Driver } from 'neo4j-driver';
import { runSandboxed, type SandboxOptions } from '@cratewatch/sandbox';
import { NODE_PROPS, type AccessScope } from '@cratewatch/shared';

const W = NODE_PROPS.Workspace;

/** Rows of one query, and whether the row limit cut them. */
export interface Read {
  rows: Record<string, unknown>[];
  truncated: boolean;
}

export class Reader {
  constructor(
    private readonly driver: Driver,
    private readonly sandbox: SandboxOptions,
  ) {}

  /** Runs `cypher` for `scope` (`$org`, `$teams` bound from it; `params` beside them). */
  async read(scope: AccessScope, cypher: string, params: Record<string, unknown> = {}): Promise<Read> {
    return runSandboxed(this.driver, { cypher, params: { ...params, ...scopeParams(scope) } }, this.sandbox);
  }

  async rows(scope: AccessScope, cypher: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>[]> {
    return (await this.read(scope, cypher, params)).rows;
  }
}

export const scopeParams = (scope: AccessScope): { org: string; teams: string[] | null } => ({
  org: scope.org,
  teams: scope.teams ?? null,
});

/**
 * The Cypher condition that a Workspace bound to `w` is in the caller's scope (shared `inScope`:
 * the org, and for a team token one of its teams; a workspace without a team only for org tokens).
 */
export const inScopeWhere = (w: string): string => `${w}.${W.org} = $org AND ($teams IS NULL OR ${w}.${W.team} IN $teams)`;
