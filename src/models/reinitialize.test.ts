import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { reinitializeModel, weightSeed } from './reinitialize.js';

await initEngine({ backend: 'wasm' });

/**
 * A functional model with a residual Add, a Concatenate, batch norm and a depthwise conv. The conv
 * kernel's initializer carries a seed of its own (7), which a re-initialisation must not keep.
 */
function functionalModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 2], name: 'image' });
  const conv = tf.layers
    .conv2d({ filters: 6, kernelSize: 3, padding: 'same', kernelInitializer: tf.initializers.glorotUniform({ seed: 7 }), name: 'conv' })
    .apply(input) as tf.SymbolicTensor;
  const bn = tf.layers.batchNormalization({ name: 'bn' }).apply(conv) as tf.SymbolicTensor;
  const depthwise = tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'dw' }).apply(bn) as tf.SymbolicTensor;
  const residual = tf.layers.add({ name: 'res' }).apply([bn, depthwise]) as tf.SymbolicTensor;
  const joined = tf.layers.concatenate({ name: 'cat' }).apply([residual, conv]) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flatten' }).apply(joined) as tf.SymbolicTensor;
  const wide = tf.layers.dense({ units: 30, kernelInitializer: 'glorotUniform', name: 'wide' }).apply(flat) as tf.SymbolicTensor;
  // Two weights of one shape from one initializer class: their seeds differ by position.
  const a = tf.layers.dense({ units: 30, kernelInitializer: 'glorotUniform', name: 'a' }).apply(wide) as tf.SymbolicTensor;
  const b = tf.layers.dense({ units: 30, kernelInitializer: 'glorotUniform', name: 'b' }).apply(wide) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, kernelInitializer: 'heNormal', name: 'logits' }).apply(sum) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: 'functional' });
}

/** Every weight of `model` by its name ('bn/moving_mean'), as plain arrays. */
function weightsByName(model: tf.LayersModel): Map<string, Float32Array> {
  return new Map(model.weights.map((weight) => [weight.originalName, weight.read().dataSync() as Float32Array]));
}

/** The original with every weight set to 0.5, so that values kept from it are recognised. */
function trainedLookingModel(): tf.LayersModel {
  const model = functionalModel();
  const values = model.weights.map((weight) => tf.fill(weight.shape as number[], 0.5));
  model.setWeights(values);
  tf.dispose(values);
  return model;
}

const source = 'test: student.load';

test('the same seed gives bit-identical weights, another seed other weights, whatever seed the file had', () => {
  const original = trainedLookingModel();
  const first = reinitializeModel(original, { seed: 3, source });
  const again = reinitializeModel(original, { seed: 3, source });
  const other = reinitializeModel(original, { seed: 4, source });
  const [x, y, z] = [first, again, other].map(weightsByName);
  assert.deepEqual([...x.keys()], [...weightsByName(original).keys()]);
  for (const [name, values] of x) assert.deepEqual(y.get(name), values, `${name} differs between two builds with seed 3`);
  for (const name of ['conv/kernel', 'dw/depthwise_kernel', 'wide/kernel', 'a/kernel', 'b/kernel', 'logits/kernel']) {
    assert.notDeepEqual(z.get(name), x.get(name), `${name} is the same with seeds 3 and 4`);
  }
  assert.notDeepEqual(x.get('a/kernel'), x.get('b/kernel'), 'two kernels of one shape and initializer share their values');
  for (const model of [original, first, again, other]) model.dispose();
});

