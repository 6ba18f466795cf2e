/**
 * The stdout destination (a `print` route, and `terminal` when no webhook is configured): the
 * readable text block of one finding state, or of a burst (slack.ts renders both).
 */
import { plainTextAlert, plainTextDigest } from './slack.js';
import type { Delivery } from './send.js';

export function stdoutText(what: Delivery): string {
  return (
    ('finding' in what
      ? plainTextAlert(what.finding, what.escalatedFrom ? { escalatedFrom: what.escalatedFrom } : {})
      : plainTextDigest(what.digest)) + '\n'
  );
}
