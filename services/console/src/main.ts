#!/usr/bin/env node
/**
 * cratewatch-console: `node services/console/dist/main.js`
 *
 * Env: NEO4J_URI (required; NEO4J_USER / NEO4J_PASSWORD / NEO4J_DATABASE), CONSOLE_LISTEN (default
 * 127.0.0.1:8424), CRATEWATCH_CONSOLE_TOKENS or CRATEWATCH_CONSOLE_TOKENS_FILE (who may read: the
 * feed's token format, shared access.ts), CONSOLE_QUERIES_FILE (default: queries.toml of this
 * package), CONSOLE_SECURE_COOKIE (true behind HTTPS: the session cookie gets Secure),
 * CRATEWATCH_STATE_DIR (console-history.json: coverage over time, time-to-resolve),
 * CRATEWATCH_QUERY_TIMEOUT_S / CRATEWATCH_QUERY_MAX_ROWS (the sandbox's limits), LOG_LEVEL.
 */
import { join } from 'node:path';
import { logger, neo4jDatabase, neo4jFromEnv, onShutdown, parseListen, stateDir } from '@cratewatch/runtime';
import { DEFAULT_LISTEN, SERVICE, startConsole } from './console.js';

const log = logger(SERVICE);
try {
  const listen = parseListen('CONSOLE_LISTEN', process.env.CONSOLE_LISTEN, DEFAULT_LISTEN);
  if (!listen) throw new Error('CONSOLE_LISTEN=off: the console has nothing else to do');
  const driver = neo4jFromEnv();
  const database = neo4jDatabase();
  const handle = await startConsole({
    driver,
    listen,
    ...(database ? { database } : {}),
    ...(process.env.CONSOLE_QUERIES_FILE ? { queriesFile: process.env.CONSOLE_QUERIES_FILE } : {}),
    historyFile: join(stateDir(), 'console-history.json'),
    secureCookie: process.env.CONSOLE_SECURE_COOKIE === 'true',
    log,
  });
  onShutdown(log, async () => {
    await handle.close();
    await driver.close();
  });
} catch (err) {
  log.error('console failed to start', { error: err });
  process.exit(1);
}
