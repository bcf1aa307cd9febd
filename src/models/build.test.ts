import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import type { ModelSpec } from '../config/schema.js';
import { buildModel, multiplyAccumulates, specParameterCount } from './build.js';
import { loadModelDir, saveModelDir, serializedSizeBytes } from './io.js';

await initEngine({ backend: 'wasm' });

const fashion = { inputShape: [28, 28, 1] as const, numClasses: 10, seed: 1, name: 'm' };

test('the Fashion-MNIST teacher CNN has the parameters and multiply-adds counted by hand', () => {
  const model = buildModel({ type: 'cnn', filters: [32, 64], kernelSize: 3, dense: [256], dropout: 0.3, batchNorm: false }, fashion);
  // conv 3×3×1→32 + bias, conv 3×3×32→64 + bias, dense 7·7·64→256 + bias, dense 256→10 + bias.
  assert.equal(model.countParams(), 9 * 32 + 32 + (9 * 32 * 64 + 64) + (7 * 7 * 64 * 256 + 256) + (256 * 10 + 10));
  // 'same' convs: 28×28 positions × 9 × 1 × 32, then 14×14 × 9 × 32 × 64; dense layers in × out.
  assert.equal(multiplyAccumulates(model), 28 * 28 * 9 * 32 + 14 * 14 * 9 * 32 * 64 + 3136 * 256 + 256 * 10);
  assert.deepEqual(model.outputs[0].shape, [null, 10]);
  model.dispose();
});

test('the Fashion-MNIST student MLP 256-256 is 3× smaller and 17× cheaper than the teacher', () => {
  const student = buildModel({ type: 'mlp', hidden: [256, 256], dropout: 0, activation: 'relu' }, fashion);
  assert.equal(student.countParams(), 784 * 256 + 256 + (256 * 256 + 256) + (256 * 10 + 10));
  assert.equal(multiplyAccumulates(student), 784 * 256 + 256 * 256 + 256 * 10);
  const teacherParams = 824_458;
  const teacherMacs = 4_643_840;
  assert.ok(teacherParams / student.countParams() > 3 && teacherMacs / multiplyAccumulates(student) > 17);
  student.dispose();
});

test('depthwise and separable convolutions count their multiply-adds by hand, as a loaded student may have them', () => {
  const input = tf.input({ shape: [8, 8, 3] });
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  const separable = tf.layers
    .separableConv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'valid' })
    .apply(depthwise) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: separable });
  // Depthwise: 8×8 positions × 3·3 × 3 channels × 2. Separable on 3·2 = 6 channels, 3×3 output
  // ((8 − 3) / 2 + 1 = 3): per position 3·3·6 depthwise, then 6 × 5 pointwise.
  assert.equal(multiplyAccumulates(model), 8 * 8 * 9 * 3 * 2 + 3 * 3 * (9 * 6 + 6 * 5));
  model.dispose();
});

test('layers have stable names for feature taps', () => {
  const model = buildModel(
    { type: 'cnn', filters: [4, 8], kernelSize: 3, dense: [16], dropout: 0.1, batchNorm: true },
    { ...fashion, inputShape: [8, 8, 1] },
  );
  assert.deepEqual(
    model.layers.map((layer) => layer.name),
    ['image', 'conv_1', 'bn_1', 'relu_1', 'pool_1', 'conv_2', 'bn_2', 'relu_2', 'pool_2', 'flatten', 'dense_1', 'dropout_1', 'logits'],
  );
  model.dispose();
});

test('the same seed gives the same initial weights; another seed does not', () => {
  const spec = { type: 'mlp' as const, hidden: [8], dropout: 0, activation: 'relu' as const };
  const [a, b, c] = [1, 1, 2].map((seed) => buildModel(spec, { ...fashion, seed }));
  const first = (model: tf.LayersModel) => model.getWeights()[0].dataSync();
  assert.deepEqual(first(a), first(b));
  assert.notDeepEqual(first(a), first(c));
  for (const model of [a, b, c]) model.dispose();
});

