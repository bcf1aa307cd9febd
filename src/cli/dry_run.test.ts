// `kdkit demo --dry-run > my.yaml && kdkit run my.yaml`: the README's way to start a config of your own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kdkit } from './cli.test.util.js';

test('a dry run prints a config that `kdkit run` takes and prints again unchanged', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-dry-run-'));
  const out = join(directory, 'run');
  for (const [name, args] of [
    ['quick', ['--quick']],
    ['digits', []],
    ['fashion-mnist', ['--dataset', 'fashion-mnist', '--seed', '5']],
    ['banking77', ['--dataset', 'banking77']],
  ] as const) {
    const demo = kdkit('demo', ...args, '--dry-run', '--out', out);
    assert.equal(demo.status, 0, demo.stderr);
    const first = join(directory, `${name}.yaml`);
    writeFileSync(first, demo.stdout);
    const run = kdkit('run', first, '--dry-run', '--out', out);
    assert.equal(run.status, 0, `${name}: ${run.stderr}`);
    assert.equal(run.stdout, demo.stdout, name);
    // And once more from the run's own output: `kdkit run X.yaml --dry-run > my.yaml`.
    const second = join(directory, `${name}-again.yaml`);
    writeFileSync(second, run.stdout);
    const again = kdkit('run', second, '--dry-run', '--out', out);
    assert.equal(again.status, 0, `${name}: ${again.stderr}`);
    assert.equal(again.stdout, run.stdout, name);
  }
});
