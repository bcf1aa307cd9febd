import { closeSync, constants, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { FileWriteError, writeFileAtomic } from '../util/atomic.js';
import { renderHtml } from './html.js';
import { renderMarkdown } from './markdown.js';
import type { Summary } from './summary.js';

/**
 * Writes summary.json, report.md and report.html, each atomically: a failed run never leaves half a
 * file. The charts render asynchronously, so the two plain files are written first and survive a
 * rendering failure.
 */
export async function writeRunReports(outDir: string, summary: Summary): Promise<void> {
  writeFileAtomic(join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileAtomic(join(outDir, 'report.md'), renderMarkdown(summary));
  writeFileAtomic(join(outDir, 'report.html'), await renderHtml(summary));
}

/** Appends one JSON event per line to logs.jsonl; each line is written with a single append. */
export function jsonlLogger(outDir: string): (event: object) => void {
  const path = join(outDir, 'logs.jsonl');
  let created = false;
  return (event) => {
    // Created on the first event, so input rejected before the run starts leaves no directory.
    try {
      if (!created) mkdirSync(outDir, { recursive: true });
      created = true;
      // Never through a link planted at the log's name.
      const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_NOFOLLOW, 0o644);
      try {
        writeSync(fd, `${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
      } finally {
        closeSync(fd);
      }
    } catch (error) {
      throw new FileWriteError(path, error);
    }
  };
}
