import type * as tf from '../engine/tf.js';

/**
 * The model's outputs for a batch in inference mode (dropout off), in one pass. This is
 * tf.LayersModel.execute, not predict: predict splits its input into batches of 32 unless told
 * otherwise (at batch 256 the Fashion-MNIST student took 6.4 ms instead of 1.5 ms), and even in
 * one batch its slicing and concatenation doubled batch-1 latency (0.25 against 0.12 ms).
 * `inputs` are in the order of model.inputs (models/inputs.ts modelInputs orders a record).
 */
export function forward(model: tf.LayersModel, inputs: tf.Tensor | tf.Tensor[]): tf.Tensor | tf.Tensor[] {
  const names = model.outputs.map((output) => output.name);
  return model.execute(inputs, names.length === 1 ? names[0] : names);
}
