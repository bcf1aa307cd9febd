import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { openOnnxTeacher, type OnnxTeacherOptions } from './onnx.js';

// A tiny CNN exported by PyTorch (scripts/make_onnx_teacher_fixture.py) with PyTorch's own outputs.
const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const onnxPath = join(fixtures, 'torch-teacher.onnx');
const reference = JSON.parse(readFileSync(join(fixtures, 'torch-teacher.json'), 'utf8')) as {
  normalize: { mean: number[]; std: number[] };
  input: { shape: number[]; data: number[] };
  outputs: { logits: { shape: number[]; data: number[] }; features: { shape: number[]; data: number[] } };
};

const options = (change: Partial<OnnxTeacherOptions> = {}): OnnxTeacherOptions => ({
  path: onnxPath,
  preprocessing: { inputLayout: 'nchw', normalize: reference.normalize },
  sampleShape: [8, 8, 1],
  numClasses: 10,
  source: 'test.yaml: teacher.onnx',
  ...change,
});

const maxDifference = (actual: Float32Array, expected: number[]) => expected.reduce((max, value, i) => Math.max(max, Math.abs(actual[i] - value)), 0);

test('an ONNX teacher exported by PyTorch gives PyTorch\'s logits and named features, after the NCHW transpose and normalization', async () => {
  const teacher = await openOnnxTeacher(options());
  const images = Float32Array.from(reference.input.data);
  const logits = await teacher.logits(images, 6);
  assert.equal(logits.length, 60);
  assert.ok(maxDifference(logits, reference.outputs.logits.data) < 1e-5, `logits differ by ${maxDifference(logits, reference.outputs.logits.data)}`);
  assert.deepEqual(teacher.info.featureNames, ['features']);
  assert.deepEqual(teacher.featureShape('features'), [64]);
  const { features } = await teacher.features(images, 6, ['features']);
  assert.ok(maxDifference(features, reference.outputs.features.data) < 1e-5);
  // One sample at a time gives the same rows.
  const first = await teacher.logits(images.subarray(0, 64), 1);
  assert.ok(maxDifference(first, reference.outputs.logits.data.slice(0, 10)) < 1e-5);
  assert.equal(teacher.info.kind, 'onnx');
  assert.ok(teacher.parameterCount > 0 && teacher.sizeBytes === readFileSync(onnxPath).byteLength);
  await teacher.dispose();
});

test('the fingerprint follows the bytes and the preprocessing, not the path', async () => {
  const copy = join(mkdtempSync(join(tmpdir(), 'kdkit-onnx-')), 'copy.onnx');
  writeFileSync(copy, readFileSync(onnxPath));
  const a = await openOnnxTeacher(options());
  const b = await openOnnxTeacher(options({ path: copy }));
  const c = await openOnnxTeacher(options({ preprocessing: { inputLayout: 'nchw' } }));
  assert.equal(a.info.fingerprint, b.info.fingerprint);
  assert.notEqual(a.info.fingerprint, c.info.fingerprint);
  await Promise.all([a.dispose(), b.dispose(), c.dispose()]);
});

test('a file that is not ONNX, an input that does not fit, a wrong class count and unknown names are InputErrors', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-onnx-'));
  const text = join(directory, 'teacher.onnx');
  writeFileSync(text, 'not a model\n');
  const rejects = (change: Partial<OnnxTeacherOptions>, pattern: RegExp) => assert.rejects(openOnnxTeacher(options(change)), (error: unknown) => {
    assert.ok(error instanceof InputError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
  await rejects({ path: text }, /teacher\.onnx: .*teacher\.onnx: not an ONNX model/);
  await rejects({ path: join(directory, 'absent.onnx') }, /absent\.onnx: cannot read the ONNX teacher \(ENOENT\)/);
  await rejects({ sampleShape: [28, 28, 1] }, /does not take the dataset's samples as input 'image' \[2, 1, 28, 28\]/);
  await rejects({ preprocessing: { inputLayout: 'nhwc' } }, /does not take the dataset's samples as input 'image' \[2, 8, 8, 1\] \(nhwc\)/);
  await rejects({ numClasses: 7 }, /output 'logits' has shape \[2, 10\].*7 classes/);
  await rejects({ outputName: 'probabilities' }, /teacher\.outputName: the model has no output 'probabilities'; it has 'logits', 'features'/);
  // torch.onnx.export without dynamic_axes fixes the batch at 1 (scripts/make_onnx_teacher_fixture.py).
  await rejects({ path: join(fixtures, 'torch-teacher-batch1.onnx') },
    /runs on 1 sample but not on 2: input 'image' has a fixed batch size of 1\. Export it with a dynamic batch axis, e\.g\. torch\.onnx\.export\(\.\.\., dynamic_axes=\{'image': \{0: 'batch'\}, 'logits': \{0: 'batch'\}, 'features': \{0: 'batch'\}\}\)/);
});
