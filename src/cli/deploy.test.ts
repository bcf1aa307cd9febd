import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { saveModelDir } from '../models/io.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-deploy-'));
const base =
  'dataset: {name: digits}\nteacher: {model: {type: cnn, filters: [8], dense: [32]}, epochs: 3, batchSize: 32}\nstudent: {model: {type: mlp, hidden: [16]}}\ndistill: {epochs: 3, batchSize: 32, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}\n';

function config(name: string, extra: string): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, base + extra);
  return path;
}

const loose = join(directory, 'loose');

test('a loose deploy: section passes; every export is written and checked', () => {
  const result = kdkit(
    'run',
    config(
      'loose',
      'deploy: {maxSizeBytes: 100000, maxLatencyMs: 1000, minAccuracy: 0.2, maxAccuracyDrop: 0.8, maxParams: 100000, quantization: uint8}\n',
    ),
    '--out',
    loose,
  );
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /deployment gate \(student, uint8 weights, TensorFlow\.js\): PASSED/);
  const summary = JSON.parse(readFileSync(join(loose, 'summary.json'), 'utf8'));
  assert.equal(summary.gate.passed, true);
  assert.deepEqual(
    summary.gate.checks.map((check: { name: string }) => check.name),
    ['maxSizeBytes', 'maxLatencyMs', 'minAccuracy', 'maxAccuracyDrop', 'maxParams'],
  );
  const uint8 = summary.exports.tfjs.find((copy: { quantization: string }) => copy.quantization === 'uint8');
  // The gate judged the uint8 export: its size and its accuracy, not the float32 student's.
  assert.equal(summary.gate.checks[0].value, uint8.sizeBytes);
  assert.equal(summary.gate.checks[2].value, uint8.accuracy);
  assert.equal(summary.gate.checks[1].value, summary.models.student.latency.batch1.p95Ms);
  // This student is small enough for model.json to dominate; its weights file is a quarter of float32's.
  const weightBytes = (path: string) => statSync(join(loose, path, 'weights.bin')).size;
  assert.equal(weightBytes('student-uint8'), weightBytes('student') / 4);
  const [onnx, , onnxUint8] = summary.exports.onnx;
  assert.deepEqual(
    summary.exports.onnx.map((copy: { path: string }) => copy.path),
    ['student.onnx', 'student-float16.onnx', 'student-uint8.onnx'],
  );
  assert.ok(onnx.maxAbsDiff <= 1e-4 && onnx.agreement === 1, `float32 ONNX matches TensorFlow.js: ${onnx.maxAbsDiff}, ${onnx.agreement}`);
  assert.ok(onnxUint8.sizeBytes < onnx.sizeBytes && onnxUint8.agreement >= 0.95, 'the uint8 ONNX copy is smaller and mostly agrees');
  // The TensorFlow.js teacher is compared with the student on both runtimes: on TensorFlow.js by
  // their own latencies, on ONNX Runtime by the teacher's in-memory export against student.onnx.
  assert.deepEqual(
    summary.speedups.map((entry: { runtime: string }) => entry.runtime),
    ['onnxruntime', 'tfjs'],
  );
  const [onOrt, onTfjs] = summary.speedups;
  assert.equal(onOrt.studentMs, onnx.latency.batch1.p50Ms);
  assert.ok(onOrt.teacherMs > 0 && Math.abs(onOrt.speedup - onOrt.teacherMs / onOrt.studentMs) < 1e-9);
  assert.equal(onTfjs.teacherMs, summary.models.teacher.latency.batch1.p50Ms);
  assert.equal(onTfjs.studentMs, summary.models.student.latency.batch1.p50Ms);
  assert.match(result.stdout, /At batch 1 the student is [\d.]+× (faster|slower) than the teacher on ONNX Runtime/);
  assert.ok(!existsSync(join(loose, 'teacher.onnx')), 'the teacher export is timed in memory, never written');
  for (const artifact of [
    'student/model.json',
    'student-float16/model.json',
    'student-uint8/model.json',
    'student.onnx',
    'report.html',
    'report.md',
  ]) {
    assert.ok(existsSync(join(loose, artifact)), artifact);
  }
  for (const name of ['teacher', 'scratch', 'student']) {
    const model = summary.models[name];
    assert.equal(
      model.confusion.flat().reduce((sum: number, count: number) => sum + count, 0),
      summary.dataset.test,
      `${name} confusion counts every test sample`,
    );
    assert.ok(model.latency.batch1.p95Ms >= model.latency.batch1.p50Ms, `${name} p95 ≥ p50`);
    assert.ok(model.memory.peakBytesBatchN > model.memory.peakBytesBatch1, `${name} memory grows with the batch`);
  }
  assert.equal(summary.models.teacher.agreementWithTeacher, undefined);
  assert.ok(summary.models.student.klFromTeacher > 0);
});

