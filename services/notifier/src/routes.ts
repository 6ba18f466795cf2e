/**
 * Routes: where a finding state change goes. Each route names a webhook by the environment variable
 * that holds its URL (the URL is a secret: never in the route config, never in a log or an error),
 * and optionally narrows what it receives by team, minimum severity and state.
 *
 * `NOTIFIER_ROUTES` (JSON) or `NOTIFIER_ROUTES_FILE` (a path to the same JSON): a list of
 *   { name, type?: 'slack'|'webhook', webhookEnv, secretEnv? (required for type webhook),
 *     teams?: string[], minSeverity?: 'info'|'low'|'medium'|'high'|'critical', states?: ('open'|'resolved')[] }
 * A `slack` route (the default type) posts Block Kit messages to a Slack incoming webhook; a
 * `webhook` route posts the finding's JSON itself, signed with the secret its `secretEnv` names
 * (signing.ts).
 * A `print` route (no webhookEnv) prints each alert to the terminal (stdout).
 * Without either, `SLACK_WEBHOOK_URL` alone is the single default route; when it is unset too, the
 * route `terminal` prints. Printing is a route of its own, with its own delivery records: what was
 * printed was not delivered to Slack (catchup.ts gives a route added later what is open).
 */
import { readFileSync } from 'node:fs';
import { SEVERITY_ORDER, type FindingEvent, type Severity } from '@cratewatch/shared';
import { envSecret, envString, type Env } from '@cratewatch/runtime';
import { MIN_SECRET_LENGTH, WebhookSigner } from './signing.js';

export type FindingState = FindingEvent['state'];
export type RouteType = 'slack' | 'webhook' | 'print';

/** A route as configured (no secret in it). */
export interface RouteConfig {
  name: string;
  /** Absent: 'slack'. */
  type?: RouteType;
  /** Required, except for type 'print'. */
  webhookEnv?: string;
  /** The variable holding the signing secret (type 'webhook' only, and required there). */
  secretEnv?: string;
  teams?: string[];
  minSeverity?: Severity;
  states?: FindingState[];
}

/** A route ready to deliver: its webhook URL resolved (undefined: printed to stdout, as type 'print'). */
export interface Route {
  name: string;
  /** Absent: 'slack' (Block Kit). 'webhook': the finding's JSON, signed by `signer`. 'print': stdout. */
  type?: RouteType;
  webhookUrl?: string;
  /** Signs a 'webhook' route's bodies (holds the secret; required for that type). */
  signer?: WebhookSigner;
  teams?: string[];
  minSeverity?: Severity;
  states?: FindingState[];
}

/** The name of the route made of SLACK_WEBHOOK_URL alone; its delivery keys are plain finding ids. */
export const DEFAULT_ROUTE = 'default';
/**
 * The printing route used when no webhook is configured at all. Not `default`: printing must not
 * count as delivered to the Slack route configured later (it gets what is open then, catchup.ts).
 */
export const TERMINAL_ROUTE = 'terminal';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const STATES: FindingState[] = ['open', 'resolved'];

export class RouteConfigError extends Error {
  override name = 'RouteConfigError';
}

function stringList(v: unknown, what: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string' && x.length > 0)) {
    throw new RouteConfigError(`${what} must be a non-empty list of non-empty strings`);
  }
  return v as string[];
}

