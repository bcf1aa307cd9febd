/**
 * Pages for the browser tests: a static server on 127.0.0.1 over a directory, and Debian's
 * Chromium through playwright-core, with WebGL (SwiftShader, on the CPU) switched on.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, resolve, sep } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/** What the servers here answer each file type as. */
export const contentTypes: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
};

/** Serves `mounts` (URL prefix → directory) on 127.0.0.1; resolves to the origin and the server. */
export async function serveDirectories(mounts: Record<string, string>): Promise<{ origin: string; server: Server }> {
  const server = createServer((request, response) => {
    const pathname = decodeURIComponent(new URL(request.url ?? '/', 'http://x').pathname);
    const prefix = Object.keys(mounts)
      .filter((mount) => pathname.startsWith(mount))
      .sort((a, b) => b.length - a.length)[0];
    const root = prefix === undefined ? undefined : resolve(mounts[prefix]);
    const named = root === undefined ? '' : resolve(join(root, pathname.slice(prefix!.length)));
    const path = existsSync(named) && statSync(named).isDirectory() ? join(named, 'index.html') : named;
    if (root === undefined || !(path === root || path.startsWith(root + sep)) || !existsSync(path) || !statSync(path).isFile()) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': contentTypes[extname(path)] ?? 'application/octet-stream' });
    response.end(readFileSync(path));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** Headless Chromium with WebGL on SwiftShader and WebGPU where this Chromium offers it. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu'],
  });
}