test('a strict deploy: section fails the gate with exit 3, after writing every report', () => {
  const out = join(directory, 'strict');
  const result = kdkit('run', config('strict', 'deploy: {maxParams: 1000, minAccuracy: 0.999}\n'), '--out', out);
  assert.equal(result.status, 3, result.stderr);
  assert.match(result.stdout, /deployment gate \(student, float32 weights, TensorFlow\.js\): FAILED/);
  assert.match(result.stdout, /maxParams .* ≤ 1,000 .* FAIL/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.gate.passed, false);
  assert.ok(existsSync(join(out, 'report.html')));
});

test('a deploy: section with an unknown key or a negative limit exits 2 naming the field', () => {
  assertBadInput(
    kdkit('run', config('unknown', 'deploy: {maxSize: 10}\n'), '--out', join(directory, 'bad1')),
    /deploy\.maxSize: unknown key/,
    join(directory, 'bad1'),
  );
  assertBadInput(
    kdkit('run', config('negative', 'deploy: {maxLatencyMs: -1}\n'), '--out', join(directory, 'bad2')),
    /deploy\.maxLatencyMs: .*>=0/,
    join(directory, 'bad2'),
  );
  assertBadInput(
    kdkit('run', config('runtime', 'deploy: {runtime: onnxruntime}\nexport: {onnx: false}\n'), '--out', join(directory, 'bad3')),
    /deploy\.runtime.*export\.onnx is false/,
    join(directory, 'bad3'),
  );
});

test('kdkit export writes a checked ONNX file and a quantized TensorFlow.js copy with its accuracy loss', () => {
  const onnx = join(directory, 'exported', 'student.onnx');
  const toOnnx = kdkit('export', join(loose, 'student'), '--format', 'onnx', '--out', onnx, '--dataset', 'digits');
  assert.equal(toOnnx.status, 0, toOnnx.stderr);
  assert.match(
    toOnnx.stdout,
    /ONNX Runtime vs TensorFlow\.js on the 359 test samples: max \|logit difference\| \S+, same prediction on 100\.00%/,
  );
  assert.ok(existsSync(onnx));
  const uint8 = join(directory, 'exported', 'uint8');
  const toTfjs = kdkit('export', join(loose, 'student'), '--format', 'tfjs', '--quantize', 'uint8', '--out', uint8, '--dataset', 'digits');
  assert.equal(toTfjs.status, 0, toTfjs.stderr);
  assert.match(toTfjs.stdout, /points lost to quantization/);
  assert.deepEqual(readdirSync(uint8).sort(), ['model.json', 'weights.bin']);

  const evaluated = kdkit('eval', onnx, '--teacher', join(loose, 'teacher'), '--json', join(directory, 'eval.json'));
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /ONNX Runtime[\s\S]*top-1 accuracy[\s\S]*agrees w\/ teacher/);
  const figures = JSON.parse(readFileSync(join(directory, 'eval.json'), 'utf8'));
  const summary = JSON.parse(readFileSync(join(loose, 'summary.json'), 'utf8'));
  assert.equal(figures.accuracy, summary.models.student.accuracy, 'ONNX Runtime scores the student as TensorFlow.js did');
  assert.equal(figures.runtime, 'onnxruntime');
  const tfjsEval = kdkit('eval', join(loose, 'student'), '--json', join(directory, 'eval-tfjs.json'));
  assert.equal(tfjsEval.status, 0, tfjsEval.stderr);
  assert.deepEqual(JSON.parse(readFileSync(join(directory, 'eval-tfjs.json'), 'utf8')).confusion, summary.models.student.confusion);
});

test('exporting a layer ONNX export does not support exits 2, names the layer and writes nothing', async () => {
  await initEngine({ backend: 'wasm' });
  const input = tf.input({ shape: [8, 8, 1] });
  const upsampled = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 2, name: 'grow' }).apply(input) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, name: 'logits' }).apply(tf.layers.flatten().apply(upsampled)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  await saveModelDir(model, join(directory, 'unsupported'));
  model.dispose();
  const out = join(directory, 'unsupported.onnx');
  assertBadInput(kdkit('export', join(directory, 'unsupported'), '--format', 'onnx', '--out', out), /layer 'grow' \(Conv2DTranspose\)/);
  assert.ok(!existsSync(out), 'no file');
  assertBadInput(kdkit('export', join(directory, 'absent'), '--format', 'onnx', '--out', out), /absent.*model\.json/);
});
