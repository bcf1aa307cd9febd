// Running the built CLI in a child process, for the CLI tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function kdkit(...args: string[]): CliResult {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Exit 2, `pattern` on stderr, no stack trace, and (given `out`) no summary.json left behind. */
export function assertBadInput(result: CliResult, pattern: RegExp, out?: string): void {
  assert.equal(result.status, 2, `exit code: ${result.status}\nstderr: ${result.stderr}`);
  assert.match(result.stderr, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  if (out) assert.ok(!existsSync(join(out, 'summary.json')), 'no summary.json after a failed run');
}
