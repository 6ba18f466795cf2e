/**
 * One-line JSON logs on stderr. Secrets come from the environment; every value that came from an
 * environment variable named like a secret is masked wherever it appears in a log line, so a token
 * echoed back in an upstream error can never reach the log.
 */
import { envString } from './env-config.js';

const SECRET_NAME = /(TOKEN|SECRET|PASSWORD|WEBHOOK|KEY|AUTH)/i;

function secretValues(): string[] {
  return Object.entries(process.env)
    .filter(([k, v]) => SECRET_NAME.test(k) && typeof v === 'string' && v.length >= 6)
    .map(([, v]) => v as string);
}

export function redact(text: string): string {
  let out = text;
  for (const s of secretValues()) out = out.split(s).join('[redacted]');
  return out;
}

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Level[] = ['debug', 'info', 'warn', 'error'];

export function logger(service: string) {
  // Lenient on purpose: the logger is how a bad setting gets reported, so it must not be what fails.
  const named = ORDER.indexOf(envString(process.env, 'LOG_LEVEL') as Level);
  const min = named < 0 ? ORDER.indexOf('info') : named;
  const write = (level: Level, msg: string, fields: Record<string, unknown> = {}) => {
    if (ORDER.indexOf(level) < min) return;
    const line = JSON.stringify({ t: new Date().toISOString(), level, service, msg, ...fields }, (_k, v) =>
      v instanceof Error ? { name: v.name, message: v.message } : v,
    );
    process.stderr.write(redact(line) + '\n');
  };
  return {
    debug: (m: string, f?: Record<string, unknown>) => write('debug', m, f),
    info: (m: string, f?: Record<string, unknown>) => write('info', m, f),
    warn: (m: string, f?: Record<string, unknown>) => write('warn', m, f),
    error: (m: string, f?: Record<string, unknown>) => write('error', m, f),
  };
}
export type Logger = ReturnType<typeof logger>;
