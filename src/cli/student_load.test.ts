import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { saveModelDir } from '../models/io.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

await initEngine({ backend: 'wasm' });

const directory = mkdtempSync(join(tmpdir(), 'kdkit-student-load-'));
const teacher = 'teacher: {model: {type: cnn, filters: [8], dense: [32]}, epochs: 1, batchSize: 64}\n';
const distill =
  'distill: {epochs: 2, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}, {method: hint, weight: 1, student: cat, teacher: conv_1}, {method: rkd, weight: 1, student: penultimate, teacher: penultimate}]}\n';

function config(name: string, student: string, extra = 'export: {quantize: [uint8], onnx: true}\n'): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, `seed: 3\ndataset: {name: digits}\n${teacher}student: ${student}\n${distill}${extra}`);
  return path;
}

/**
 * A functional student no spec can build: a stem conv, batch norm, a depthwise conv added back
 * residually, the block concatenated with the stem, then pooling and two dense layers.
 */
function functionalStudent(options: { inputShape?: number[]; classes?: number; activation?: 'softmax' } = {}): tf.LayersModel {
  const input = tf.input({ shape: options.inputShape ?? [8, 8, 1], name: 'image' });
  const stem = tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', name: 'stem' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(stem) as tf.SymbolicTensor;
  const relu = tf.layers.activation({ activation: 'relu', name: 'relu' }).apply(bn) as tf.SymbolicTensor;
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(relu) as tf.SymbolicTensor;
  const residual = tf.layers.add({ name: 'res' }).apply([relu, depthwise]) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'cat' }).apply([residual, stem]) as tf.SymbolicTensor;
  const pooled = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(joined) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(pooled) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 32, activation: 'relu', name: 'hidden' }).apply(flat) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: options.classes ?? 10, activation: options.activation, name: 'logits' })
    .apply(hidden) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'functional_student' });
}

async function saved(name: string, model: tf.LayersModel): Promise<string> {
  const path = join(directory, name);
  await saveModelDir(model, path);
  model.dispose();
  return path;
}

const sha256Of = (path: string) =>
  createHash('sha256')
    .update(readFileSync(join(path, 'model.json')))
    .update(readFileSync(join(path, 'weights.bin')))
    .digest('hex');

// stem 3·3·1·8 + 8, bn 4·8, dw 3·3·8 + 8, hidden (4·4·16)·32 + 32, logits 32·10 + 10.
const parameters = 9 * 8 + 8 + 4 * 8 + (9 * 8 + 8) + (256 * 32 + 32) + (32 * 10 + 10);

