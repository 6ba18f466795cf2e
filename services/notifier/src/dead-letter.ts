/**
 * Dead-lettering what some route could not have: the finding's DLQ record carries the
 * `undeliverable` mark naming those routes, which is what the re-drive (redrive.ts) retries.
 */
import type { Producer } from 'kafkajs';
import { dlqTopic } from '@cratewatch/shared';
import { undeliverableDlqValue, type DlqSource } from './redrive.js';

export async function deadLetterUndeliverable(
  producer: Producer,
  source: DlqSource,
  reason: string,
  failedRoutes: string[],
): Promise<void> {
  const mark = { routes: [...new Set(failedRoutes)], attempts: 0, firstAt: new Date().toISOString() };
  await producer.send({
    topic: dlqTopic(source.topic),
    acks: -1,
    messages: [{ key: source.key, value: undeliverableDlqValue(source, reason, mark) }],
  });
}
