import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-augment-'));

function run(name: string, dataset: string, extra = '', ...flags: string[]) {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(
    path,
    `seed: 3\ndataset: ${dataset}\nteacher: {model: {type: cnn, filters: [8], dense: []}, epochs: 2, batchSize: 64}\n` +
      `student: {model: {type: mlp, hidden: [16]}}\ndistill: {epochs: 2, batchSize: 64, preset: hinton}\nexport: {quantize: [], onnx: false}\n${extra}`,
  );
  const out = join(directory, name);
  return { result: kdkit('run', path, '--out', out, ...flags), out };
}

test('dataset.augment trains every stage on augmented batches, with the teacher labelling them online; --resume finds it done', () => {
  const { result, out } = run('online', '{name: digits, augment: {crop: {padding: 1}, flip: horizontal}}');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout + result.stderr, /soft labels: online, the teacher labels each augmented batch/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.softLabels, { mode: 'online' });
  assert.equal(summary.artifacts.softLabels, undefined);
  assert.ok(!existsSync(join(out, 'cache')), 'nothing is written to the soft-label store');
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /Soft labels: online/);
  assert.deepEqual(
    summary.stages.map((stage: { name: string; history: unknown[] }) => [stage.name, stage.history.length]),
    [
      ['teacher', 2],
      ['scratch', 2],
      ['student', 2],
    ],
  );
  const resumed = kdkit('run', join(directory, 'online.yaml'), '--out', out, '--resume');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout + resumed.stderr, /student: finished in ckpt-\d+, not retrained/);
});

test('cached soft labels with dataset.augment are exit 2, saying why', () => {
  const { result, out } = run('cached', '{name: digits, augment: {flip: horizontal}}', 'softLabels: {mode: cached}\n');
  assertBadInput(
    result,
    /softLabels\.mode: 'cached' labels are the teacher's logits for the samples as stored.*use softLabels: online/,
    out,
  );
});

test('a bad augment field is exit 2 naming it', () => {
  const { result, out } = run('bad', '{name: digits, augment: {crop: {padding: 8}}}');
  assertBadInput(result, /dataset\.augment\.crop\.padding: 8 is not smaller than the 8×8 images/, out);
});
