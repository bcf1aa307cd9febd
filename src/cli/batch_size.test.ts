// Batch sizes memory cannot hold exit 2 naming the field or flag, before anything trains; a batch larger than the split is the split.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-batch-'));

function config(
  name: string,
  { teacher = 32, distill = 32, stages = '[]' }: { teacher?: number; distill?: number; stages?: string },
): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(
    path,
    `${[
      'dataset: {name: digits}',
      `teacher: {model: {type: mlp, hidden: [8]}, epochs: 1, batchSize: ${teacher}}`,
      'student: {model: {type: mlp, hidden: [4]}}',
      `distill: {epochs: 1, batchSize: ${distill}, terms: [{method: ce, weight: 1}]}`,
      `stages: ${stages}`,
      'export: {quantize: [], onnx: false}',
    ].join('\n')}\n`,
  );
  return path;
}

test('an absurd batch size fails at parse time, naming the field', () => {
  const path = config('absurd', { distill: 1e12 });
  assertBadInput(
    kdkit('run', path, '--out', join(directory, 'absurd')),
    /absurd\.yaml: invalid config\ndistill\.batchSize: Too big: expected number to be <=16777216/,
    join(directory, 'absurd'),
  );
});

test('a batch larger than the training split trains on the whole split, one step an epoch', () => {
  // Digits: 1797 images, 359 for test, 144 of the rest for validation: 1294 to train on.
  const out = join(directory, 'whole');
  const result = kdkit('run', config('whole', { distill: 5000 }), '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /stage student: \d+ epochs? × 1 steps?/);
});

test('kdkit eval --latency-batch past 4096 and the test split exits 2 naming the flag', () => {
  const out = join(directory, 'trained');
  const trained = kdkit('run', config('trained', {}), '--out', out);
  assert.equal(trained.status, 0, trained.stderr);
  assertBadInput(
    kdkit('eval', join(out, 'student'), '--latency-batch', '10000000'),
    /--latency-batch: 10000000 is larger than 4096 \(or the test split, 359 samples, if larger\)/,
  );
  const evaluated = kdkit('eval', join(out, 'student'), '--latency-batch', '4096');
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /latency batch 4096/);
});
