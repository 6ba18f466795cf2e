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
 * Without either, `SLACK_WEBHOOK_URL` alone is the single default route (or stdout when unset).
 */
import { readFileSync } from 'node:fs';
import { SEVERITY_ORDER, type FindingEvent, type Severity } from '@cratewatch/shared';
import { MIN_SECRET_LENGTH, WebhookSigner } from './signing.js';

export type FindingState = FindingEvent['state'];
export type RouteType = 'slack' | 'webhook';

/** A route as configured (no secret in it). */
export interface RouteConfig {
  name: string;
  /** Absent: 'slack'. */
  type?: RouteType;
  webhookEnv: string;
  /** The variable holding the signing secret (type 'webhook' only, and required there). */
  secretEnv?: string;
  teams?: string[];
  minSeverity?: Severity;
  states?: FindingState[];
}

/** A route ready to deliver: its webhook URL resolved (undefined: printed to stdout). */
export interface Route {
  name: string;
  /** Absent: 'slack' (Block Kit). 'webhook': the finding's JSON, signed by `signer`. */
  type?: RouteType;
  webhookUrl?: string;
  /** Signs a 'webhook' route's bodies (holds the secret; required for that type). */
  signer?: WebhookSigner;
  teams?: string[];
  minSeverity?: Severity;
  states?: FindingState[];
}

/** The name of the route made of SLACK_WEBHOOK_URL alone (or stdout); its delivery keys are plain finding ids. */
export const DEFAULT_ROUTE = 'default';

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
      if (!['name', 'type', 'webhookEnv', 'secretEnv', 'teams', 'minSeverity', 'states'].includes(k)) throw new RouteConfigError(`${where}: unknown field "${k}"`);
    }
    if (o.type !== undefined && o.type !== 'slack' && o.type !== 'webhook') throw new RouteConfigError(`${where}: type must be "slack" or "webhook"`);
    if (typeof o.webhookEnv !== 'string' || !ENV_NAME.test(o.webhookEnv)) {
      throw new RouteConfigError(`${where}: webhookEnv must name an environment variable (the URL itself never goes in the config)`);
    }
    const route: RouteConfig = { name, webhookEnv: o.webhookEnv };
    if (o.type === 'webhook') {
      if (typeof o.secretEnv !== 'string' || !ENV_NAME.test(o.secretEnv)) {
        throw new RouteConfigError(`${where}: a webhook route needs secretEnv, naming the environment variable that holds its signing secret`);
      }
      route.type = 'webhook';
      route.secretEnv = o.secretEnv;
    } else if (o.secretEnv !== undefined) {
      throw new RouteConfigError(`${where}: secretEnv is for routes of type "webhook" (Slack incoming webhooks are not signed)`);
    }
    if (o.teams !== undefined) route.teams = stringList(o.teams, `${where}: teams`);
    if (o.minSeverity !== undefined) {
      if (!SEVERITY_ORDER.includes(o.minSeverity as Severity)) {
        throw new RouteConfigError(`${where}: minSeverity must be one of ${SEVERITY_ORDER.join(', ')}`);
      }
      route.minSeverity = o.minSeverity as Severity;
    }
    if (o.states !== undefined) {
      const states = stringList(o.states, `${where}: states`);
      if (!states.every((s) => STATES.includes(s as FindingState))) throw new RouteConfigError(`${where}: states may hold only 'open' and 'resolved'`);
      route.states = [...new Set(states)] as FindingState[];
    }
    return route;
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
export function resolveRoutes(configs: RouteConfig[], env: NodeJS.ProcessEnv = process.env): Route[] {
  return configs.map((c) => {
    const url = env[c.webhookEnv]?.trim();
    if (!url) throw new RouteConfigError(`route "${c.name}": environment variable ${c.webhookEnv} is not set`);
    checkUrl(c.name, c.webhookEnv, url);
    const { webhookEnv: _e, secretEnv, ...rest } = c;
    if (c.type !== 'webhook') return { ...rest, webhookUrl: url };
    const secret = env[secretEnv!];
    if (!secret) throw new RouteConfigError(`route "${c.name}": environment variable ${secretEnv} is not set (the webhook's signing secret)`);
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
export function routesFromEnv(env: NodeJS.ProcessEnv = process.env): Route[] | undefined {
  const inline = env.NOTIFIER_ROUTES?.trim();
  const file = env.NOTIFIER_ROUTES_FILE?.trim();
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

/**
 * The delivery-log key of (route, finding): the plain finding id for the default route (so a log
 * written before routes existed stays valid), `route:<name>|<finding id>` for a named route.
 */
export function deliveryKey(route: string, findingId: string): string {
  return route === DEFAULT_ROUTE ? findingId : `route:${route}|${findingId}`;
}
