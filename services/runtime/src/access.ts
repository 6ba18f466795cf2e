/**
 * Where a service's access tokens come from (the rule itself, scopes and comparison, is shared
 * `access.ts`): a variable holding the JSON list, or a file of it named by a second variable —
 * the file holds only SHA-256s (hashed at rest). Both may be set: the lists are joined. Read once,
 * at start; a malformed list stops the service with an error naming the file or variable and the
 * entry. Without either, every request is answered 401 with a hint naming them (the service runs,
 * as with CRATEWATCH_OPS_TOKEN).
 */
import { readFileSync } from 'node:fs';
import { FormatError, parseAccessTokens, type AccessToken } from '@cratewatch/shared';
import { envString } from './env-config.js';

export const FEED_TOKENS_ENV = 'CRATEWATCH_FEED_TOKENS';
export const FEED_TOKENS_FILE_ENV = 'CRATEWATCH_FEED_TOKENS_FILE';

/** The tokens, or why there are none (said in the 401 answer; never a value). */
export type AccessTokens = { tokens: AccessToken[] } | { missing: string };

export function accessTokensFromEnv(
  names: { env: string; fileEnv: string } = { env: FEED_TOKENS_ENV, fileEnv: FEED_TOKENS_FILE_ENV },
  env: NodeJS.ProcessEnv = process.env,
): AccessTokens {
  const inline = envString(env, names.env);
  const file = envString(env, names.fileEnv);
  const tokens: AccessToken[] = [];
  if (inline) tokens.push(...parseAccessTokens(inline, names.env, { plainAllowed: true }));
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new FormatError(
        file,
        `cannot read the token file named by ${names.fileEnv}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    tokens.push(...parseAccessTokens(text, file, { plainAllowed: false }));
  }
  if (!inline && !file)
    return {
      missing: `neither ${names.env} nor ${names.fileEnv} is set on the server: give each reader a token scoped to its org (and teams) and send it as "Authorization: Bearer <token>"`,
    };
  const all = tokens.map((t) => t.name);
  const twice = all.find((n, i) => all.indexOf(n) !== i);
  if (twice) throw new FormatError(`${names.env} + ${file}`, `name "${twice}" is used in both`);
  return { tokens };
}