test('each weight follows its initializer: glorot-uniform bounds and spread, truncated he-normal, zeros, ones and fresh batch-norm statistics', () => {
  const original = trainedLookingModel();
  const model = reinitializeModel(original, { seed: 11, source });
  const weights = weightsByName(model);

  // glorotUniform on a 768 → 30 kernel (flatten of 8·8·12): U(−l, l), l = sqrt(6 / (768 + 30)).
  const wide = weights.get('wide/kernel')!;
  const limit = Math.sqrt(6 / (768 + 30));
  assert.equal(wide.length, 768 * 30);
  assert.ok(
    wide.every((value) => Math.abs(value) <= limit),
    'a value outside the glorot-uniform bounds',
  );
  assert.ok(Math.max(...wide.map(Math.abs)) > 0.99 * limit, 'the values do not reach the bounds');
  const mean = wide.reduce((total, value) => total + value, 0) / wide.length;
  const variance = wide.reduce((total, value) => total + (value - mean) ** 2, 0) / wide.length;
  // A uniform on (−l, l) has variance l²/3; the mean of n draws has a standard error of l/sqrt(3n).
  assert.ok(Math.abs(mean) < (4 * limit) / Math.sqrt(3 * wide.length), `mean ${mean}`);
  assert.ok(Math.abs(variance / ((limit * limit) / 3) - 1) < 0.05, `variance ${variance} against ${(limit * limit) / 3}`);

  // glorotUniform on the 3×3×2→6 conv kernel: fan_in 3·3·2 = 18, fan_out 3·3·6 = 54.
  const convLimit = Math.sqrt(6 / (18 + 54));
  assert.ok(weights.get('conv/kernel')!.every((value) => Math.abs(value) <= convLimit));
  // heNormal is truncated at two standard deviations, σ = sqrt(2 / fan_in), fan_in 30.
  const sigma = Math.sqrt(2 / 30);
  const logits = weights.get('logits/kernel')!;
  assert.ok(logits.every((value) => Math.abs(value) <= 2 * sigma) && logits.some((value) => Math.abs(value) > sigma));

  for (const name of ['conv/bias', 'dw/bias', 'wide/bias', 'logits/bias', 'bn/beta', 'bn/moving_mean']) {
    assert.ok(
      weights.get(name)!.every((value) => value === 0),
      `${name} is not zeros`,
    );
  }
  for (const name of ['bn/gamma', 'bn/moving_variance'])
    assert.ok(
      weights.get(name)!.every((value) => value === 1),
      `${name} is not ones`,
    );
  original.dispose();
  model.dispose();
});

test('re-initialising leaks no tensor, leaves Math.random alone, and keeps names and shapes', () => {
  const original = functionalModel();
  const random = Math.random;
  const before = tf.memory().numTensors;
  const model = reinitializeModel(original, { seed: 1, source, name: 'copy' });
  assert.equal(tf.memory().numTensors, before + original.weights.length);
  assert.equal(Math.random, random);
  assert.equal(model.name, 'copy');
  assert.deepEqual(
    model.layers.map((layer) => layer.name),
    original.layers.map((layer) => layer.name),
  );
  assert.deepEqual(
    model.weights.map((weight) => weight.shape),
    original.weights.map((weight) => weight.shape),
  );
  model.dispose();
  assert.equal(tf.memory().numTensors, before);
  original.dispose();
});

test('a Sequential model is rebuilt as a Sequential, its weights drawn again', () => {
  const original = tf.sequential({
    name: 'plain',
    layers: [
      tf.layers.flatten({ inputShape: [8, 8, 1], name: 'flatten' }),
      tf.layers.dense({ units: 10, name: 'logits', kernelInitializer: tf.initializers.constant({ value: 0.5 }) }),
      tf.layers.dense({ units: 10, name: 'out' }),
    ],
  });
  const model = reinitializeModel(original, { seed: 2, source });
  assert.ok(model instanceof tf.Sequential);
  assert.deepEqual(
    model.layers.map((layer) => layer.name),
    ['flatten', 'logits', 'out'],
  );
  // A constant initializer gives its constant again; a random one new values.
  assert.ok((model.getLayer('logits').getWeights()[0].dataSync() as Float32Array).every((value) => value === 0.5));
  assert.notDeepEqual(model.getLayer('out').getWeights()[0].dataSync(), original.getLayer('out').getWeights()[0].dataSync());
  original.dispose();
  model.dispose();
});

