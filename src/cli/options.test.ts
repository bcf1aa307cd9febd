// Flags that do not fit together, or fall outside what the config would take, exit 2 before anything runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const out = () => join(mkdtempSync(join(tmpdir(), 'kdkit-options-')), 'run');

test('--quick is a digits run: asked for on fashion-mnist it exits 2 rather than run digits', () => {
  const run = out();
  assertBadInput(
    kdkit('demo', '--quick', '--dataset', 'fashion-mnist', '--data', '/nonexistent', '--out', run),
    /--quick runs on digits only/,
    run,
  );
  assertBadInput(kdkit('demo', '--quick', '--dataset', 'fashion-mnist', '--dry-run'), /--quick runs on digits only/);
});

test('--data with the digits dataset, given or by default, exits 2 saying it applies to fashion-mnist', () => {
  const run = out();
  for (const args of [
    ['demo', '--data', '/nonexistent'],
    ['demo', '--dataset', 'digits', '--data', '/tmp'],
    ['demo', '--quick', '--data', '/tmp', '--dry-run'],
  ]) {
    assertBadInput(kdkit(...args, '--out', run), /--data applies to --dataset fashion-mnist only/, run);
  }
  assertBadInput(kdkit('eval', 'model.json', '--data', '/tmp'), /--data applies to --dataset fashion-mnist only/);
  assertBadInput(
    kdkit('export', 'model.json', '--format', 'onnx', '--out', join(run, 'm.onnx'), '--data', '/tmp'),
    /--data applies to --dataset fashion-mnist only/,
  );
});

test('a --data directory that does not exist exits 2 naming it', () => {
  assertBadInput(
    kdkit('eval', 'model.json', '--dataset', 'fashion-mnist', '--data', '/nonexistent/fmnist'),
    /directory \/nonexistent\/fmnist does not exist/,
  );
});

test("--seed takes what the config's seed takes, and says the range", () => {
  const config = join(mkdtempSync(join(tmpdir(), 'kdkit-options-')), 'exp.yaml');
  writeFileSync(
    config,
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: mlp, hidden: [4]}}\ndistill: {epochs: 1, terms: [{method: ce, weight: 1}]}\n',
  );
  for (const seed of ['99999999999999999999', '4294967296', '2147483648', '-1', '1.5', '', '1e3']) {
    assertBadInput(kdkit('demo', '--quick', '--dry-run', '--seed', seed), /--seed.*non-negative integer up to 2147483647/);
    assertBadInput(kdkit('run', config, '--dry-run', '--seed', seed), /--seed.*non-negative integer up to 2147483647/);
  }
  const largest = kdkit('demo', '--quick', '--dry-run', '--seed', '2147483647');
  assert.equal(largest.status, 0, largest.stderr);
  assert.match(largest.stdout, /\nseed: 2147483647\n/);
});
