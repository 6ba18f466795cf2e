/**
 * Sending: one finding state, or a digest of several, to one route's destination — printed
 * (to-stdout.ts), posted to Slack (to-slack.ts) or to a signed webhook (to-webhook.ts) with
 * deliver.ts's retries — counted in the metrics by how it settled. What was delivered is recorded
 * by the caller (route-delivery.ts), not here.
 */
import type { FindingEvent, Severity } from '@cratewatch/shared';
import type { Logger } from '@cratewatch/runtime';
import { postJson, type DeliverOptions } from './deliver.js';
import type { NotifierMetrics } from './metrics.js';
import type { Route } from './routes.js';
import { slackBody } from './to-slack.js';
import { stdoutText } from './to-stdout.js';
import { webhookBody } from './to-webhook.js';

/** What is sent: one finding state (maybe an escalation), or a burst as one digest. */
export type Delivery = { finding: FindingEvent; escalatedFrom?: Severity | undefined } | { digest: FindingEvent[] };

export type Channel = 'slack' | 'webhook' | 'stdout';

/** Sends `what` to `route`; resolves to the attempts it took, rejects with a DeliveryError when it gave up. */
export type Send = (route: Route, what: Delivery, logAt: Record<string, unknown>) => Promise<number>;

/** The destination a route sends to: no webhook URL prints. */
export function channelOf(route: Pick<Route, 'webhookUrl' | 'type'>): Channel {
  return !route.webhookUrl ? 'stdout' : route.type === 'webhook' ? 'webhook' : 'slack';
}

export interface SenderOptions {
  /** Where printed alerts go. */
  out: (text: string) => void;
  /** Retry policy of webhook posts. */
  delivery?: Omit<DeliverOptions, 'signal' | 'onRetry'> | undefined;
  /** Aborts a post in flight (stopping). */
  signal: AbortSignal;
  metrics: Pick<NotifierMetrics, 'delivery' | 'status'>;
  log: Logger;
}

export function sender(o: SenderOptions): Send {
  const post = async (route: Route, what: Delivery, logAt: Record<string, unknown>): Promise<number> => {
    if (channelOf(route) === 'stdout') {
      o.out(stdoutText(what));
      return 1;
    }
    const signed = channelOf(route) === 'webhook';
    const signer = signed ? route.signer : undefined;
    const res = await postJson(route.webhookUrl!, signed ? webhookBody(what) : slackBody(what), {
      ...o.delivery,
      signal: o.signal,
      ...(signer ? { headers: (raw: string) => signer.headers(raw) } : {}),
      onStatus: (status) => o.metrics.status(route.name, status),
      onRetry: ({ attempt, waitMs, reason }) =>
        o.log.warn('webhook delivery failed; retrying', { ...logAt, route: route.name, attempt, waitMs, reason }),
    });
    return res.attempts;
  };
  return (route, what, logAt) => o.metrics.delivery(route.name, 'digest' in what ? 'digest' : 'single', post(route, what, logAt));
}
