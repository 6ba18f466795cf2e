/**
 * Access tokens and their scope (issue 12, "authentication and tenancy"): who may read which
 * findings. One rule for every reader — the risk feed today, the console and its API later.
 *
 * A token is scoped to an org and optionally to teams of it; it sees a workspace's findings when the
 * workspace is of that org and, for a team token, of one of its teams (a workspace without a team is
 * seen by org tokens only). Tokens are kept as their SHA-256 only, and compared in constant time.
 *
 * The list (CRATEWATCH_FEED_TOKENS, or the file CRATEWATCH_FEED_TOKENS_FILE) is JSON, an array of
 *   {"name": "payments-feed", "org": "acme", "teams": ["payments"], "sha256": "<64 hex digits>"}
 * `name` identifies the token in logs (never the token). The file holds only `sha256` (hashed at
 * rest: `printf %s "$TOKEN" | sha256sum`); the variable may instead give `"token": "<16+ chars>"`.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { FormatError } from './errors.js';

export interface AccessScope {
  org: string;
  /** Absent: the whole org. */
  teams?: string[];
}

export interface AccessToken {
  name: string;
  scope: AccessScope;
  /** SHA-256 of the token; the token itself is never kept. */
  sha256: Buffer;
}

export const ACCESS_TOKEN_MIN = 16;

export const hashToken = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

const nonEmpty = z.string().trim().min(1);
const EntrySchema = z
  .object({
    name: nonEmpty,
    org: nonEmpty,
    teams: z.array(nonEmpty).min(1, 'teams, when given, names at least one team').optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'sha256 must be 64 hex digits (printf %s "$TOKEN" | sha256sum)')
      .optional(),
    token: z.string().min(ACCESS_TOKEN_MIN, `token must have at least ${ACCESS_TOKEN_MIN} characters`).optional(),
  })
  .strict();

/**
 * Reads a token list. `source` names it in errors (a file or a variable); `plainAllowed`: whether an
 * entry may give the token itself (the environment) rather than its SHA-256 (a file: hashed at rest).
 * Throws a FormatError naming the entry and field; names and tokens must be unique.
 */
export function parseAccessTokens(text: string, source: string, o: { plainAllowed: boolean }): AccessToken[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FormatError(source, `not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(raw)) throw new FormatError(source, 'must be a JSON array of {name, org, teams?, sha256} entries');
  const tokens = raw.map((entry, i) => tokenOf(entry, `[${i}]`, source, o.plainAllowed));
  const seen = new Map<string, string>();
  tokens.forEach((t, i) => {
    const hex = t.sha256.toString('hex');
    if (tokens.findIndex((u) => u.name === t.name) !== i)
      throw new FormatError(source, `name "${t.name}" is used twice`, { field: `[${i}].name` });
    if (seen.has(hex)) throw new FormatError(source, `the same token as "${seen.get(hex)}"`, { field: `[${i}]` });
    seen.set(hex, t.name);
  });
  return tokens;
}

function tokenOf(entry: unknown, at: string, source: string, plainAllowed: boolean): AccessToken {
  const r = EntrySchema.safeParse(entry);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const field = `${at}${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`;
    throw new FormatError(source, issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.join(', ')}` : issue.message, {
      field,
    });
  }
  const e = r.data;
  if (e.token !== undefined && !plainAllowed)
    throw new FormatError(source, 'holds a token itself: store its SHA-256 instead ("sha256": printf %s "$TOKEN" | sha256sum)', {
      field: `${at}.token`,
    });
  if ((e.token === undefined) === (e.sha256 === undefined))
    throw new FormatError(source, plainAllowed ? 'give exactly one of sha256 and token' : 'sha256 is required', { field: at });
  return {
    name: e.name,
    scope: { org: e.org, ...(e.teams ? { teams: e.teams } : {}) },
    sha256: e.token !== undefined ? hashToken(e.token) : Buffer.from(e.sha256!, 'hex'),
  };
}

/** The token of an `Authorization: Bearer <token>` header, if that is what it is. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header ?? '');
  return m ? m[1] : undefined;
}

/**
 * The token `presented` is, or undefined. Every known token is compared, each in constant time
 * over equal-length hashes, so the time taken says nothing about which one nearly matched.
 */
export function findAccessToken(tokens: readonly AccessToken[], presented: string | undefined): AccessToken | undefined {
  const h = hashToken(presented ?? '');
  let found: AccessToken | undefined;
  for (const t of tokens) if (timingSafeEqual(t.sha256, h) && presented !== undefined) found = t;
  return found;
}

/** Whether a token of `scope` may see a workspace's findings. */
export function inScope(scope: AccessScope, workspace: { org: string; team?: string }): boolean {
  if (workspace.org !== scope.org) return false;
  return !scope.teams || (workspace.team !== undefined && scope.teams.includes(workspace.team));
}