test('a functional student loaded from a file is distilled with taps on its layers, evaluated, exported and gated', async () => {
  const model = await saved('functional', functionalStudent());
  const out = join(directory, 'run');
  const path = config(
    'functional',
    `{load: ${model}, init: random}`,
    'export: {quantize: [uint8], onnx: true}\ndeploy: {maxParams: 20000, maxSizeBytes: 200000, runtime: onnxruntime}\n',
  );
  const result = kdkit('run', path, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(
    result.stdout,
    new RegExp(
      `student: loaded ${join(model, 'model.json').replace(/[.\\/]/g, '\\$&')} \\(init: random\\), ${parameters.toLocaleString('en-US')} parameters`,
    ),
  );
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  for (const name of ['teacher', 'scratch', 'student']) assert.ok(summary.models[name], `summary.models.${name}`);
  assert.equal(summary.models.student.params, parameters);
  assert.equal(summary.models.scratch.params, parameters);
  assert.deepEqual(summary.config.student, { load: model, init: 'random' });
  const [, last] = summary.stages.find((stage: { name: string }) => stage.name === 'student').history;
  for (const term of ['kd', 'ce', 'hint', 'rkd']) assert.ok(Number.isFinite(last.terms[term]), `the student's ${term} term was logged`);
  const [onnx] = summary.exports.onnx;
  assert.equal(onnx.path, 'student.onnx');
  assert.ok(existsSync(join(out, 'student.onnx')));
  assert.ok(onnx.maxAbsDiff <= 1e-4, `ONNX Runtime against TensorFlow.js: ${onnx.maxAbsDiff}`);
  // The gate judged student.onnx: its size, and the loaded student's parameters.
  assert.equal(summary.gate.passed, true);
  const checks = Object.fromEntries(summary.gate.checks.map((check: { name: string; value: number }) => [check.name, check.value]));
  assert.deepEqual(checks, { maxSizeBytes: onnx.sizeBytes, maxParams: parameters });
  // The exported student is the loaded architecture, its layers named as in the file.
  const exported = JSON.parse(readFileSync(join(out, 'student', 'model.json'), 'utf8'));
  assert.deepEqual(
    exported.modelTopology.config.layers.map((layer: { name: string }) => layer.name),
    ['image', 'stem', 'bn', 'relu', 'dw', 'res', 'cat', 'pool', 'flatten', 'hidden', 'logits'],
  );
  // Both stages that train it record the file and the init, so --resume notices a changed file.
  for (const stage of ['scratch', 'student']) {
    const record = JSON.parse(readFileSync(join(out, 'checkpoints', stage, 'stage.json'), 'utf8'));
    assert.deepEqual(record.inputs.student, { fingerprint: sha256Of(model), init: 'random' });
  }

  await saved('functional', functionalStudent());
  const resumed = kdkit('run', path, '--out', out, '--resume');
  assertBadInput(
    resumed,
    /the scratch stage's checkpoints .* were made with another config.*student\.fingerprint: "[0-9a-f]{12}…" → "[0-9a-f]{12}…"/,
  );
});

test('init: weights starts the scratch baseline and the student from the same copy of the file: trained on labels alone, they train alike', async () => {
  const model = await saved('warm', functionalStudent());
  const out = join(directory, 'warm-run');
  writeFileSync(
    join(directory, 'warm.yaml'),
    `seed: 3\ndataset: {name: digits}\n${teacher}student: {load: ${model}, init: weights}\ndistill: {epochs: 2, batchSize: 64, terms: [{method: ce, weight: 1}]}\nexport: {quantize: [], onnx: false}\n`,
  );
  const result = kdkit('run', join(directory, 'warm.yaml'), '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const history = (name: string) =>
    summary.stages
      .find((stage: { name: string }) => stage.name === name)
      .history.map((epoch: { loss: number; validationAccuracy: number }) => [epoch.loss, epoch.validationAccuracy]);
  assert.deepEqual(history('student'), history('scratch'));
  assert.equal(summary.models.student.accuracy, summary.models.scratch.accuracy);
  const record = JSON.parse(readFileSync(join(out, 'checkpoints', 'student', 'stage.json'), 'utf8'));
  assert.deepEqual(record.inputs.student, { fingerprint: sha256Of(model), init: 'weights' });
});

test('a student file that is missing is exit 2 naming student.load', () => {
  const out = join(directory, 'missing-run');
  assertBadInput(
    kdkit('run', config('missing', `{load: ${join(directory, 'nowhere')}}`), '--out', out),
    /student\.load: .*nowhere.*no such file/,
    out,
  );
});

test("a student that does not take the dataset's samples is exit 2 naming student.load and both shapes", async () => {
  const model = await saved('mnist-sized', functionalStudent({ inputShape: [28, 28, 1] }));
  const out = join(directory, 'mnist-sized-run');
  assertBadInput(
    kdkit('run', config('mnist-sized', `{load: ${model}}`), '--out', out),
    /student\.load .*takes input \[28, 28, 1\]; dataset 'digits' has samples \[8, 8, 1\]/,
    out,
  );
});

test('a student with another number of outputs than classes is exit 2 naming student.load', async () => {
  const model = await saved('five', functionalStudent({ classes: 5 }));
  const out = join(directory, 'five-run');
  assertBadInput(
    kdkit('run', config('five', `{load: ${model}}`), '--out', out),
    /student\.load .*outputs \[5\] per sample; dataset 'digits' has 10 classes/,
    out,
  );
});

test('a student ending in a softmax is exit 2: a student outputs logits', async () => {
  const model = await saved('softmax', functionalStudent({ activation: 'softmax' }));
  const out = join(directory, 'softmax-run');
  assertBadInput(
    kdkit('run', config('softmax', `{load: ${model}, init: weights}`), '--out', out),
    /student\.load .*activation 'softmax' of layer 'logits' \(Dense\), so it outputs probabilities; a student must output logits/,
    out,
  );
});

test('a student with a layer ONNX export does not support is exit 2 before training, saying how to skip the ONNX export', async () => {
  const input = tf.input({ shape: [8, 8, 1], name: 'image' });
  const grown = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, name: 'grow' }).apply(input) as tf.SymbolicTensor;
  const logits = tf.layers
    .dense({ units: 10, name: 'logits' })
    .apply(tf.layers.flatten({ name: 'flatten' }).apply(grown)) as tf.SymbolicTensor;
  const model = await saved('transpose', tf.model({ inputs: input, outputs: logits }));
  const out = join(directory, 'transpose-run');
  const result = kdkit('run', config('transpose', `{load: ${model}}`), '--out', out);
  assertBadInput(result, /student\.load .*layer 'grow' \(Conv2DTranspose\) cannot be exported to ONNX.*set export\.onnx: false/, out);
  assert.doesNotMatch(result.stdout, /epoch/);
});