/** Validates the route list (the JSON of NOTIFIER_ROUTES, parsed). Throws RouteConfigError naming the route and field. */
export function parseRoutes(raw: unknown): RouteConfig[] {
  if (!Array.isArray(raw) || raw.length === 0) throw new RouteConfigError('routes must be a non-empty JSON list');
  const seen = new Set<string>();
  return raw.map((r: unknown, i) => {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new RouteConfigError(`route #${i + 1} must be an object`);
    const o = r as Record<string, unknown>;
    const name = o.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      throw new RouteConfigError(`route #${i + 1}: name must be 1-64 characters of letters, digits, '.', '_' or '-'`);
    }
    const where = `route "${name}"`;
    if (seen.has(name)) throw new RouteConfigError(`${where} is defined twice`);
    seen.add(name);
    for (const k of Object.keys(o)) {
      if (!['name', 'type', 'webhookEnv', 'secretEnv', 'teams', 'minSeverity', 'states'].includes(k))
        throw new RouteConfigError(`${where}: unknown field "${k}"`);
    }
    if (o.type !== undefined && o.type !== 'slack' && o.type !== 'webhook' && o.type !== 'print')
      throw new RouteConfigError(`${where}: type must be "slack", "webhook" or "print"`);
    const filters = (route: RouteConfig): RouteConfig => {
      if (o.teams !== undefined) route.teams = stringList(o.teams, `${where}: teams`);
      if (o.minSeverity !== undefined) {
        if (!SEVERITY_ORDER.includes(o.minSeverity as Severity)) {
          throw new RouteConfigError(`${where}: minSeverity must be one of ${SEVERITY_ORDER.join(', ')}`);
        }
        route.minSeverity = o.minSeverity as Severity;
      }
      if (o.states !== undefined) {
        const states = stringList(o.states, `${where}: states`);
        if (!states.every((s) => STATES.includes(s as FindingState)))
          throw new RouteConfigError(`${where}: states may hold only 'open' and 'resolved'`);
        route.states = [...new Set(states)] as FindingState[];
      }
      return route;
    };
    if (o.type === 'print') {
      // Printing has no destination to name, and nothing secret.
      if (o.webhookEnv !== undefined || o.secretEnv !== undefined)
        throw new RouteConfigError(`${where}: a print route takes no webhookEnv or secretEnv`);
      return filters({ name, type: 'print' });
    }
    if (typeof o.webhookEnv !== 'string' || !ENV_NAME.test(o.webhookEnv)) {
      throw new RouteConfigError(`${where}: webhookEnv must name an environment variable (the URL itself never goes in the config)`);
    }
    const route: RouteConfig = { name, webhookEnv: o.webhookEnv };
    if (o.type === 'webhook') {
      if (typeof o.secretEnv !== 'string' || !ENV_NAME.test(o.secretEnv)) {
        throw new RouteConfigError(
          `${where}: a webhook route needs secretEnv, naming the environment variable that holds its signing secret`,
        );
      }
      route.type = 'webhook';
      route.secretEnv = o.secretEnv;
    } else if (o.secretEnv !== undefined) {
      throw new RouteConfigError(`${where}: secretEnv is for routes of type "webhook" (Slack incoming webhooks are not signed)`);
    }
    return filters(route);
  });
}

function checkUrl(route: string, env: string, url: string): void {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch {
    /* below */
  }
  if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:')) {
    throw new RouteConfigError(`route "${route}": ${env} is not an http(s) URL`);
  }
}

/**
 * Resolves each route's webhook URL (and a webhook route's signing secret) from the environment; a
 * missing variable names the route and the variable, never a value.
 */
export function resolveRoutes(configs: RouteConfig[], env: Env = process.env): Route[] {
  return configs.map((c) => {
    if (c.type === 'print') return { ...c };
    const webhookEnv = c.webhookEnv!;
    const url = envString(env, webhookEnv);
    if (!url) throw new RouteConfigError(`route "${c.name}": environment variable ${webhookEnv} is not set`);
    checkUrl(c.name, webhookEnv, url);
    const { webhookEnv: _e, secretEnv, ...rest } = c;
    if (c.type !== 'webhook') return { ...rest, webhookUrl: url };
    const secret = envSecret(env, secretEnv!)?.reveal();
    if (!secret)
      throw new RouteConfigError(`route "${c.name}": environment variable ${secretEnv} is not set (the webhook's signing secret)`);
    if (secret.length < MIN_SECRET_LENGTH) {
      throw new RouteConfigError(`route "${c.name}": environment variable ${secretEnv} must hold at least ${MIN_SECRET_LENGTH} characters`);
    }
    return { ...rest, webhookUrl: url, signer: new WebhookSigner(secret) };
  });
}

/**
 * The routes of the environment: NOTIFIER_ROUTES (JSON) or NOTIFIER_ROUTES_FILE (path), resolved;
 * undefined when neither is set (then SLACK_WEBHOOK_URL alone is the default route).
 */
