/**
 * The query sandbox through the console's API (issue 12 acceptance): saved queries that try each
 * refused family — LOAD CSV from a file and from an http URL on loopback, an administration
 * command, a procedure outside the allow-list — are refused with 400 and the sandbox's reason
 * (the loopback server is never asked); one past the timeout answers 504; one past the row limit
 * answers its first rows with `truncated: true`. On real Neo4j; no graph data needed.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { neo4jAuth, neo4jUri } from '../../../test/helpers.js';
import { startConsole, type ConsoleHandle } from '../src/index.js';
import { get } from './fixture.js';

const SCOPE = 'WHERE $org IS NOT NULL AND ($teams IS NULL OR size($teams) > 0)';
const query = (name: string, cypher: string) =>
  `[[query]]\nname = "${name}"\ntitle = "${name}"\ndescription = ""\ncypher = '''\n${cypher}\n'''\n`;

describe('the query sandbox through the console API', () => {
  let driver: Driver;
  let c: ConsoleHandle;
  let asked = 0;
  const loopback = createServer((_req, res) => {
    asked++;
    res.end('a,b\n1,2\n');
  });
  const token = 'sandbox-console-test-token';

  beforeAll(async () => {
    await new Promise<void>((r) => loopback.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(loopback.address() as AddressInfo).port}/x.csv`;
    const file = join(mkdtempSync(join(tmpdir(), 'console-sandbox-')), 'queries.toml');
    writeFileSync(
      file,
      [
        query('file-csv', `WITH 1 AS one ${SCOPE} LOAD CSV FROM 'file:///etc/passwd' AS row RETURN row`),
        query('http-csv', `WITH 1 AS one ${SCOPE} LOAD /* hidden */ CSV FROM '${url}' AS row RETURN row`),
        query('admin', `SHOW TRANSACTIONS YIELD transactionId ${SCOPE} RETURN transactionId`),
        query('procedure', `CALL \`dbms\`.\`listConfig\`() YIELD name ${SCOPE} RETURN name`),
        query('slow', `UNWIND range(1, 10000000000) AS x WITH x ${SCOPE} AND x % 7 = 3 RETURN count(x) AS n`),
        query('many', `UNWIND range(1, 50) AS i WITH i ${SCOPE} RETURN i`),
      ].join('\n'),
    );
    driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
    c = await startConsole({
      driver,
      listen: { host: '127.0.0.1', port: 0 },
      queriesFile: file,
      env: {
        CRATEWATCH_CONSOLE_TOKENS: JSON.stringify([{ name: 't', org: 'sandbox-org', token }]),
        CRATEWATCH_QUERY_TIMEOUT_S: '1',
        CRATEWATCH_QUERY_MAX_ROWS: '10',
      },
    });
  });
  afterAll(async () => {
    await c?.close();
    await driver?.close();
    await new Promise((r) => loopback.close(r));
  });

  it.each([
    ['file-csv', /query refused: LOAD CSV/],
    ['http-csv', /query refused: LOAD CSV/],
    ['admin', /query refused: .*(administration|SHOW)/i],
    ['procedure', /query refused: .*dbms\.listConfig/],
  ])('refuses %s with 400 and the reason', async (name, reason) => {
    const r = await get(c, `/api/queries/${name}/run`, token);
    expect(r.status, r.text).toBe(400);
    expect((r.body as { error: string }).error).toMatch(reason);
  });

  it('never reached the loopback server', () => expect(asked).toBe(0));

  it('stops a query past the timeout: 504', async () => {
    const r = await get(c, '/api/queries/slow/run', token);
    expect(r.status, r.text).toBe(504);
    expect((r.body as { error: string }).error).toBe('query stopped: it ran past its 1 s timeout');
  });

  it('cuts a result at the row limit and says so', async () => {
    const r = await get(c, '/api/queries/many/run', token);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ truncated: true, rows: Array.from({ length: 10 }, (_, i) => ({ i: i + 1 })) });
  });
});
