/**
 * The Slack destination: what a Slack incoming webhook is posted — the Block Kit message of one
 * finding state (slack.ts renders it), or the digest of a burst.
 */
import { slackDigest, slackMessage } from './slack.js';
import type { Delivery } from './send.js';

export function slackBody(what: Delivery): unknown {
  return 'finding' in what
    ? slackMessage(what.finding, what.escalatedFrom ? { escalatedFrom: what.escalatedFrom } : {})
    : slackDigest(what.digest);
}
