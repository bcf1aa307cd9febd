import * as tf from '../engine/tf.js';
import type { InputField } from '../data/dataset.js';
import { forward } from '../models/forward.js';
import { modelInputs, syntheticTensors } from '../models/inputs.js';

export interface MemoryUse {
  /** Bytes of the model's weights. */
  weightBytes: number;
  /** Peak bytes one forward pass at batch 1 needs: weights, input and the largest set of live intermediates. */
  peakBytesBatch1: number;
  /** The same at batch `latencyBatch`. */
  peakBytesBatchN: number;
}

/** Inference memory from TensorFlow.js's own tensor accounting (tf.profile), independent of other live models. */
export async function measureMemory(model: tf.LayersModel, inputs: readonly InputField[], batchSize: number): Promise<MemoryUse> {
  const weightBytes = model.weights.reduce((sum, weight) => sum + weight.read().size * 4, 0);
  return {
    weightBytes,
    peakBytesBatch1: weightBytes + (await forwardBytes(model, inputs, 1)),
    peakBytesBatchN: weightBytes + (await forwardBytes(model, inputs, batchSize)),
  };
}

/** Input bytes plus the peak growth of live tensor bytes during one forward pass. */
async function forwardBytes(model: tf.LayersModel, inputs: readonly InputField[], batchSize: number): Promise<number> {
  const batch = syntheticTensors(inputs, batchSize);
  const tensors = Object.values(batch);
  try {
    const fed = modelInputs(model, batch);
    const before = tf.memory().numBytes;
    const info = await tf.profile(() => forward(model, fed) as tf.Tensor);
    (info.result as tf.Tensor).dispose();
    // float32 and int32 alike take 4 bytes a value.
    return tensors.reduce((total, tensor) => total + tensor.size * 4, 0) + Math.max(0, info.peakBytes - before);
  } finally {
    tf.dispose(tensors);
  }
}
