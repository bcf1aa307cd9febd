/** What the zoo's architectures share: build options, batch norm, stage outputs, channel rounding. */
import * as tf from '../../engine/tf.js';

export interface ZooBuildOptions {
  /** [height, width, channels] of one sample. */
  inputShape: readonly [number, number, number];
  numClasses: number;
  /** Seeds the weight initializers. */
  seed: number;
  name: string;
}

/**
 * Batch norm with PyTorch's defaults: ε = 1e-5, and moving statistics that keep 0.9 of their value
 * per step (PyTorch's momentum 0.1). Keras' MobileNetV2 keeps 0.999, which takes thousands of
 * steps to forget the initial statistics; kdkit's runs are often a few hundred steps long.
 */
export const batchNorm = (name: string) => tf.layers.batchNormalization({ epsilon: 1e-5, momentum: 0.9, name });

/**
 * Names the output of stage `stage` `stage_{stage}` for feature taps: a linear activation, which
 * passes the tensor on as it is and adds nothing to an ONNX export.
 */
export const stageOutput = (x: tf.SymbolicTensor, stage: number) =>
  tf.layers.activation({ activation: 'linear', name: `stage_${stage}` }).apply(x) as tf.SymbolicTensor;

/**
 * `value` rounded to the nearest multiple of `divisor` (at least `divisor`), never more than 10 %
 * below it: Keras' and torchvision's `_make_divisible`.
 */
export function makeDivisible(value: number, divisor = 8): number {
  const rounded = Math.max(divisor, Math.floor((value + divisor / 2) / divisor) * divisor);
  return rounded < 0.9 * value ? rounded + divisor : rounded;
}