test('a CNN with more pooling blocks than the input allows is an InputError naming the field', () => {
  assert.throws(
    () =>
      buildModel(
        { type: 'cnn', filters: [4, 4, 4, 4], kernelSize: 3, dense: [], dropout: 0, batchNorm: false },
        { ...fashion, inputShape: [8, 8, 1], field: 'student.model' },
      ),
    (error: unknown) => error instanceof InputError && /^student\.model\.filters: 4 conv\+pool blocks/.test(error.message),
  );
});

test('a saved model loads back with the same predictions, and its size is what was written', async () => {
  const model = buildModel(
    { type: 'cnn', filters: [4], kernelSize: 3, dense: [8], dropout: 0.2, batchNorm: false },
    { ...fashion, inputShape: [8, 8, 1] },
  );
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-io-')), 'student');
  const saved = await saveModelDir(model, directory);
  assert.equal(saved.sizeBytes, await serializedSizeBytes(model));
  assert.equal(saved.sizeBytes, readFileSync(join(directory, 'model.json')).length + readFileSync(join(directory, 'weights.bin')).length);
  const loaded = await loadModelDir(directory);
  const input = tf.randomUniform([3, 8, 8, 1], 0, 1, 'float32', 1);
  const expected = model.predict(input) as tf.Tensor;
  const actual = loaded.predict(input) as tf.Tensor;
  assert.deepEqual(actual.dataSync(), expected.dataSync());
  tf.dispose([input, expected, actual]);
  model.dispose();
  loaded.dispose();
});

test('loading a broken model directory is an InputError naming the file', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-io-'));
  await assert.rejects(
    loadModelDir(directory),
    (error: unknown) => error instanceof InputError && error.message.includes(join(directory, 'model.json')),
  );
  writeFileSync(
    join(directory, 'model.json'),
    '{"modelTopology": {}, "weightsManifest": [{"paths": ["../../etc/passwd"], "weights": []}]}',
  );
  await assert.rejects(loadModelDir(directory), /points outside the model directory/);
  writeFileSync(join(directory, 'model.json'), '{"format": "graph-model"}');
  await assert.rejects(loadModelDir(directory), /not a TensorFlow.js layers model/);
});

test('a spec whose weights would pass 1 GiB is refused before anything is allocated, naming the field', () => {
  const before = tf.memory().numBytes;
  assert.throws(
    () => buildModel({ type: 'mlp', hidden: [1e9], dropout: 0, activation: 'relu' }, { ...fashion, field: 'student.model' }),
    // 784·10⁹ + 10⁹ + 10⁹·10 + 10 weights, ×4 bytes = 2961.6 GiB.
    (error: unknown) =>
      error instanceof InputError && /^student\.model: 7\.95e\+11 weights \(2961\.6 GiB\) is more than kdkit builds/.test(error.message),
  );
  assert.equal(tf.memory().numBytes, before);
  // The count matches what TensorFlow.js builds.
  const specs: ModelSpec[] = [
    { type: 'cnn', filters: [32, 64], kernelSize: 3, dense: [256], dropout: 0.3, batchNorm: true },
    { type: 'mlp', hidden: [256, 256], dropout: 0, activation: 'relu' },
  ];
  for (const spec of specs) {
    const model = buildModel(spec, fashion);
    assert.equal(specParameterCount(spec, fashion), model.countParams());
    model.dispose();
  }
});

test("buildModel takes the config's syntax with its defaults left out, and names a wrong field", () => {
  // The config's cnn defaults: kernelSize 3, dense [], dropout 0; 8×8×1 input, 10 classes.
  const model = buildModel({ type: 'cnn', filters: [4] }, { inputShape: [8, 8, 1], numClasses: 10, seed: 1, name: 'given' });
  // conv 3·3·1·4 + 4, then the 4·4·4 pooled features to 10 classes: 40 + 650.
  assert.equal(model.countParams(), 3 * 3 * 1 * 4 + 4 + 4 * 4 * 4 * 10 + 10);
  model.dispose();
  assert.throws(
    () =>
      buildModel({ type: 'mlp', hidden: [-3] } as never, {
        inputShape: [8, 8, 1],
        numClasses: 10,
        seed: 1,
        name: 'x',
        field: 'student.model',
      }),
    (error: unknown) => error instanceof InputError && /student\.model\.hidden\[0\]/.test(error.message),
  );
});
