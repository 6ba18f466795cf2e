/**
 * The web UI's files (the Vite build in `web-dist/`), served as they are: a path under it with its
 * content type, anything else the app's `index.html` (the app routes in the browser). Static files
 * hold no data, so they need no token; the app asks the API, which does.
 */
import { readFile } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { ServerResponse } from 'node:http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

export const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export async function serveStatic(root: string, path: string, res: ServerResponse): Promise<void> {
  const rel = normalize(decodeURIComponent(path)).replace(/^([/\\])+/, '');
  const file = join(root, rel);
  const inside = file.startsWith(root + sep) && rel.startsWith('assets' + sep);
  try {
    const body = await readFile(inside ? file : join(root, 'index.html'));
    const type = inside ? (TYPES[extname(file)] ?? 'application/octet-stream') : TYPES['.html']!;
    // Built assets have content hashes in their names: cached for good; index.html never.
    const cache = inside ? 'public, max-age=31536000, immutable' : 'no-cache';
    res.writeHead(200, { 'content-type': type, 'cache-control': cache, ...SECURITY_HEADERS });
    res.end(body);
  } catch {
    res.writeHead(inside ? 404 : 503, { 'content-type': 'text/plain; charset=utf-8', ...SECURITY_HEADERS });
    res.end(inside ? 'not found\n' : 'no web UI is built into this console yet (web-dist/ is missing): the JSON API is under /api/\n');
  }
}
