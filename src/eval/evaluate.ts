import type * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import { predictLogits } from '../train/batches.js';
import { multiplyAccumulates } from '../models/build.js';
import { quantizedSizes } from '../export/tfjs.js';
import { measureLatency, type LatencyOptions, type LatencyStats } from './latency.js';
import { measureMemory, type MemoryUse } from './memory.js';
import { classificationMetrics, compareWithTeacher, type ClassificationMetrics } from './metrics.js';

export interface ModelEvaluation extends ClassificationMetrics {
  /** Fidelity: how often the model's prediction equals the teacher's (absent for the teacher). */
  agreementWithTeacher?: number;
  /** Mean KL(teacher ‖ model) over the test set at temperature 1, in nats (absent for the teacher). */
  klFromTeacher?: number;
  params: number;
  /** Multiply-accumulates per sample, from layer shapes. */
  macs: number;
  /** model.json plus float32 weights in the TensorFlow.js layers format. */
  sizeBytes: number;
  /** model.json plus weights, by weight storage. */
  sizes: { float32: number; float16: number; uint8: number };
  /** TensorFlow.js median forward-pass time after warm-up, at batch 1 and at batch `latencyBatch`. */
  latencyMs: { batch1: number; batchN: number };
  latencyBatch: number;
  /** TensorFlow.js forward-pass timing: p50, p95 and throughput at batch 1 and at batch `latencyBatch`. */
  latency: { batch1: LatencyStats; batchN: LatencyStats };
  memory: MemoryUse;
  /** Wall time spent training this model in this run (0 when loaded). */
  trainSeconds: number;
}

export interface EvaluationResult {
  evaluation: ModelEvaluation;
  /** Test-set logits, row-major [n, classes]. */
  testLogits: Float32Array;
}

export interface EvaluateOptions {
  trainSeconds: number;
  /** Test logits of the teacher, for fidelity and KL. */
  teacherLogits?: Float32Array;
  latencyBatch?: number;
  latency?: LatencyOptions;
}

/** Quality on `test` and cost on this engine of one model. */
export async function evaluateModel(model: tf.LayersModel, test: Dataset, options: EvaluateOptions): Promise<EvaluationResult> {
  const latencyBatch = options.latencyBatch ?? 256;
  const testLogits = predictLogits(model, test);
  const sizes = await quantizedSizes(model);
  const batch1 = measureLatency(model, test.sampleShape, 1, options.latency);
  const batchN = measureLatency(model, test.sampleShape, latencyBatch, options.latency);
  const comparison = options.teacherLogits ? compareWithTeacher(testLogits, options.teacherLogits, test.numClasses) : undefined;
  return {
    testLogits,
    evaluation: {
      ...classificationMetrics(testLogits, test.labels, test.numClasses),
      ...(comparison ? { agreementWithTeacher: comparison.agreement, klFromTeacher: comparison.klFromTeacher } : {}),
      params: model.countParams(),
      macs: multiplyAccumulates(model),
      sizeBytes: sizes.float32,
      sizes,
      latencyMs: { batch1: batch1.p50Ms, batchN: batchN.p50Ms },
      latencyBatch,
      latency: { batch1, batchN },
      memory: await measureMemory(model, test.sampleShape, latencyBatch),
      trainSeconds: options.trainSeconds,
    },
  };
}
