import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import { renderMarkdown } from './markdown.js';
import type { Summary } from './summary.js';

/** Writes summary.json and report.md, each atomically: a failed run never leaves half a file. */
export function writeRunReports(outDir: string, summary: Summary): void {
  writeFileAtomic(join(outDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  writeFileAtomic(join(outDir, 'report.md'), renderMarkdown(summary));
}

/** Appends one JSON event per line to logs.jsonl; each line is written with a single append. */
export function jsonlLogger(outDir: string): (event: object) => void {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, 'logs.jsonl');
  return (event) => appendFileSync(path, JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
}
