/** What the benchmarks that run the real services share: the servers, and "has this group caught up". */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** KAFKA_BROKERS / NEO4J_URI from the environment, else from `infra/local/start` (which starts them when needed). */
export function ensureInfra(root) {
  if (process.env.KAFKA_BROKERS && process.env.NEO4J_URI) return;
  const out = execFileSync(join(root, 'infra/local/start'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  for (const m of out.matchAll(/^(KAFKA_BROKERS|NEO4J_URI)=(\S+)$/gm)) process.env[m[1]] = m[2];
}

/** Whether the consumer group has committed every partition of these topics to its end. */
export async function caughtUp(admin, group, topics) {
  const committed = await admin.fetchOffsets({ groupId: group, topics });
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    for (const p of t.partitions) {
      const end = ends.find((e) => e.partition === p.partition).high;
      if (!(p.offset === end || (p.offset === '-1' && end === '0'))) return false;
    }
  }
  return true;
}

export const wait = (ms) => new Promise((r) => setTimeout(r, ms));
