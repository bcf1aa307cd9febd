import type * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import { accuracy, predictLogits } from '../train/batches.js';
import { multiplyAccumulates } from '../models/build.js';
import { serializedSizeBytes } from '../models/io.js';
import { measureLatencyMs } from './latency.js';

export interface ModelEvaluation {
  /** Top-1 accuracy on the test set. */
  accuracy: number;
  params: number;
  /** Multiply-accumulates per sample, from layer shapes. */
  macs: number;
  /** model.json plus float32 weights in the TensorFlow.js layers format. */
  sizeBytes: number;
  /** Median forward-pass time after warm-up, at batch 1 and at batch `latencyBatch`. */
  latencyMs: { batch1: number; batchN: number };
  latencyBatch: number;
  /** Wall time spent training this model in this run (0 when loaded). */
  trainSeconds: number;
}

export interface EvaluationResult {
  evaluation: ModelEvaluation;
  /** Test-set logits, row-major [n, classes], for agreement statistics. */
  testLogits: Float32Array;
}

export async function evaluateModel(model: tf.LayersModel, test: Dataset, options: { trainSeconds: number; latencyBatch?: number }): Promise<EvaluationResult> {
  const latencyBatch = options.latencyBatch ?? 256;
  const testLogits = predictLogits(model, test);
  return {
    testLogits,
    evaluation: {
      accuracy: accuracy(testLogits, test.labels),
      params: model.countParams(),
      macs: multiplyAccumulates(model),
      sizeBytes: await serializedSizeBytes(model),
      latencyMs: {
        batch1: measureLatencyMs(model, test.sampleShape, 1),
        batchN: measureLatencyMs(model, test.sampleShape, latencyBatch),
      },
      latencyBatch,
      trainSeconds: options.trainSeconds,
    },
  };
}
