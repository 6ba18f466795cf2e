import neo4j, { type Driver } from 'neo4j-driver';
import { envRequired, envSecret, envString, type Env } from './env-config.js';

/** The Neo4j driver from NEO4J_URI, with NEO4J_USER / NEO4J_PASSWORD when the server has auth. */
export function neo4jFromEnv(env: Env = process.env): Driver {
  const uri = envRequired(env, 'NEO4J_URI', 'e.g. NEO4J_URI=bolt://127.0.0.1:17687; `infra/local/start` prints it');
  const password = envSecret(env, 'NEO4J_PASSWORD');
  const auth = password ? neo4j.auth.basic(envString(env, 'NEO4J_USER') ?? 'neo4j', password.reveal()) : undefined;
  return neo4j.driver(uri, auth, { disableLosslessIntegers: true });
}

export const neo4jDatabase = (env: Env = process.env): string | undefined => envString(env, 'NEO4J_DATABASE');
