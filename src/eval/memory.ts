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

/** Inference memory from TensorFlow.js's own tensor accounting, independent of other live models. */
export function measureMemory(model: tf.LayersModel, inputs: readonly InputField[], batchSize: number): MemoryUse {
  const weightBytes = model.weights.reduce((sum, weight) => sum + weight.read().size * 4, 0);
  return {
    weightBytes,
    peakBytesBatch1: weightBytes + forwardBytes(model, inputs, 1),
    peakBytesBatchN: weightBytes + forwardBytes(model, inputs, batchSize),
  };
}

/** Input bytes plus the peak growth of live tensor bytes during one forward pass. */
function forwardBytes(model: tf.LayersModel, inputs: readonly InputField[], batchSize: number): number {
  const batch = syntheticTensors(inputs, batchSize);
  const tensors = Object.values(batch);
  try {
    const fed = modelInputs(model, batch);
    // float32 and int32 alike take 4 bytes a value.
    return tensors.reduce((total, tensor) => total + tensor.size * 4, 0) + peakGrowthBytes(() => forward(model, fed) as tf.Tensor);
  } finally {
    tf.dispose(tensors);
  }
}

/**
 * The peak growth of live tensor bytes while `run` runs, from the engine's record of each kernel as
 * tf.profile keeps it, but synchronously: tf.profile awaits its query with profiling switched on
 * for the whole process, so another task's kernels in that gap would count, and another profile
 * starting then would reset the record. This one records into a profile of its own, restoring the
 * engine's (and any tf.profile in progress) before it returns.
 */
function peakGrowthBytes(run: () => tf.Tensor): number {
  const state = tf.engine().state;
  const outer = { profiling: state.profiling, activeProfile: state.activeProfile };
  const before = state.numBytes;
  const profile: typeof state.activeProfile = { newBytes: 0, newTensors: 0, peakBytes: 0, kernels: [], result: undefined, kernelNames: [] };
  state.activeProfile = profile;
  state.profiling = true;
  try {
    run().dispose();
  } finally {
    state.profiling = outer.profiling;
    state.activeProfile = outer.activeProfile;
  }
  return Math.max(0, ...profile.kernels.map((kernel) => kernel.totalBytesSnapshot - before));
}
