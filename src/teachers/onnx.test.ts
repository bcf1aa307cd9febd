import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import { onnxSubsetProto } from '../engine/ort/onnx_schema.js';
import { InputError } from '../errors.js';
import { imageField } from '../data/dataset.js';
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
  inputs: [imageField([8, 8, 1])],
  numClasses: 10,
  source: 'test.yaml: teacher.onnx',
  ...change,
});

const maxDifference = (actual: Float32Array, expected: number[]) =>
  expected.reduce((max, value, i) => Math.max(max, Math.abs(actual[i] - value)), 0);

test("an ONNX teacher exported by PyTorch gives PyTorch's logits and named features, after the NCHW transpose and normalization", async () => {
  const teacher = await openOnnxTeacher(options());
  const images = { image: Float32Array.from(reference.input.data) };
  const logits = await teacher.logits(images, 6);
  assert.equal(logits.length, 60);
  assert.ok(
    maxDifference(logits, reference.outputs.logits.data) < 1e-5,
    `logits differ by ${maxDifference(logits, reference.outputs.logits.data)}`,
  );
  assert.deepEqual(teacher.info.featureNames, ['features']);
  assert.deepEqual(teacher.featureShape('features'), [64]);
  const { features } = await teacher.features(images, 6, ['features']);
  assert.ok(maxDifference(features, reference.outputs.features.data) < 1e-5);
  // Both from one pass, as online soft labels ask for them, are the same values.
  const both = await teacher.logitsAndFeatures(images, 6, ['features']);
  assert.ok(maxDifference(both.logits, reference.outputs.logits.data) < 1e-5);
  assert.ok(maxDifference(both.features.features, reference.outputs.features.data) < 1e-5);
  // One sample at a time gives the same rows.
  const first = await teacher.logits({ image: images.image.subarray(0, 64) }, 1);
  assert.ok(maxDifference(first, reference.outputs.logits.data.slice(0, 10)) < 1e-5);
  assert.equal(teacher.info.kind, 'onnx');
  assert.ok(teacher.parameterCount > 0 && teacher.sizeBytes === readFileSync(onnxPath).byteLength);
  // By hand: Conv2d(1, 4, 3, padding 1) on 8×8 is 4·8·8 outputs of 1·3·3 each, 2,304; Linear(64, 10) 640.
  assert.equal(await teacher.multiplyAccumulates(), 2304 + 640);
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
  const rejects = (change: Partial<OnnxTeacherOptions>, pattern: RegExp) =>
    assert.rejects(openOnnxTeacher(options(change)), (error: unknown) => {
      assert.ok(error instanceof InputError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  await rejects({ path: text }, /teacher\.onnx: .*teacher\.onnx: not an ONNX model/);
  await rejects({ path: join(directory, 'absent.onnx') }, /absent\.onnx: cannot read the ONNX teacher: no such file/);
  await rejects({ inputs: [imageField([28, 28, 1])] }, /does not take the dataset's samples as input 'image' \[2, 1, 28, 28\]/);
  await rejects({ preprocessing: { inputLayout: 'nhwc' } }, /does not take the dataset's samples as input 'image' \[2, 8, 8, 1\] \(nhwc\)/);
  await rejects({ numClasses: 7 }, /output 'logits' has shape \[2, 10\].*7 classes/);
  await rejects(
    { outputName: 'probabilities' },
    /teacher\.outputName: the model has no output 'probabilities'; it has 'logits', 'features'/,
  );
  // torch.onnx.export without dynamic_axes fixes the batch at 1 (scripts/make_onnx_teacher_fixture.py).
  await rejects(
    { path: join(fixtures, 'torch-teacher-batch1.onnx') },
    /runs on 1 sample but not on 2: input 'image' has a fixed batch size of 1\. Export it with a dynamic batch axis, e\.g\. torch\.onnx\.export\(\.\.\., dynamic_axes=\{'image': \{0: 'batch'\}, 'logits': \{0: 'batch'\}, 'features': \{0: 'batch'\}\}\)/,
  );
});

/**
 * The fixture with every initializer moved to `file` beside it (ONNX external data, as
 * torch.onnx.export writes for large models), at `location` as the model names it.
 */
function withExternalData(directory: string, location: string, file = location): string {
  const type = protobuf.parse(onnxSubsetProto).root.lookupType('onnx.ModelProto');
  const model = type.decode(readFileSync(onnxPath)) as unknown as {
    graph: { initializer: { rawData: Uint8Array; dataLocation?: number; externalData?: object[] }[] };
  };
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const tensor of model.graph.initializer) {
    chunks.push(tensor.rawData);
    tensor.externalData = [
      { key: 'location', value: location },
      { key: 'offset', value: String(offset) },
      { key: 'length', value: String(tensor.rawData.length) },
    ];
    tensor.dataLocation = 1;
    offset += tensor.rawData.length;
    tensor.rawData = new Uint8Array(0);
  }
  mkdirSync(directory, { recursive: true });
  writeFileSync(join(directory, file), Buffer.concat(chunks));
  const path = join(directory, 'teacher.onnx');
  writeFileSync(path, type.encode(model as unknown as protobuf.Message).finish());
  return path;
}

test('a teacher with its weights in an external data file runs from any working directory, and the file is part of its fingerprint', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-onnx-external-'));
  const path = withExternalData(join(directory, 'model'), 'teacher.onnx.data');
  // The test runs from the repository root, not the model's directory.
  const teacher = await openOnnxTeacher(options({ path }));
  const logits = await teacher.logits({ image: Float32Array.from(reference.input.data) }, 6);
  assert.ok(
    maxDifference(logits, reference.outputs.logits.data) < 1e-5,
    `logits differ by ${maxDifference(logits, reference.outputs.logits.data)}`,
  );
  assert.equal(teacher.sizeBytes, readFileSync(path).byteLength + readFileSync(`${path}.data`).byteLength);
  assert.equal(await teacher.multiplyAccumulates(), null, 'not counted: the probe, run from bytes, would not find the data file');
  const { fingerprint } = teacher.info;
  await teacher.dispose();
  // Other weights in the data file: another teacher to the soft-label store.
  const data = readFileSync(`${path}.data`);
  data[data.length - 1] ^= 1;
  writeFileSync(`${path}.data`, data);
  const changed = await openOnnxTeacher(options({ path }));
  assert.notEqual(changed.info.fingerprint, fingerprint);
  await changed.dispose();
});

test('external data outside the model directory, missing, or shorter than the model reads is an InputError naming the initializer', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-onnx-external-'));
  const rejects = (path: string, pattern: RegExp) =>
    assert.rejects(openOnnxTeacher(options({ path })), (error: unknown) => {
      assert.ok(error instanceof InputError, String(error));
      assert.match(error.message, pattern);
      return true;
    });
  writeFileSync(join(directory, 'outside.bin'), new Uint8Array(4096));
  await rejects(
    withExternalData(join(directory, 'up'), '../outside.bin', 'unused.bin'),
    /initializer '[\w.]+' keeps its data in '\.\.\/outside\.bin', outside the model's directory/,
  );
  await rejects(
    withExternalData(join(directory, 'absolute'), join(directory, 'outside.bin'), 'unused.bin'),
    /outside the model's directory/,
  );
  await rejects(withExternalData(join(directory, 'missing'), 'gone.bin', 'present.bin'), /gone\.bin, which cannot be read: no such file/);
  const short = withExternalData(join(directory, 'short'), 'w.bin');
  writeFileSync(join(directory, 'short', 'w.bin'), new Uint8Array(8));
  await rejects(short, /reads bytes \d+ \+ \d+ of .*w\.bin, which has 8/);
});
