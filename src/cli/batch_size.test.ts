// Batch sizes the data or memory cannot hold exit 2 naming the field or flag, before anything trains.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-batch-'));

function config(name: string, { teacher = 32, distill = 32, stages = '[]' }: { teacher?: number; distill?: number; stages?: string }): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, [
    'dataset: {name: digits}',
    `teacher: {model: {type: mlp, hidden: [8]}, epochs: 1, batchSize: ${teacher}}`,
    'student: {model: {type: mlp, hidden: [4]}}',
    `distill: {epochs: 1, batchSize: ${distill}, terms: [{method: ce, weight: 1}]}`,
    `stages: ${stages}`,
    'export: {quantize: [], onnx: false}',
  ].join('\n') + '\n');
  return path;
}

test('an absurd batch size fails at parse time, naming the field', () => {
  const path = config('absurd', { distill: 1e12 });
  assertBadInput(kdkit('run', path, '--out', join(directory, 'absurd')), /absurd\.yaml: invalid config\ndistill\.batchSize: Too big: expected number to be <=16777216/, join(directory, 'absurd'));
});

test('a batch larger than the training split exits 2 naming the field, the value and the split, before any training', () => {
  // Digits: 1797 images, 359 for test, 144 of the rest for validation: 1294 to train on.
  for (const [name, fields, field, value] of [
    ['teacher', { teacher: 5000 }, 'teacher', 5000],
    ['distill', { distill: 1295 }, 'distill', 1295],
    ['stage', { stages: '[{model: {type: mlp, hidden: [6]}, batchSize: 2000}]' }, 'stages\\[0\\]', 2000],
  ] as const) {
    const out = join(directory, name);
    const result = kdkit('run', config(name, fields), '--out', out);
    assertBadInput(result, new RegExp(`${name}\\.yaml: ${field}\\.batchSize: ${value} is larger than the training split \\(1294 samples\\); use at most 1294`), out);
    assert.doesNotMatch(result.stdout, /stage teacher/, `${name}: nothing trained`);
  }
});

test('kdkit eval --latency-batch past 4096 and the test split exits 2 naming the flag', () => {
  const out = join(directory, 'trained');
  const trained = kdkit('run', config('trained', {}), '--out', out);
  assert.equal(trained.status, 0, trained.stderr);
  assertBadInput(kdkit('eval', join(out, 'student'), '--latency-batch', '10000000'), /--latency-batch: 10000000 is larger than 4096 \(or the test split, 359 samples, if larger\)/);
  const evaluated = kdkit('eval', join(out, 'student'), '--latency-batch', '4096');
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /latency batch 4096/);
});
