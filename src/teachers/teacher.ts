/**
 * The one interface every teacher meets, whatever runs it: a TensorFlow.js model in this process,
 * an ONNX file in onnxruntime-node, or a model behind an inference server. A batch goes in as the
 * dataset holds it, a record of named fields (images NHWC float32 in [0, 1], token ids int32);
 * logits come out. Which field feeds which of the model's inputs (models/inputs.ts pairInputs),
 * dtype changes (int64 for ONNX), layout changes and normalization the teacher needs are the
 * adapter's business (preprocess.ts), never the caller's.
 */
import type { SampleBatch } from '../data/dataset.js';

export type TeacherKind = 'tfjs' | 'onnx' | 'remote' | 'llm';

export interface TeacherInfo {
  kind: TeacherKind;
  /** For logs and summary.json, e.g. "ONNX teacher.onnx (input 'input', NCHW)". */
  description: string;
  /**
   * Content identity for the soft-label store: a hash over the model's bytes (or, remote, the
   * endpoint and the served model's name and version) and the preprocessing. Equal fingerprints
   * give equal logits.
   */
  fingerprint: string;
  /** Classes the teacher outputs, when its metadata says (null when only a run can tell). */
  classes: number | null;
  /** Names `features()` accepts: ONNX extra outputs, TensorFlow.js layer names. */
  featureNames: readonly string[];
}

export interface Teacher {
  readonly info: TeacherInfo;
  /** Samples per call that suit this teacher (a remote one's request size). */
  readonly batchSize: number;
  /**
   * Logits for `count` samples of `batch` (each field row-major [count, ...shape], the dataset's
   * fields the teacher was opened with): row-major [count, classes], before any temperature. Bad
   * shapes or missing fields reject with an InputError that names the teacher and what it expected.
   */
  logits(batch: SampleBatch, count: number): Promise<Float32Array>;
  /** Named intermediate outputs for the same batch, each row-major [count, ...featureShape]. */
  features(batch: SampleBatch, count: number, names: readonly string[]): Promise<Record<string, Float32Array>>;
  /**
   * Both of the above from one forward pass, where the runtime can (an ONNX session asked for
   * several outputs): what online soft labels with feature terms call on every batch.
   */
  logitsAndFeatures?(
    batch: SampleBatch,
    count: number,
    names: readonly string[],
  ): Promise<{ logits: Float32Array; features: Record<string, Float32Array> }>;
  /** The shape of one sample's feature `name` (NHWC for maps), or null when the teacher has no such output. */
  featureShape?(name: string): readonly number[] | null;
  dispose(): Promise<void>;
}
