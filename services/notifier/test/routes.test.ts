import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { FindingEvent } from '@cratewatch/shared';
import { inspect } from 'node:util';
import {
  DEFAULT_ROUTE,
  RouteConfigError,
  deliveryKey,
  owedTo,
  parseDeliveryKey,
  parseRoutes,
  resolveRoutes,
  routeAddedKey,
  routeMatches,
  routesFromEnv,
} from '../src/routes.js';
import { catchUpPlan } from '../src/catchup.js';
import type { DeliveryRecord } from '../src/deliveries.js';
import { WebhookSigner } from '../src/signing.js';

const f = (team: string | undefined, severity: FindingEvent['severity'], state: FindingEvent['state'] = 'open'): FindingEvent => ({
  v: 1,
  id: `ws|c|1.0.0|unvetted`,
  kind: 'unvetted',
  state,
  severity,
  score: 5,
  workspace: { id: 'ws', org: 'acme', ...(team ? { team } : {}) },
  crate: 'c',
  version: '1.0.0',
  why: [],
  observedAt: '2025-01-01T00:00:00.000Z',
});

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('routes', () => {
  it('parses and validates a route list, naming the route and field at fault', () => {
    expect(
      parseRoutes([
        { name: 'team-a', webhookEnv: 'HOOK_A', teams: ['a'], minSeverity: 'high', states: ['open'] },
        { name: 'crit', webhookEnv: 'HOOK_CRIT', minSeverity: 'critical' },
      ]),
    ).toEqual([
      { name: 'team-a', webhookEnv: 'HOOK_A', teams: ['a'], minSeverity: 'high', states: ['open'] },
      { name: 'crit', webhookEnv: 'HOOK_CRIT', minSeverity: 'critical' },
    ]);
    expect(thrown(() => parseRoutes([])).message).toMatch(/non-empty/);
    expect(
      thrown(() =>
        parseRoutes([
          { name: 'x', webhookEnv: 'A' },
          { name: 'x', webhookEnv: 'B' },
        ]),
      ).message,
    ).toBe('route "x" is defined twice');
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'A', minSeverity: 'urgent' }])).message).toMatch(
      /^route "x": minSeverity must be one of info, low/,
    );
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'A', states: ['closed'] }])).message).toMatch(/^route "x": states/);
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'A', teams: [] }])).message).toMatch(/^route "x": teams/);
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'https://hooks.example/secret' }])).message).toMatch(
      /^route "x": webhookEnv must name an environment variable/,
    );
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'A', webhookUrl: 'https://h/s' }])).message).toBe(
      'route "x": unknown field "webhookUrl"',
    );
    expect(thrown(() => parseRoutes([{ name: 'bad name', webhookEnv: 'A' }])).message).toMatch(/^route #1: name/);
  });

  it('resolves URLs from the environment; a missing variable names the route and the variable, never a value', () => {
    const configs = parseRoutes([
      { name: 'a', webhookEnv: 'HOOK_A' },
      { name: 'b', webhookEnv: 'HOOK_B' },
    ]);
    const env = { HOOK_A: 'https://hooks.example/services/T/B/topsecret' };
    const err = thrown(() => resolveRoutes(configs, env));
    expect(err).toBeInstanceOf(RouteConfigError);
    expect(err.message).toBe('route "b": environment variable HOOK_B is not set');
    expect(resolveRoutes(configs, { ...env, HOOK_B: 'http://127.0.0.1:9/x' })).toEqual([
      { name: 'a', webhookUrl: env.HOOK_A },
      { name: 'b', webhookUrl: 'http://127.0.0.1:9/x' },
    ]);
    const bad = thrown(() => resolveRoutes(configs, { ...env, HOOK_B: 'ftp://topsecret' }));
    expect(bad.message).toBe('route "b": HOOK_B is not an http(s) URL');
    expect(bad.message).not.toContain('topsecret');
  });

  it('reads NOTIFIER_ROUTES or NOTIFIER_ROUTES_FILE; neither means the default route', () => {
    expect(routesFromEnv({})).toBeUndefined();
    const json = JSON.stringify([{ name: 'a', webhookEnv: 'HOOK_A', teams: ['payments'] }]);
    const env = { HOOK_A: 'https://h.example/x' };
    expect(routesFromEnv({ ...env, NOTIFIER_ROUTES: json })).toEqual([
      { name: 'a', webhookUrl: 'https://h.example/x', teams: ['payments'] },
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'routes-'));
    writeFileSync(join(dir, 'routes.json'), json);
    expect(routesFromEnv({ ...env, NOTIFIER_ROUTES_FILE: join(dir, 'routes.json') })).toEqual([
      { name: 'a', webhookUrl: 'https://h.example/x', teams: ['payments'] },
    ]);
    expect(thrown(() => routesFromEnv({ NOTIFIER_ROUTES: '[{' })).message).toBe('NOTIFIER_ROUTES is not valid JSON');
    expect(thrown(() => routesFromEnv({ NOTIFIER_ROUTES: json })).message).toBe('route "a": environment variable HOOK_A is not set');
    expect(thrown(() => routesFromEnv({ NOTIFIER_ROUTES_FILE: join(dir, 'missing.json') })).message).toMatch(
      /cannot read NOTIFIER_ROUTES_FILE .*ENOENT/,
    );
  });

  it('webhook routes: type and secretEnv validated; the secret resolved from the environment, never shown', () => {
    expect(
      parseRoutes([
        { name: 'siem', type: 'webhook', webhookEnv: 'SIEM_URL', secretEnv: 'SIEM_SECRET', minSeverity: 'high' },
        { name: 's', type: 'slack', webhookEnv: 'S' },
      ]),
    ).toEqual([
      { name: 'siem', type: 'webhook', webhookEnv: 'SIEM_URL', secretEnv: 'SIEM_SECRET', minSeverity: 'high' },
      { name: 's', webhookEnv: 'S' },
    ]);
    expect(thrown(() => parseRoutes([{ name: 'x', type: 'email', webhookEnv: 'A' }])).message).toBe(
      'route "x": type must be "slack", "webhook" or "print"',
    );
    expect(thrown(() => parseRoutes([{ name: 'x', type: 'webhook', webhookEnv: 'A' }])).message).toBe(
      'route "x": a webhook route needs secretEnv, naming the environment variable that holds its signing secret',
    );
    expect(thrown(() => parseRoutes([{ name: 'x', type: 'webhook', webhookEnv: 'A', secretEnv: 'not a name' }])).message).toMatch(
      /^route "x": a webhook route needs secretEnv/,
    );
    expect(thrown(() => parseRoutes([{ name: 'x', webhookEnv: 'A', secretEnv: 'B' }])).message).toBe(
      'route "x": secretEnv is for routes of type "webhook" (Slack incoming webhooks are not signed)',
    );

    const configs = parseRoutes([{ name: 'siem', type: 'webhook', webhookEnv: 'SIEM_URL', secretEnv: 'SIEM_SIGNING' }]);
    const secret = 'topsecret-signing-key-42';
    const missing = thrown(() => resolveRoutes(configs, { SIEM_URL: 'https://siem.example/in' }));
    expect(missing).toBeInstanceOf(RouteConfigError);
    expect(missing.message).toBe('route "siem": environment variable SIEM_SIGNING is not set (the webhook\'s signing secret)');
    const short = thrown(() => resolveRoutes(configs, { SIEM_URL: 'https://siem.example/in', SIEM_SIGNING: 'short-secret' }));
    expect(short.message).toBe('route "siem": environment variable SIEM_SIGNING must hold at least 16 characters');
    expect(short.message).not.toContain('short-secret');
    const [route] = resolveRoutes(configs, { SIEM_URL: 'https://siem.example/in', SIEM_SIGNING: secret });
    expect(route).toMatchObject({ name: 'siem', type: 'webhook', webhookUrl: 'https://siem.example/in' });
    expect(route!.signer).toBeInstanceOf(WebhookSigner);
    // The secret is nowhere to be found on the route: not in JSON, not among its keys, not in inspect().
    expect(JSON.stringify(route)).not.toContain(secret);
    expect(inspect(route, { depth: 10, showHidden: true })).not.toContain(secret);
  });

  it('matches by team, minimum severity and state', () => {
    const teamA = { teams: ['a'], minSeverity: 'high' as const };
    expect(routeMatches(teamA, f('a', 'high'))).toBe(true);
    expect(routeMatches(teamA, f('a', 'critical'))).toBe(true);
    expect(routeMatches(teamA, f('a', 'medium'))).toBe(false);
    expect(routeMatches(teamA, f('b', 'critical'))).toBe(false);
    expect(routeMatches(teamA, f(undefined, 'critical'))).toBe(false);
    expect(routeMatches({ minSeverity: 'critical' }, f(undefined, 'critical'))).toBe(true);
    expect(routeMatches({}, f(undefined, 'info'))).toBe(true);
    expect(routeMatches({ states: ['open'] }, f('a', 'high', 'resolved'))).toBe(false);
    expect(routeMatches({ states: ['resolved'] }, f('a', 'high', 'resolved'))).toBe(true);
  });

  it('keys the delivery log per (route, finding); the default route keeps plain finding ids', () => {
    expect(deliveryKey(DEFAULT_ROUTE, 'ws|c|1.0.0|unvetted')).toBe('ws|c|1.0.0|unvetted');
    expect(deliveryKey('team-a', 'ws|c|1.0.0|unvetted')).toBe('route:team-a|ws|c|1.0.0|unvetted');
    expect(parseDeliveryKey('ws|c|1.0.0|unvetted')).toEqual({ route: DEFAULT_ROUTE, findingId: 'ws|c|1.0.0|unvetted' });
    expect(parseDeliveryKey('route:team-a|ws|c|1.0.0|unvetted')).toEqual({ route: 'team-a', findingId: 'ws|c|1.0.0|unvetted' });
    // A route's added record is per scope, and is no finding's key.
    expect(routeAddedKey('team-a')).toBe('route-added:team-a');
    expect(routeAddedKey('team-a', 'ws|')).toBe('route-added:team-a|ws|');
    expect(parseDeliveryKey(routeAddedKey('team-a', 'ws|'))).toBeUndefined();
  });

  it('print routes: no webhook, no secret, filters as any route', () => {
    const [p] = parseRoutes([{ name: 'console', type: 'print', minSeverity: 'high' }]);
    expect(p).toEqual({ name: 'console', type: 'print', minSeverity: 'high' });
    expect(resolveRoutes([p!], {})).toEqual([{ name: 'console', type: 'print', minSeverity: 'high' }]);
    expect(thrown(() => parseRoutes([{ name: 'x', type: 'print', webhookEnv: 'A' }])).message).toBe(
      'route "x": a print route takes no webhookEnv or secretEnv',
    );
  });

  it('catchUpPlan: a new route is sent the open findings it matches and has not had; the resolved ones get a baseline, matching or not', () => {
    const open = { ...f('a', 'high'), id: 'ws|a|1|advisory:A' };
    const low = { ...f('a', 'low'), id: 'ws|b|1|advisory:B' };
    const had = { ...f('a', 'critical'), id: 'ws|c|1|advisory:C' };
    const gone = { ...f('a', 'low', 'resolved'), id: 'ws|d|1|advisory:D' };
    const goneHad = { ...f('a', 'high', 'resolved'), id: 'ws|e|1|advisory:E' };
    const recs = new Map<string, DeliveryRecord>([
      [
        deliveryKey('r', had.id),
        { v: 1, state: 'open', at: '2025-01-01T00:00:00.000Z', observedAt: had.observedAt, severity: 'critical', catchUp: 'sent' },
      ],
      [
        deliveryKey('r', goneHad.id),
        { v: 1, state: 'resolved', at: '2025-01-01T00:00:00.000Z', observedAt: goneHad.observedAt, catchUp: 'baseline' },
      ],
    ]);
    const plan = catchUpPlan({ name: 'r', minSeverity: 'high' }, [open, low, had, gone, goneHad], (k) => recs.get(k));
    expect(plan.due.map((x) => x.id)).toEqual([open.id]);
    expect(plan.baseline.map((x) => x.id)).toEqual([gone.id]);
  });

  it('owedTo: a new state is owed to a matching route once; a rise in severity is an escalation; a resolution follows the open below the band', () => {
    const at = (iso: string) => ({ observedAt: iso });
    const later = (x: FindingEvent, iso = '2025-01-02T00:00:00.000Z'): FindingEvent => ({ ...x, observedAt: iso });
    const high = { minSeverity: 'high' as const };
    // Nothing delivered yet: owed when the route matches.
    expect(owedTo(high, f(undefined, 'high'), undefined)).toEqual({ owed: true });
    expect(owedTo(high, f(undefined, 'medium'), undefined)).toEqual({ owed: false, why: 'no route match' });
    // The same state again: not owed, whatever the score; a lower severity is not news either.
    expect(owedTo({}, later(f(undefined, 'high')), { state: 'open', severity: 'high', ...at('2025-01-01T00:00:00.000Z') })).toEqual({
      owed: false,
      why: 'already delivered',
    });
    expect(owedTo({}, later(f(undefined, 'medium')), { state: 'open', severity: 'high', ...at('2025-01-01T00:00:00.000Z') })).toEqual({
      owed: false,
      why: 'already delivered',
    });
    // Open again at a higher severity: an escalation, from the severity the route had it at.
    expect(owedTo({}, later(f(undefined, 'critical')), { state: 'open', severity: 'medium', ...at('2025-01-01T00:00:00.000Z') })).toEqual({
      owed: true,
      escalatedFrom: 'medium',
    });
    // ... but not a replay of an older state, and not when the record predates severities.
    expect(owedTo({}, f(undefined, 'critical'), { state: 'open', severity: 'medium', ...at('2025-01-03T00:00:00.000Z') })).toEqual({
      owed: false,
      why: 'older than the state already delivered',
    });
    expect(owedTo({}, later(f(undefined, 'critical')), { state: 'open', ...at('2025-01-01T00:00:00.000Z') })).toEqual({
      owed: false,
      why: 'already delivered',
    });
    // A finding that rose into the band is simply new to that route.
    expect(owedTo(high, later(f(undefined, 'critical')), undefined)).toEqual({ owed: true });
    // Resolved below the band: owed to the route that had it open, not to one that never had it.
    const resolvedLow = later(f(undefined, 'low', 'resolved'));
    expect(owedTo(high, resolvedLow, { state: 'open', severity: 'high', ...at('2025-01-01T00:00:00.000Z') })).toEqual({ owed: true });
    expect(owedTo(high, resolvedLow, undefined)).toEqual({ owed: false, why: 'no route match' });
    // The route's team and state filters still hold.
    expect(owedTo({ ...high, states: ['open'] }, resolvedLow, { state: 'open', severity: 'high' })).toEqual({
      owed: false,
      why: 'no route match',
    });
    expect(owedTo({ ...high, teams: ['a'] }, resolvedLow, { state: 'open', severity: 'high' })).toEqual({
      owed: false,
      why: 'no route match',
    });
  });
});
