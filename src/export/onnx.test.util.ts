/** Helpers for the ONNX export tests: seeded weights, and TensorFlow.js vs ONNX Runtime on random inputs. */
import * as tf from '../engine/tf.js';
import { exportOnnx, type OnnxExportOptions } from './onnx.js';
import { runOnnx, samplesInLayout } from './onnx_run.js';

/**
 * Replaces every weight with seeded random values: Glorot-uniform kernels, small biases, and
 * batch-norm statistics far from the identity (γ, β, mean, variance), so folding is exercised.
 */
export function randomizeWeights(model: tf.LayersModel, seed: number): void {
  let draw = seed * 100;
  for (const layer of model.layers) {
    const values = layer.weights.map((weight) => {
      const shape = weight.shape as number[];
      const name = weight.originalName;
      const uniform = (low: number, high: number) => tf.randomUniform(shape, low, high, 'float32', ++draw);
      if (name.endsWith('/moving_variance')) return uniform(0.5, 2);
      if (name.endsWith('/gamma')) return uniform(0.5, 1.5);
      if (shape.length === 1) return uniform(-0.3, 0.3);
      const receptive = shape.slice(0, -2).reduce((product, size) => product * size, 1);
      const limit = Math.sqrt(6 / (receptive * (shape[shape.length - 2] + shape[shape.length - 1])));
      return uniform(-limit, limit);
    });
    layer.setWeights(values);
    tf.dispose(values);
  }
}

/** Max |TensorFlow.js − ONNX Runtime| of the outputs on `count` seeded inputs in [0, 1]. */
export async function maxExportDiff(model: tf.LayersModel, options: OnnxExportOptions = {}, count = 5, seed = 1): Promise<number> {
  const sampleShape = model.inputs[0].shape.slice(1) as number[];
  const input = tf.randomUniform([count, ...sampleShape], 0, 1, 'float32', seed);
  const images = input.dataSync() as Float32Array;
  const expected = tf.tidy(() => (model.predict(input) as tf.Tensor).dataSync() as Float32Array);
  input.dispose();
  const batch = samplesInLayout(images, count, sampleShape, options.layout ?? 'nhwc');
  const actual = await runOnnx(exportOnnx(model, options), batch.data, batch.dims);
  if (actual.length !== expected.length) throw new Error(`ONNX output has ${actual.length} values, TensorFlow.js ${expected.length}`);
  return expected.reduce((max, value, i) => Math.max(max, Math.abs(value - actual[i])), 0);
}

/** A functional model from `input` through `build`, with seeded weights. */
export function seededModel(inputShape: number[], build: (input: tf.SymbolicTensor) => tf.SymbolicTensor, seed = 1): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'image' });
  const model = tf.model({ inputs: input, outputs: build(input) });
  randomizeWeights(model, seed);
  return model;
}
