import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { buildModel } from './build.js';
import { saveModelDir } from './io.js';
import { buildStudent, describeStudent, loadStudent, studentRecord } from './student.js';

await initEngine({ backend: 'wasm' });

const directory = mkdtempSync(join(tmpdir(), 'kdkit-student-'));
const digits = {
  inputs: [{ name: 'image', dtype: 'float32' as const, shape: [8, 8, 1] as const }],
  numClasses: 10,
  datasetName: 'digits',
  field: 'config.yaml: student.load',
};
const build = { inputShape: [8, 8, 1] as const, numClasses: 10, name: 'student' };

/** A small functional student; `head` is applied to its logits layer's output, if given. */
async function saved(
  name: string,
  options: { inputShape?: number[]; classes?: number; activation?: 'softmax'; head?: (x: tf.SymbolicTensor) => tf.SymbolicTensor } = {},
): Promise<string> {
  const input = tf.input({ shape: options.inputShape ?? [8, 8, 1], name: 'image' });
  const conv = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(conv) as tf.SymbolicTensor;
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(bn) as tf.SymbolicTensor;
  const residual = tf.layers.add({ name: 'res' }).apply([bn, depthwise]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(residual) as tf.SymbolicTensor;
  let output = tf.layers
    .dense({ units: options.classes ?? 10, activation: options.activation, name: 'logits' })
    .apply(pooled) as tf.SymbolicTensor;
  if (options.head) output = options.head(output);
  const model = tf.model({ inputs: input, outputs: output, name });
  // Weights no initializer gives: 0.01 · index, so a kept value is recognised as the file's.
  const values = model.weights.map((weight) =>
    tf.tensor(
      Array.from({ length: weight.read().size }, (_, i) => 0.01 * (i + 1)),
      weight.shape as number[],
    ),
  );
  model.setWeights(values);
  tf.dispose(values);
  const path = join(directory, name);
  await saveModelDir(model, path);
  model.dispose();
  return path;
}

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((weight) => weight.dataSync() as Float32Array);

test("init: weights starts every stage from exactly the file's weights, each stage with its own copy", async () => {
  const path = await saved('warm');
  const student = await loadStudent({ load: path, init: 'weights' }, digits);
  const first = buildStudent(student, { ...build, seed: 1 });
  const second = buildStudent(student, { ...build, seed: 2 });
  const expected = first.weights.map((weight) => Float32Array.from({ length: weight.read().size }, (_, i) => 0.01 * (i + 1)));
  assert.deepEqual(weightsOf(first), expected);
  assert.deepEqual(weightsOf(second), expected);
  assert.ok(
    first.weights.every((weight, i) => weight.read().dataId !== second.weights[i].read().dataId),
    'two stages share a weight buffer',
  );
  first.dispose();
  second.dispose();
});

test('init: random draws every weight again from the run seed: the same for every stage of a run, other for another seed', async () => {
  const path = await saved('random');
  const student = await loadStudent({ load: path, init: 'random' }, digits);
  const before = tf.memory().numTensors;
  const scratch = buildStudent(student, { ...build, seed: 2, name: 'scratch' });
  const distilled = buildStudent(student, { ...build, seed: 2 });
  const other = buildStudent(student, { ...build, seed: 3 });
  assert.deepEqual(weightsOf(scratch), weightsOf(distilled));
  assert.notDeepEqual(weightsOf(other), weightsOf(distilled));
  const kernel = weightsOf(distilled)[0];
  assert.ok(kernel.some((value) => Math.abs(value - 0.01) > 1e-6) && kernel.some((value) => value < 0), "the file's weights were kept");
  // Batch norm starts again: gamma 1, beta 0, moving mean 0, moving variance 1.
  const bn = Object.fromEntries(
    distilled.getLayer('bn').weights.map((weight) => [weight.originalName.split('/').pop(), [...weight.read().dataSync()]]),
  );
  assert.deepEqual(bn, { gamma: [1, 1, 1, 1], beta: [0, 0, 0, 0], moving_mean: [0, 0, 0, 0], moving_variance: [1, 1, 1, 1] });
  assert.deepEqual(
    distilled.layers.map((layer) => layer.name),
    ['image', 'conv', 'bn', 'dw', 'res', 'gap', 'logits'],
  );
  for (const model of [scratch, distilled, other]) model.dispose();
  assert.equal(tf.memory().numTensors, before, 'the loaded student holds no tensors between stages');
  assert.doesNotMatch(JSON.stringify(student.architecture), /customObjects/, 'building a copy changed the architecture kept for the next');
});

test('the fingerprint is the SHA-256 of model.json then weights.bin, and names the student with its init in the stage record', async () => {
  const path = await saved('fingerprint');
  const student = await loadStudent({ load: path, init: 'random' }, digits);
  const hash = createHash('sha256')
    .update(readFileSync(join(path, 'model.json')))
    .update(readFileSync(join(path, 'weights.bin')))
    .digest('hex');
  assert.equal(student.fingerprint, hash);
  assert.deepEqual(studentRecord(student), { fingerprint: hash, init: 'random' });
  assert.deepEqual(studentRecord({ type: 'mlp', hidden: [4], dropout: 0, activation: 'relu' }), {
    model: { type: 'mlp', hidden: [4], dropout: 0, activation: 'relu' },
  });
  assert.equal(describeStudent(student), `loaded ${join(path, 'model.json')} (init: random)`);
  assert.equal(student.parameters, 9 * 4 + 4 + 4 * 4 + (9 * 4 + 4) + (4 * 10 + 10));
});

async function refused(path: string, pattern: RegExp): Promise<void> {
  const before = tf.memory().numTensors;
  await assert.rejects(loadStudent({ load: path, init: 'random' }, digits), (error: Error) => {
    assert.ok(error instanceof InputError, `${error.name}: ${error.message}`);
    assert.match(error.message, /^config\.yaml: student\.load/);
    assert.match(error.message, pattern);
    return true;
  });
  assert.equal(tf.memory().numTensors, before, 'a refused student leaks no tensor');
}

test('a missing file is refused naming student.load and the path', async () => {
  await refused(join(directory, 'nowhere'), /nowhere.*no such file/);
});

test("a model that does not take the dataset's samples is refused with both shapes", async () => {
  await refused(
    await saved('mnist-sized', { inputShape: [28, 28, 1] }),
    /takes input \[28, 28, 1\]; dataset 'digits' has samples \[8, 8, 1\]/,
  );
});

test('a model whose output is not one logit per class is refused with the class count', async () => {
  await refused(await saved('five', { classes: 5 }), /outputs \[5\] per sample; dataset 'digits' has 10 classes/);
});

test('a model that outputs probabilities is refused, saying a student outputs logits', async () => {
  await refused(
    await saved('dense-softmax', { activation: 'softmax' }),
    /activation 'softmax' of layer 'logits' \(Dense\), so it outputs probabilities; a student must output logits/,
  );
  await refused(
    await saved('softmax-layer', { head: (x) => tf.layers.softmax({ name: 'probs' }).apply(x) as tf.SymbolicTensor }),
    /layer 'probs' \(Softmax\)/,
  );
  await refused(
    await saved('behind-dropout', {
      head: (x) =>
        tf.layers
          .dropout({ rate: 0.1, name: 'drop' })
          .apply(tf.layers.activation({ activation: 'softmax', name: 'act' }).apply(x)) as tf.SymbolicTensor,
    }),
    /activation 'softmax' of layer 'act' \(Activation\)/,
  );
});

describe('a loaded text student', () => {
  const tokens = [
    { name: 'input_ids', dtype: 'int32', shape: [12], vocabulary: 300 },
    { name: 'attention_mask', dtype: 'int32', shape: [12], vocabulary: 2 },
    { name: 'token_type_ids', dtype: 'int32', shape: [12], vocabulary: 2 },
  ] as const;
  const banking = { inputs: tokens, numClasses: 7, datasetName: 'banking77', field: 'config.yaml: student.load' };
  const spec = { type: 'transformer', layers: 1, hidden: 16, heads: 2, intermediate: 32, pooling: 'mean', dropout: 0.1 } as const;

  async function savedText(name: string, classes = 7): Promise<{ path: string; weights: Float32Array[] }> {
    const model = buildModel(spec, { inputs: tokens, numClasses: classes, seed: 5, name });
    const path = join(directory, name);
    await saveModelDir(model, path);
    const weights = weightsOf(model);
    model.dispose();
    return { path, weights };
  }

  it("takes its token inputs from the dataset's fields by name, and starts from the file's weights or fresh ones", async () => {
    const { path, weights } = await savedText('text-student');
    const warm = await loadStudent({ load: path, init: 'weights' }, banking);
    const copy = buildStudent(warm, { inputs: tokens, numClasses: 7, seed: 9, name: 'student' });
    assert.deepEqual(weightsOf(copy), weights);
    assert.deepEqual(
      copy.inputLayers.map((layer) => layer.name),
      ['input_ids', 'attention_mask', 'token_type_ids'],
    );
    const ids = tf.tensor2d([[2, 17, 40, 3, 0, 0, 0, 0, 0, 0, 0, 0]], [1, 12], 'int32');
    const mask = tf.tensor2d([[1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]], [1, 12], 'int32');
    const types = tf.zerosLike(ids);
    const logits = copy.predict([ids, mask, types]) as tf.Tensor;
    assert.deepEqual(logits.shape, [1, 7]);
    const cold = buildStudent(await loadStudent({ load: path, init: 'random' }, banking), {
      inputs: tokens,
      numClasses: 7,
      seed: 9,
      name: 'student',
    });
    assert.notDeepEqual(weightsOf(cold), weights);
    tf.dispose([ids, mask, types, logits]);
    copy.dispose();
    cold.dispose();
  });

  it('is refused naming student.load when the data lacks one of its inputs, or its classes differ', async () => {
    const { path } = await savedText('text-three-inputs');
    await assert.rejects(loadStudent({ load: path, init: 'random' }, { ...banking, inputs: tokens.slice(0, 2) }), (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(
        error.message,
        /^config\.yaml: student\.load .*the data has no field for input 'token_type_ids'; its samples have 'input_ids', 'attention_mask'/,
      );
      return true;
    });
    await assert.rejects(
      loadStudent({ load: path, init: 'random' }, { ...banking, numClasses: 77 }),
      /outputs \[7\] per sample; dataset 'banking77' has 77 classes/,
    );
    await assert.rejects(
      loadStudent({ load: path, init: 'random' }, digits),
      /takes input \[12\].*has samples \[8, 8, 1\]|one input \(the image\)/,
    );
  });
});
