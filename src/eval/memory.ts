import * as tf from '../engine/tf.js';
import { forward } from '../models/forward.js';

export interface MemoryUse {
  /** Bytes of the model's weights. */
  weightBytes: number;
  /** Peak bytes one forward pass at batch 1 needs: weights, input and the largest set of live intermediates. */
  peakBytesBatch1: number;
  /** The same at batch `latencyBatch`. */
  peakBytesBatchN: number;
}

/** Inference memory from TensorFlow.js's own tensor accounting (tf.profile), independent of other live models. */
export async function measureMemory(model: tf.LayersModel, sampleShape: readonly number[], batchSize: number): Promise<MemoryUse> {
  const weightBytes = model.weights.reduce((sum, weight) => sum + weight.read().size * 4, 0);
  return {
    weightBytes,
    peakBytesBatch1: weightBytes + (await forwardBytes(model, sampleShape, 1)),
    peakBytesBatchN: weightBytes + (await forwardBytes(model, sampleShape, batchSize)),
  };
}

/** Input bytes plus the peak growth of live tensor bytes during one forward pass. */
async function forwardBytes(model: tf.LayersModel, sampleShape: readonly number[], batchSize: number): Promise<number> {
  const input = tf.zeros([batchSize, ...sampleShape]);
  const before = tf.memory().numBytes;
  const info = await tf.profile(() => forward(model, input) as tf.Tensor);
  (info.result as tf.Tensor).dispose();
  input.dispose();
  return input.size * 4 + Math.max(0, info.peakBytes - before);
}
