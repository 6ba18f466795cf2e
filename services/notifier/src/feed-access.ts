/**
 * Who may read the risk feed: a bearer token from CRATEWATCH_FEED_TOKENS / _FILE (runtime
 * `accessTokensFromEnv`), each scoped to an org and optionally teams (shared `access.ts`: the
 * rule the console will share). The feed then shows only that scope's findings.
 */
import type { IncomingMessage } from 'node:http';
import { bearerToken, findAccessToken, type AccessScope } from '@cratewatch/shared';
import type { AccessTokens } from '@cratewatch/runtime';

export type FeedAuth = { scope: AccessScope; name: string } | { status: 401; body: { error: string; hint?: string } };

/** The scope of the request's token, or the 401 to answer (with a hint only when the server has no tokens). */
export function authorizeFeed(req: IncomingMessage, access: AccessTokens): FeedAuth {
  if ('missing' in access) return { status: 401, body: { error: 'unauthorized', hint: access.missing } };
  const token = findAccessToken(access.tokens, bearerToken(req.headers.authorization));
  if (!token) return { status: 401, body: { error: 'unauthorized', hint: 'send "Authorization: Bearer <token>" with a feed token' } };
  return { scope: token.scope, name: token.name };
}
