/**
 * A run directory's logs.jsonl as a dashboard source, followed as it grows (polled every
 * `intervalMs`). Every run in a directory appends to the same log and starts with a `run-start`
 * event; the source keeps the events from the last one on, so the page shows the latest run. A
 * line that is not JSON (a run killed mid-write) is skipped and counted.
 */
import { closeSync, existsSync, fstatSync, openSync, readSync, constants } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { DashboardSource } from './dashboard_server.js';
import { keptEvents } from './kept_events.js';

export const RUN_LOG = 'logs.jsonl';

export class RunLogSource implements DashboardSource {
  readonly name: string;
  readonly directory: string;
  /** Lines that were not JSON objects. */
  skipped = 0;
  private events: object[] = [];
  private readonly listeners = new Set<(event: object) => void>();
  private offset = 0;
  /** Logs written before labelling was thinned hold an event per text; the page needs 1 in 100. */
  private kept = keptEvents();
  private partial = '';
  private readonly timer: NodeJS.Timeout;

  constructor(directory: string, options: { name?: string; intervalMs?: number } = {}) {
    this.directory = resolve(directory);
    this.name = options.name ?? basename(this.directory);
    this.poll();
    this.timer = setInterval(() => this.poll(), options.intervalMs ?? 500);
  }

  history(): readonly object[] {
    return this.events;
  }

  subscribe(listener: (event: object) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    clearInterval(this.timer);
  }

  /** Reads what was appended since the last poll; a log that shrank was replaced, and is read again. */
  private poll(): void {
    const path = join(this.directory, RUN_LOG);
    if (!existsSync(path)) return;
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return;
    }
    try {
      const size = fstatSync(fd).size;
      if (size < this.offset) {
        this.offset = 0;
        this.partial = '';
        this.accept({ type: 'run-start' });
      }
      if (size === this.offset) return;
      const bytes = Buffer.alloc(size - this.offset);
      const read = readSync(fd, bytes, 0, bytes.length, this.offset);
      this.offset += read;
      const lines = (this.partial + bytes.subarray(0, read).toString('utf8')).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        try {
          const event = JSON.parse(line) as unknown;
          if (event !== null && typeof event === 'object' && !Array.isArray(event)) this.accept(event);
          else this.skipped++;
        } catch {
          this.skipped++;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  private accept(event: object): void {
    if (!this.kept(event as Parameters<typeof this.kept>[0])) return;
    if ((event as { type?: unknown }).type === 'run-start') {
      this.events = [];
      this.kept = keptEvents();
    }
    this.events.push(event);
    for (const listener of this.listeners) listener(event);
  }
}
