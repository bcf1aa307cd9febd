/**
 * `kdkit dashboard RUN_DIR…` (runs side by side, followed from their logs.jsonl) and what
 * `kdkit run --dashboard` shares with it: the options, starting the server with clear errors, and
 * serving until Ctrl-C.
 */
import { existsSync, statSync } from 'node:fs';
import { InputError } from '../errors.js';
import { RunLogSource } from './dashboard_log.js';
import { type Dashboard, type DashboardSource, startDashboard } from './dashboard_server.js';

export const DEFAULT_DASHBOARD_PORT = 6060;

export interface DashboardOptions {
  port: number;
  host: string;
}

/** A --port value: an integer in [0, 65535] (0: any free port). */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65535)
    throw new InputError(`--port: expected a port number 0-65535 (0: any free port), got '${value}'`);
  return port;
}

/** Starts the dashboard, turning a port in use or an address not on this machine into exit 2. */
export async function openDashboard(sources: readonly DashboardSource[], options: DashboardOptions): Promise<Dashboard> {
  try {
    return await startDashboard(sources, options);
  } catch (error) {
    for (const source of sources) source.close?.();
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE')
      throw new InputError(`--port: ${options.port} is in use on ${options.host}; give another port (--port 0 takes any free one)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN')
      throw new InputError(`--host: ${options.host} is not an address of this machine`);
    throw error;
  }
}

/** Resolves on SIGINT or SIGTERM, after closing the dashboard. */
export function serveUntilStopped(dashboard: Dashboard): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void dashboard.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

export async function dashboardCommand(
  directories: readonly string[],
  options: DashboardOptions,
  write: (text: string) => void,
): Promise<void> {
  for (const directory of directories) {
    if (!existsSync(directory) || !statSync(directory).isDirectory())
      throw new InputError(`${directory}: not a run directory (no such directory); give the --out of a run`);
  }
  // Runs in directories of the same name are told apart by their paths.
  const names = directories.map((directory) => directory.replace(/\/+$/, ''));
  const sources = directories.map((directory, i) => new RunLogSource(directory, { name: names[i] }));
  const dashboard = await openDashboard(sources, options);
  write(`dashboard: ${dashboard.url} (${sources.length} run${sources.length === 1 ? '' : 's'}; Ctrl-C to stop)\n`);
  await serveUntilStopped(dashboard);
}