export function routesFromEnv(env: Env = process.env): Route[] | undefined {
  const inline = envString(env, 'NOTIFIER_ROUTES');
  const file = envString(env, 'NOTIFIER_ROUTES_FILE');
  if (inline && file) throw new RouteConfigError('set NOTIFIER_ROUTES or NOTIFIER_ROUTES_FILE, not both');
  if (!inline && !file) return undefined;
  let text: string;
  const source = inline ? 'NOTIFIER_ROUTES' : `NOTIFIER_ROUTES_FILE (${file})`;
  if (inline) text = inline;
  else {
    try {
      text = readFileSync(file!, 'utf8');
    } catch (err) {
      throw new RouteConfigError(`cannot read NOTIFIER_ROUTES_FILE ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RouteConfigError(`${source} is not valid JSON`);
  }
  return resolveRoutes(parseRoutes(json), env);
}

const rank = (s: Severity) => SEVERITY_ORDER.indexOf(s);

/** Whether a finding state change goes to this route. A route with teams never matches a finding without a team. */
export function routeMatches(route: Pick<Route, 'teams' | 'minSeverity' | 'states'>, f: FindingEvent): boolean {
  if (route.teams && !(f.workspace.team !== undefined && route.teams.includes(f.workspace.team))) return false;
  if (route.minSeverity && rank(f.severity) < rank(route.minSeverity)) return false;
  if (route.states && !route.states.includes(f.state)) return false;
  return true;
}

/** What a route last had of a finding: its delivery record, or the state decided earlier in the same window. */
export interface LastDelivered {
  state: FindingState;
  observedAt?: string | undefined;
  severity?: Severity | undefined;
}

export type Owed =
  | { owed: true; /** An open finding the route had at this lower severity: sent again, as an escalation. */ escalatedFrom?: Severity }
  | { owed: false; why: 'no route match' | 'already delivered' | 'older than the state already delivered' };

/** An ISO time in ms since the epoch; NaN when absent (a comparison with NaN is false: never "older"). */
export const timeOf = (iso: string | undefined): number => (iso === undefined ? NaN : Date.parse(iso));

/**
 * Whether a route is owed this finding state, given what it last had of the finding. The rule the
 * main consumer and the re-drive both follow:
 *   - the route must match the finding (routeMatches) — except that a route that was told a finding
 *     is open is told when it resolves, whatever its severity now (the scorer re-scores open
 *     findings: one delivered as high to a `minSeverity: high` route may resolve as medium, and the
 *     route would otherwise be left with an open finding forever);
 *   - a state the route already had is not sent again — except an open finding whose severity rose
 *     above the one the route had it at: an escalation, said once per rise. A lower severity or a
 *     new score within the same severity is not news enough for a message (the feed shows it);
 *   - a state older (observedAt) than what the route had is a replay: not sent.
 */
export function owedTo(route: Pick<Route, 'teams' | 'minSeverity' | 'states'>, f: FindingEvent, last: LastDelivered | undefined): Owed {
  const { minSeverity: _ignored, ...unbanded } = route;
  const matches = routeMatches(route, f) || (f.state === 'resolved' && last?.state === 'open' && routeMatches(unbanded, f));
  if (!matches) return { owed: false, why: 'no route match' };
  if (last && last.state === f.state) {
    const rose = f.state === 'open' && last.severity !== undefined && rank(f.severity) > rank(last.severity);
    if (!rose) return { owed: false, why: 'already delivered' };
  }
  if (last && timeOf(f.observedAt) < timeOf(last.observedAt)) return { owed: false, why: 'older than the state already delivered' };
  return last && last.state === f.state ? { owed: true, escalatedFrom: last.severity! } : { owed: true };
}

/**
 * The delivery-log key of (route, finding): the plain finding id for the default route (so a log
 * written before routes existed stays valid), `route:<name>|<finding id>` for a named route.
 */
export function deliveryKey(route: string, findingId: string): string {
  return route === DEFAULT_ROUTE ? findingId : `route:${route}|${findingId}`;
}

const ADDED_PREFIX = 'route-added:';
const NAMED_KEY = /^route:([A-Za-z0-9][A-Za-z0-9._-]{0,63})\|(.+)$/s;

/** The (route, finding) of a delivery-log key (deliveryKey's inverse); undefined for a route's added record. */
export function parseDeliveryKey(key: string): { route: string; findingId: string } | undefined {
  if (key.startsWith(ADDED_PREFIX)) return undefined;
  const m = NAMED_KEY.exec(key);
  return m ? { route: m[1]!, findingId: m[2]! } : { route: DEFAULT_ROUTE, findingId: key };
}

/**
 * The delivery-log key saying a route exists (catchup.ts): `route-added:<name>`, or
 * `route-added:<name>|<scope>` for a notifier that handles only some findings (NOTIFIER_KEY_PREFIX):
 * a route is new to each scope on its own, since each scope's notifier owes it that scope's open
 * findings. A finding id never starts so (it starts with a workspace id, then `|`).
 */
export function routeAddedKey(route: string, scope?: string): string {
  return `${ADDED_PREFIX}${route}${scope ? `|${scope}` : ''}`;
}

export const isRouteAddedKey = (key: string): boolean => key.startsWith(ADDED_PREFIX);
