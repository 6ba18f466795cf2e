/**
 * The server side of the query sandbox's defence in depth (infra/README.md, "hardened against
 * analysts' Cypher"): on the Neo4j that infra/local (or the test containers, as docker-compose.yml)
 * start, LOAD CSV reads no file and reaches no address, imports are confined, and transactions have
 * a ceiling — proven through a plain session, with no sandbox in front.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import neo4j, { type Driver } from 'neo4j-driver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { infraSource, neo4jAuth, neo4jUri } from './helpers.js';

// Servers named by NEO4J_URI are someone else's: their settings are not ours to prove.
const ours = /local|docker/.test(infraSource());

describe.skipIf(!ours)('Neo4j started by infra/local refuses what the sandbox refuses (plain session)', () => {
  let driver: Driver;
  let loopback: Server;
  let requests = 0;
  beforeAll(async () => {
    driver = neo4j.driver(neo4jUri(), neo4jAuth(), { disableLosslessIntegers: true });
    loopback = createServer((_req, res) => {
      requests++;
      res.end('secret,data\n');
    });
    await new Promise<void>((resolve) => loopback.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    await driver?.close();
    await new Promise((resolve) => loopback?.close(resolve));
  });

  const plain = (cypher: string) => driver.executeQuery(cypher, {}, { routing: neo4j.routing.READ });

  it("LOAD CSV FROM 'file:///etc/passwd' fails because file URLs are off", async () => {
    await expect(plain("LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line")).rejects.toThrow(
      /dbms\.security\.allow_csv_import_from_file_urls/,
    );
  });

  it('LOAD CSV FROM an http:// URL on loopback fails and the server is never asked', async () => {
    const { port } = loopback.address() as AddressInfo;
    await expect(plain(`LOAD CSV FROM 'http://127.0.0.1:${port}/x.csv' AS line RETURN line`)).rejects.toThrow(/blocked/);
    expect(requests).toBe(0);
  });

  it('reports the settings: file URLs off, an import folder of its own, a transaction ceiling', async () => {
    const { records } = await plain(
      "SHOW SETTINGS YIELD name, value WHERE name IN ['dbms.security.allow_csv_import_from_file_urls', 'server.directories.import', 'db.transaction.timeout'] RETURN name, value",
    );
    const s = Object.fromEntries(records.map((r) => [r.get('name') as string, r.get('value') as string]));
    expect(s['dbms.security.allow_csv_import_from_file_urls']).toBe('false');
    expect(s['server.directories.import']).toMatch(/import-empty$|\/var\/lib\/neo4j\/import$/);
    expect(s['db.transaction.timeout']).toBe('5m');
  });
});
