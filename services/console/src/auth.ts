/**
 * Who is asking the console: a bearer token (`Authorization: Bearer <token>`), or the session
 * cookie the login form sets. Tokens are shared `access.ts` tokens (hashed at rest, compared in
 * constant time, scoped to an org and optionally teams) from CRATEWATCH_CONSOLE_TOKENS /
 * CRATEWATCH_CONSOLE_TOKENS_FILE, the feed's format.
 *
 * The login form posts a token; a valid one gets a random session id in an HttpOnly,
 * SameSite=Strict cookie (Secure when the console is told it is behind HTTPS), kept in memory for
 * SESSION_HOURS and forgotten on logout or restart. The cookie never holds the token, so a leaked
 * cookie dies with its session and the token itself is not in the browser.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, findAccessToken, type AccessScope, type AccessToken } from '@cratewatch/shared';
import type { AccessTokens } from '@cratewatch/runtime';

export const CONSOLE_TOKENS_ENV = 'CRATEWATCH_CONSOLE_TOKENS';
export const CONSOLE_TOKENS_FILE_ENV = 'CRATEWATCH_CONSOLE_TOKENS_FILE';
export const SESSION_COOKIE = 'cw_session';
const SESSION_HOURS = 8;
const MAX_SESSIONS = 10_000;

export interface Caller {
  name: string;
  scope: AccessScope;
}

export type Authorized = Caller | { status: 401; error: string };

interface Session {
  token: AccessToken;
  expires: number;
}

export class ConsoleAuth {
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly access: AccessTokens,
    private readonly secureCookie = false,
  ) {}

  /** The caller of a request, or why it is refused. */
  authorize(req: IncomingMessage, now = Date.now()): Authorized {
    if ('missing' in this.access) return { status: 401, error: this.access.missing };
    const bearer = bearerToken(req.headers.authorization);
    if (bearer !== undefined) {
      const t = findAccessToken(this.access.tokens, bearer);
      return t ? { name: t.name, scope: t.scope } : { status: 401, error: 'the bearer token is not a console token' };
    }
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    const s = sid ? this.sessions.get(sid) : undefined;
    if (s && s.expires > now) return { name: s.token.name, scope: s.token.scope };
    if (s) this.sessions.delete(sid!);
    return { status: 401, error: 'sign in: send "Authorization: Bearer <token>" or log in at /login' };
  }

  /** A session for a token given at the login form, with its Set-Cookie header; undefined for a wrong token. */
  login(presented: string, now = Date.now()): { caller: Caller; cookie: string } | undefined {
    if ('missing' in this.access) return undefined;
    const t = findAccessToken(this.access.tokens, presented);
    if (!t) return undefined;
    if (this.sessions.size >= MAX_SESSIONS) this.expire(now);
    const sid = randomBytes(32).toString('base64url');
    this.sessions.set(sid, { token: t, expires: now + SESSION_HOURS * 3_600_000 });
    return { caller: { name: t.name, scope: t.scope }, cookie: this.cookie(sid, SESSION_HOURS * 3600) };
  }

  /** Ends the request's session; the Set-Cookie header that clears it. */
  logout(req: IncomingMessage): string {
    const sid = cookieValue(req.headers.cookie, SESSION_COOKIE);
    if (sid) this.sessions.delete(sid);
    return this.cookie('', 0);
  }

  private cookie(value: string, maxAge: number): string {
    return `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${this.secureCookie ? '; Secure' : ''}`;
  }

  private expire(now: number): void {
    for (const [k, s] of this.sessions) if (s.expires <= now) this.sessions.delete(k);
    // Still full: the oldest go (a Map iterates in insertion order).
    for (const k of this.sessions.keys()) {
      if (this.sessions.size < MAX_SESSIONS) break;
      this.sessions.delete(k);
    }
  }
}

/** One cookie's value from a Cookie header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