// Recurrent kernels here are glorot-uniform: TensorFlow.js's default, orthogonal, calls chained tensor
// methods (tensor.flatten()) that kdkit's engine does not register, so no such model builds in kdkit.
test('recurrent layers: glorot recurrent kernels, the LSTM forget-gate bias of ones, and a bidirectional pair drawn apart', () => {
  const input = tf.input({ shape: [8, 8, 1], name: 'image' });
  const rows = tf.layers.reshape({ targetShape: [8, 8], name: 'rows' }).apply(input) as tf.SymbolicTensor;
  const lstm = tf.layers
    .lstm({ units: 4, returnSequences: true, recurrentInitializer: 'glorotUniform', unitForgetBias: true, name: 'lstm' })
    .apply(rows) as tf.SymbolicTensor;
  const both = tf.layers
    .bidirectional({ layer: tf.layers.simpleRNN({ units: 3, recurrentInitializer: 'glorotUniform', name: 'rnn' }) as never, name: 'both' })
    .apply(lstm) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 10, name: 'logits' }).apply(both) as tf.SymbolicTensor;
  const original = tf.model({ inputs: input, outputs: logits });
  const model = reinitializeModel(original, { seed: 9, source });
  const again = reinitializeModel(original, { seed: 9, source });
  assert.deepEqual(weightsOf(again), weightsOf(model));
  const [kernel, recurrent, bias] = model.getLayer('lstm').getWeights();
  // glorotUniform on the [4, 16] recurrent kernel: l = sqrt(6 / (4 + 16)).
  assert.deepEqual(recurrent.shape, [4, 16]);
  const recurrentValues = recurrent.dataSync() as Float32Array;
  assert.ok(recurrentValues.every((value) => Math.abs(value) <= Math.sqrt(6 / 20)) && recurrentValues.some((value) => value !== 0));
  // Gates i, f, c, o of 4 units each; unitForgetBias starts f at ones.
  assert.deepEqual([...bias.dataSync()], [0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.ok((kernel.dataSync() as Float32Array).some((value) => value !== 0));
  const [forward, , , backward] = model.getLayer('both').getWeights();
  assert.notDeepEqual(forward.dataSync(), backward.dataSync(), 'the forward and backward RNNs start alike');
  for (const built of [original, model, again]) built.dispose();
});

const weightsOf = (model: tf.LayersModel) => model.getWeights().map((weight) => weight.dataSync());

// An initializer that takes no seed and draws from Math.random, as a custom one might.
const Initializer = Object.getPrototypeOf(tf.initializers.zeros().constructor) as new () => { apply(shape: number[]): tf.Tensor };
class MathRandomInitializer extends Initializer {
  static className = 'KdkitTestMathRandom';
  override apply(shape: number[]): tf.Tensor {
    return tf.tensor(
      Array.from({ length: shape.reduce((size, dim) => size * dim, 1) }, () => Math.random()),
      shape,
    );
  }
  getConfig() {
    return {};
  }
}
// Works for building the original, then fails once armed.
class BrokenInitializer extends Initializer {
  static className = 'KdkitTestBroken';
  static armed = false;
  override apply(shape: number[]): tf.Tensor {
    if (BrokenInitializer.armed) throw new Error('no values today');
    return tf.zeros(shape);
  }
  getConfig() {
    return {};
  }
}
tf.serialization.registerClass(MathRandomInitializer as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);
tf.serialization.registerClass(BrokenInitializer as unknown as tf.serialization.SerializableConstructor<tf.serialization.Serializable>);

function denseWith(initializer: object, name: string): tf.LayersModel {
  return tf.sequential({
    name,
    layers: [tf.layers.dense({ inputShape: [4], units: 3, kernelInitializer: initializer as never, name: `${name}_dense` })],
  });
}

test('an initializer that takes no seed is still deterministic, seeded by position', () => {
  const original = denseWith(new MathRandomInitializer(), 'custom');
  const kernel = (seed: number) => {
    const model = reinitializeModel(original, { seed, source });
    const values = model.weights[0].read().dataSync() as Float32Array;
    model.dispose();
    return values;
  };
  assert.deepEqual(kernel(5), kernel(5));
  assert.notDeepEqual(kernel(5), kernel(6));
  original.dispose();
});

test('a weight that cannot be re-initialised is an InputError naming the layer, and leaks nothing', () => {
  const original = denseWith(new BrokenInitializer(), 'broken');
  BrokenInitializer.armed = true;
  const before = tf.memory().numTensors;
  assert.throws(
    () => reinitializeModel(original, { seed: 1, source }),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /^test: student\.load: layer 'broken_dense': cannot re-initialise weight 'kernel' \(no values today\)/);
      return true;
    },
  );
  assert.equal(tf.memory().numTensors, before);
  original.dispose();
});

test('weight seeds are distinct by position and by run seed, and never 0', () => {
  const seeds = new Set<number>();
  for (let seed = 0; seed < 20; seed++) for (let position = 0; position < 50; position++) seeds.add(weightSeed(seed, position));
  assert.equal(seeds.size, 20 * 50);
  assert.ok([...seeds].every((seed) => Number.isInteger(seed) && seed >= 1 && seed < 2 ** 31));
});
