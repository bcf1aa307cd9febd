/**
 * The live dashboard: an HTTP server on 127.0.0.1 (another interface only when asked) that shows
 * one or more runs as they train. It has no endpoint that writes: GET / is the page, GET /vega.js
 * Vega's browser build (from node_modules, so the page needs no network), GET /events the runs'
 * events as server-sent events (the history first, then each new one), GET /report/N run N's
 * report.html once it exists. Anything else is 404, and any method but GET and HEAD is 405.
 *
 * A run's events come from a DashboardSource: `kdkit run --dashboard` pushes the run's own events;
 * `kdkit dashboard RUN_DIR…` follows each directory's logs.jsonl as it grows.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { dashboardPage } from './dashboard_page.js';

/** One run's events, as logs.jsonl records them (each with its `time`). */
export interface DashboardSource {
  /** The run's name in the page: its directory's name. */
  name: string;
  /** The run directory, where report.html appears when the run ends. */
  directory: string;
  /** Every event so far, in order. */
  history(): readonly object[];
  /** Calls `listener` with each new event; returns the function that stops it. */
  subscribe(listener: (event: object) => void): () => void;
  close?(): void;
}

/** A source fed by the process itself (kdkit run --dashboard). */
export class LiveSource implements DashboardSource {
  private readonly events: object[] = [];
  private readonly listeners = new Set<(event: object) => void>();
  constructor(
    readonly name: string,
    readonly directory: string,
  ) {}

  push(event: object): void {
    const stamped = { time: new Date().toISOString(), ...event };
    this.events.push(stamped);
    for (const listener of this.listeners) listener(stamped);
  }

  history(): readonly object[] {
    return this.events;
  }

  subscribe(listener: (event: object) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export interface Dashboard {
  url: string;
  close(): Promise<void>;
}

const vegaBuild = (() => {
  let cached: Buffer | null = null;
  return () => {
    cached ??= readFileSync(join(createRequire(import.meta.url).resolve('vega'), '..', '..', 'build', 'vega.min.js'));
    return cached;
  };
})();

/** Serves `sources` on host:port (port 0: any free port); resolves once it listens. */
export async function startDashboard(sources: readonly DashboardSource[], options: { host: string; port: number }): Promise<Dashboard> {
  const page = dashboardPage(sources.map((source) => source.name));
  const streams = new Set<ServerResponse>();
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('the dashboard only shows runs\n');
      return;
    }
    const path = new URL(request.url ?? '/', 'http://dashboard').pathname;
    if (path === '/') return send(response, 'text/html; charset=utf-8', page);
    if (path === '/vega.js') return send(response, 'text/javascript', vegaBuild());
    if (path === '/events') return stream(response);
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    const report = /^\/report\/(\d+)$/.exec(path);
    if (report) {
      const source = sources[Number(report[1])];
      const file = source && join(source.directory, 'report.html');
      if (file && existsSync(file)) return send(response, 'text/html; charset=utf-8', readFileSync(file));
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });

  function send(response: ServerResponse, type: string, body: string | Buffer): void {
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    response.end(body);
  }

  /** The events of every run, history first, each as `{run: index, event}`. */
  function stream(response: ServerResponse): void {
    response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
    streams.add(response);
    const write = (run: number, event: object) => response.write(`data: ${JSON.stringify({ run, event })}\n\n`);
    const stops = sources.map((source, run) => {
      for (const event of source.history()) write(run, event);
      return source.subscribe((event) => write(run, event));
    });
    response.on('close', () => {
      for (const stop of stops) stop();
      streams.delete(response);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const shownHost = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${shownHost}:${port}/`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const response of streams) response.end();
        for (const source of sources) source.close?.();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
