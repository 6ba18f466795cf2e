/**
 * The signed generic webhook destination: the finding's JSON as the scorer wrote it (so an
 * escalation carries its new severity, and nothing else needs explaining), or `{digest: true,
 * findings}` for a burst. The route's `WebhookSigner` signs the exact body (signing.ts).
 */
import type { Delivery } from './send.js';

export function webhookBody(what: Delivery): unknown {
  return 'finding' in what ? what.finding : { digest: true, findings: what.digest };
}
