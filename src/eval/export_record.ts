/** What the run exported, as recorded in summary.json. */
import type { LatencyStats } from './latency.js';
import type { Quantization } from '../models/quantize.js';

export type { Quantization };

/** One TensorFlow.js layers-format copy of the student. */
export interface TfjsExport {
  quantization: Quantization;
  /** Directory, relative to the run directory. */
  path: string;
  /** model.json plus weights. */
  sizeBytes: number;
  /** Test accuracy of the exported copy, loaded back with tf.loadLayersModel. */
  accuracy: number;
  /** Accuracy of the float32 student minus this copy's, in [0, 1]. */
  accuracyDrop: number;
}

export interface OnnxExport {
  path: string;
  layout: 'nhwc' | 'nchw';
  quantization: Quantization;
  sizeBytes: number;
  opset: number;
  /** Largest |logit difference| from TensorFlow.js over the test set. */
  maxAbsDiff: number;
  /** Fraction of test samples where ONNX Runtime and TensorFlow.js predict the same class. */
  agreement: number;
  /** Test accuracy in ONNX Runtime. */
  accuracy: number;
  /**
   * Latency in onnxruntime-node at batch 1 and batch N; for a text student also `query`: one text
   * tokenized and classified, as a deployment pays per query (export/query_latency.ts).
   */
  latency: { batch1: LatencyStats; batchN: LatencyStats; query?: LatencyStats };
}

export interface ExportRecord {
  tfjs: TfjsExport[];
  /** student.onnx (float32) first, then quantized copies; empty with `export.onnx: false`. */
  onnx: OnnxExport[];
  /** A text student's folder for transformers.js' pipeline('text-classification', dir) (export/transformers_js.ts). */
  transformersJs?: string;
}
