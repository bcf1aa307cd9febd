import type * as tf from '../engine/tf.js';
import { syntheticSamples, type Dataset } from '../data/dataset.js';
import { predictLogits } from '../models/predict.js';
import { multiplyAccumulates } from '../models/build.js';
import { quantizedSizes } from '../models/quantize.js';
import { measureLatency, timeCallsAsync, type LatencyOptions, type LatencyStats } from './latency.js';
import type { Teacher } from '../teachers/teacher.js';
import { OnnxTeacher } from '../teachers/onnx.js';
import { teacherLogits } from '../teachers/logits.js';
import { selectRows } from '../util/rows.js';
import { measureMemory, type MemoryUse } from './memory.js';
import { classificationMetrics, compareWithTeacher, type ClassificationMetrics } from './metrics.js';

export interface ModelEvaluation extends ClassificationMetrics {
  /** Fidelity: how often the model's prediction equals the teacher's (absent for the teacher). */
  agreementWithTeacher?: number;
  /** Mean KL(teacher ‖ model) over the test set at temperature 1, in nats (absent for the teacher). */
  klFromTeacher?: number;
  /** Null where the runtime does not say (a remote teacher). */
  params: number | null;
  /** Multiply-accumulates per sample: from layer shapes, or an ONNX teacher's from one probe run (null where uncounted, and for remote teachers). */
  macs: number | null;
  /** model.json plus float32 weights in the TensorFlow.js layers format; the file of an ONNX teacher. */
  sizeBytes: number | null;
  /** model.json plus weights, by weight storage (TensorFlow.js models). */
  sizes: { float32: number; float16: number; uint8: number } | null;
  /** Where latency was measured: kdkit's TensorFlow.js engine, onnxruntime-node, or requests to a server. */
  runtime: 'tfjs' | 'onnxruntime' | 'remote';
  /** Median forward-pass time after warm-up, at batch 1 and at batch `latencyBatch`. */
  latencyMs: { batch1: number; batchN: number };
  latencyBatch: number;
  /** Forward-pass timing: p50, p95 and throughput at batch 1 and at batch `latencyBatch`. */
  latency: { batch1: LatencyStats; batchN: LatencyStats };
  /** TensorFlow.js tensor memory of inference (TensorFlow.js models only). */
  memory: MemoryUse | null;
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
  /** The test samples the teacher's logits are meaningful for (an LLM teacher asked about a sample of them); default all. */
  teacherRows?: Int32Array;
  latencyBatch?: number;
  latency?: LatencyOptions;
}

/** Quality on `test` and cost on this engine of one model. */
export async function evaluateModel(model: tf.LayersModel, test: Dataset, options: EvaluateOptions): Promise<EvaluationResult> {
  const latencyBatch = options.latencyBatch ?? 256;
  const testLogits = predictLogits(model, test);
  const sizes = await quantizedSizes(model);
  const batch1 = measureLatency(model, test.inputs, 1, options.latency);
  const batchN = measureLatency(model, test.inputs, latencyBatch, options.latency);
  const atRows = (logits: Float32Array) => (options.teacherRows ? selectRows(logits, test.numClasses, options.teacherRows) : logits);
  const comparison = options.teacherLogits
    ? compareWithTeacher(atRows(testLogits), atRows(options.teacherLogits), test.numClasses)
    : undefined;
  return {
    testLogits,
    evaluation: {
      ...classificationMetrics(testLogits, test.labels, test.numClasses),
      ...(comparison ? { agreementWithTeacher: comparison.agreement, klFromTeacher: comparison.klFromTeacher } : {}),
      params: model.countParams(),
      macs: multiplyAccumulates(model),
      sizeBytes: sizes.float32,
      sizes,
      runtime: 'tfjs',
      latencyMs: { batch1: batch1.p50Ms, batchN: batchN.p50Ms },
      latencyBatch,
      latency: { batch1, batchN },
      memory: measureMemory(model, test.inputs, latencyBatch),
      trainSeconds: options.trainSeconds,
    },
  };
}

/**
 * The teacher's quality on `test` and its cost where it runs: a TensorFlow.js model like any other,
 * an ONNX or remote teacher through its Teacher.
 */
export async function evaluateTeacher(
  step: { teacher: Teacher; model: tf.LayersModel | null; trainSeconds: number },
  test: Dataset,
  options: Omit<EvaluateOptions, 'trainSeconds' | 'teacherLogits'> = {},
): Promise<EvaluationResult> {
  if (step.model) return evaluateModel(step.model, test, { ...options, trainSeconds: step.trainSeconds });
  const { teacher } = step;
  const latencyBatch = options.latencyBatch ?? 256;
  const testLogits = await teacherLogits(teacher, test);
  const timed = (batchSize: number) => {
    const batch = syntheticSamples(test.inputs, batchSize);
    return timeCallsAsync(async () => void (await teacher.logits(batch, batchSize)), batchSize, options.latency);
  };
  const batch1 = await timed(1);
  const batchN = await timed(latencyBatch);
  const onnx = teacher instanceof OnnxTeacher ? teacher : null;
  return {
    testLogits,
    evaluation: {
      ...classificationMetrics(testLogits, test.labels, test.numClasses),
      params: onnx ? onnx.parameterCount : null,
      macs: onnx ? await onnx.multiplyAccumulates() : null,
      sizeBytes: onnx ? onnx.sizeBytes : null,
      sizes: null,
      runtime: teacher.info.kind === 'remote' ? 'remote' : 'onnxruntime',
      latencyMs: { batch1: batch1.p50Ms, batchN: batchN.p50Ms },
      latencyBatch,
      latency: { batch1, batchN },
      memory: null,
      trainSeconds: 0,
    },
  };
}
