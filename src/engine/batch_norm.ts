/**
 * Batch norm in training mode as one op over two fused kernels (./kernels/batch_norm.ts): the
 * forward pass returns the batch's statistics with the output, and the backward pass is one kernel
 * for x, scale and offset, where tf.moments + tf.batchNorm and their gradients make ~12 passes
 * over the activations. ./batch_norm_layer.ts has tf.layers.batchNormalization train with it.
 */
import { engine, fill, type Tensor } from '@tensorflow/tfjs-core';
import { BatchNormTraining } from './kernels/batch_norm.js';

export interface BatchNormTrainingResult {
  /** (x − mean) · scale / √(variance + ε) + offset. */
  y: Tensor;
  /** The batch's mean per channel. */
  mean: Tensor;
  /** The batch's biased variance per channel (divided by the number of values, not one less). */
  variance: Tensor;
}

/**
 * Batch norm in training mode over every axis of `x` but the last: normalizes by the batch's own
 * statistics and returns them. `scale` and `offset` are [channels], or null for none (1 and 0).
 * Differentiable in x, scale and offset, and through the returned statistics.
 */
export function batchNormTraining(x: Tensor, scale: Tensor | null, offset: Tensor | null, epsilon: number): BatchNormTrainingResult {
  const channels = x.shape[x.rank - 1];
  if (x.rank < 1 || x.dtype !== 'float32')
    throw new Error(`batchNormTraining: x must be float32 of rank ≥ 1, got ${x.dtype} of rank ${x.rank}.`);
  const fillers: Tensor[] = [];
  const perChannel = (tensor: Tensor | null, value: number, name: string) => {
    if (tensor !== null) {
      if (tensor.rank !== 1 || tensor.shape[0] !== channels) {
        throw new Error(`batchNormTraining: ${name} must have shape [${channels}], got [${tensor.shape}].`);
      }
      return tensor;
    }
    const filler = fill([channels], value);
    fillers.push(filler);
    return filler;
  };
  const inputs = { x, scale: perChannel(scale, 1, 'scale'), offset: perChannel(offset, 0, 'offset') };
  const [y, mean, variance] = engine().runKernel(BatchNormTraining, inputs, { epsilon }) as Tensor[];
  // The gradient keeps its own copy of the scale it needs.
  for (const filler of fillers) filler.dispose();
  return { y, mean, variance };
}
