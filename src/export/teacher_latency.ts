/**
 * The teacher on the student's deployment runtime: a TensorFlow.js teacher exported to ONNX in
 * memory (never written) and timed in onnxruntime-node exactly as student.onnx is, so that the
 * report can say how much faster the student is on ONNX Runtime as well as on TensorFlow.js. An
 * ONNX teacher is already timed there (eval/evaluate.ts).
 */
import type * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import { InputError } from '../errors.js';
import type { LatencyOptions, LatencyStats } from '../eval/latency.js';
import { exportOnnx } from './onnx.js';
import { measureOnnxLatency } from './onnx_run.js';

/** Batch-1 latency of `teacher` in ONNX Runtime; null (saying why through `info`) when it cannot be exported. */
export async function teacherOnnxLatency(
  teacher: tf.LayersModel,
  options: { test: Dataset; latency?: LatencyOptions; info?: (message: string) => void },
): Promise<{ batch1: LatencyStats } | null> {
  let bytes: Uint8Array;
  try {
    bytes = exportOnnx(teacher, { source: 'the teacher' });
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    options.info?.(`the teacher is not timed on ONNX Runtime: ${error.message}`);
    return null;
  }
  return { batch1: await measureOnnxLatency(bytes, options.test.inputs, 1, options.latency) };
}
