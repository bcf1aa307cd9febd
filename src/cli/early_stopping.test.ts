import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-early-stopping-'));

function run(name: string, distill: string, ...flags: string[]) {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(
    path,
    `seed: 2\ndataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [32]}, epochs: 2, batchSize: 64}\nstudent: {model: {type: mlp, hidden: [16]}}\nbaseline: false\n${distill}\nexport: {quantize: [], onnx: false}\n`,
  );
  const out = join(directory, name);
  return { result: kdkit('run', path, '--out', out, ...flags), out };
}

test('distill.earlyStopping stops the student where Keras would, and bestCheckpoint keeps its best epoch; --resume returns the same stage', () => {
  // No later epoch lowers the loss by more than 100: improvement at epoch 1 only, so patience 1 stops after epoch 3.
  const distill =
    'distill: {epochs: 6, batchSize: 64, preset: hinton, earlyStopping: {monitor: loss, minDelta: 100, patience: 2, restoreBest: true}, bestCheckpoint: {monitor: val_accuracy}}';
  const { result, out } = run('stops', distill);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const student = summary.stages.find((stage: { name: string }) => stage.name === 'student');
  assert.equal(student.history.length, 3);
  assert.match(student.stopped, /early stopping: loss did not improve for 2 epochs \(best \S+ at epoch 1\)/);
  const accuracies: number[] = student.history.map((epoch: { validationAccuracy: number }) => epoch.validationAccuracy);
  assert.equal(student.best.epoch, accuracies.indexOf(Math.max(...accuracies)) + 1);
  assert.equal(student.best.path, join('checkpoints', 'student', 'best'));
  assert.ok(existsSync(join(out, student.best.path, 'model.json')));
  // The stage finished (stopped early) in its checkpoint: a resume does not train it again.
  const resumed = kdkit('run', join(directory, 'stops.yaml'), '--out', out, '--resume');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout + resumed.stderr, /student: finished in ckpt-\d+, not retrained/);
  const again = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(again.models.student.accuracy, summary.models.student.accuracy);
});

test('a bad earlyStopping field is exit 2 naming it', () => {
  const { result, out } = run('bad', 'distill: {epochs: 2, preset: hinton, earlyStopping: {monitor: accuracy}}');
  assertBadInput(result, /distill\.earlyStopping\.monitor/, out);
});
