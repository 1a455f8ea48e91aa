import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { Hono } from 'hono';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/**
 * Serve the built dashboard (`npm run build` bundles it into dist/dashboard): `/` is its
 * index.html and `/assets/<name>` its files. The few files are read once into memory; only names
 * found in the folder are served, so no request path reaches the file system.
 */
export function dashboardRoutes(app: Hono, dir: string): void {
  const index = join(dir, 'index.html');
  if (!existsSync(index)) return;
  const html = bytesOf(index);
  const assets = new Map<string, Uint8Array<ArrayBuffer>>();
  const assetDir = join(dir, 'assets');
  if (existsSync(assetDir))
    for (const name of readdirSync(assetDir)) assets.set(name, bytesOf(join(assetDir, name)));
  app.get('/', (c) => c.body(html, 200, { 'content-type': TYPES['.html']!, 'cache-control': 'no-cache' }));
  app.get('/assets/:name', (c) => {
    const name = c.req.param('name');
    const body = assets.get(name);
    if (!body) return c.json({ error: 'not_found', message: `no asset ${name}` }, 404);
    return c.body(body, 200, {
      'content-type': TYPES[extname(name)] ?? 'application/octet-stream',
      'cache-control': 'no-cache',
    });
  });
}

/** A file's bytes in an ArrayBuffer of their own (what Hono's body types ask for). */
function bytesOf(path: string): Uint8Array<ArrayBuffer> {
  const data = readFileSync(path);
  const bytes = new Uint8Array(new ArrayBuffer(data.length));
  bytes.set(data);
  return bytes;
}
