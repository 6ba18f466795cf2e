import neo4j, { type Driver } from 'neo4j-driver';

/** The Neo4j driver from NEO4J_URI, with NEO4J_USER / NEO4J_PASSWORD when the server has auth. */
export function neo4jFromEnv(): Driver {
  const uri = process.env.NEO4J_URI;
  if (!uri) throw new Error('NEO4J_URI is not set (e.g. NEO4J_URI=bolt://127.0.0.1:17687; `infra/local/start` prints it)');
  const password = process.env.NEO4J_PASSWORD;
  const auth = password ? neo4j.auth.basic(process.env.NEO4J_USER ?? 'neo4j', password) : undefined;
  return neo4j.driver(uri, auth, { disableLosslessIntegers: true });
}

export const neo4jDatabase = (): string | undefined => process.env.NEO4J_DATABASE || undefined;
