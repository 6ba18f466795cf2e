/**
 * Starts the console: the graph driver, the sandbox limits, the tokens, the saved queries, the
 * history, and the server on its listen address. What main.ts and the tests call.
 */
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Driver } from 'neo4j-driver';
import { queryLimits } from '@cratewatch/sandbox';
import { accessTokensFromEnv, listenOn, logger, type Listen, type Logger } from '@cratewatch/runtime';
import { ConsoleAuth, CONSOLE_TOKENS_ENV, CONSOLE_TOKENS_FILE_ENV } from './auth.js';
import { ConsoleHistory } from './history.js';
import { Reader } from './reader.js';
import { loadSavedQueries } from './saved.js';
import { consoleServer } from './server.js';

export const SERVICE = 'console';
export const DEFAULT_LISTEN = '127.0.0.1:8424';
/** This package's folder (dist/ is one below it). */
export const PACKAGE_DIR = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const DEFAULT_QUERIES_FILE = join(PACKAGE_DIR, 'queries.toml');
export const DEFAULT_WEB_ROOT = join(PACKAGE_DIR, 'web-dist');

export interface ConsoleOptions {
  driver: Driver;
  listen: Listen;
  env?: NodeJS.ProcessEnv;
  database?: string;
  queriesFile?: string;
  webRoot?: string;
  /** Where the history is kept; undefined: in memory. */
  historyFile?: string;
  secureCookie?: boolean;
  log?: Logger;
}

export interface ConsoleHandle {
  url: string;
  close: () => Promise<void>;
}

export async function startConsole(o: ConsoleOptions): Promise<ConsoleHandle> {
  const env = o.env ?? process.env;
  const log = o.log ?? logger(SERVICE);
  const access = accessTokensFromEnv({ env: CONSOLE_TOKENS_ENV, fileEnv: CONSOLE_TOKENS_FILE_ENV }, env);
  if ('missing' in access) log.warn('the console has no tokens: every API request gets 401', { hint: access.missing });
  const reader = new Reader(o.driver, { limits: queryLimits(env, {}), ...(o.database ? { database: o.database } : {}) });
  const server = consoleServer({
    reader,
    history: new ConsoleHistory(o.historyFile),
    queries: loadSavedQueries(o.queriesFile ?? DEFAULT_QUERIES_FILE),
    auth: new ConsoleAuth(access, o.secureCookie ?? false),
    webRoot: o.webRoot ?? DEFAULT_WEB_ROOT,
    log,
  });
  const { url, close } = await listenOn(server, o.listen);
  log.info('console listening', { url });
  return { url, close };
}
