/**
 * Step 7 of a run: the student in every deployable form, each checked on the test set.
 * `student/` is the float32 TensorFlow.js model; `student-float16/` and `student-uint8/` hold
 * quantized copies, loaded back the way a browser would and re-evaluated; `student.onnx` is
 * verified against TensorFlow.js in ONNX Runtime and timed there.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TextTokenizer } from '../data/text/tokenizer.js';
import { measureQueryLatency } from './query_latency.js';
import { TRANSFORMERS_JS_DIR, writeTransformersJsDir } from './transformers_js.js';
import type * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import type { DeployConfig, ExportConfig } from '../config/schema.js';
import { loadModelDir, saveModelDir } from '../models/io.js';
import { accuracy, predictLogits } from '../models/predict.js';
import { saveQuantizedModelDir } from '../models/quantize.js';
import { exportOnnx, onnxOpset } from './onnx.js';
import { writeFileAtomic } from '../util/atomic.js';
import { preprocessOf, writePageFiles } from './page_files.js';
import { compareLogits, measureOnnxLatency, onnxLogits } from './onnx_run.js';
import type { ExportRecord, OnnxExport, Quantization, TfjsExport } from '../eval/export_record.js';
import type { LatencyOptions } from '../eval/latency.js';

/** Largest |logit difference| a float32 ONNX export may show against TensorFlow.js. */
export const onnxTolerance = 1e-4;

export interface ExportOptions {
  outDir: string;
  test: Dataset;
  /** The float32 student's test logits and accuracy, measured in evaluation. */
  testLogits: Float32Array;
  exportConfig: ExportConfig;
  deploy?: DeployConfig;
  latencyBatch: number;
  latency?: LatencyOptions;
  info?: (message: string) => void;
  /** A text student's tokenizer, the test texts and their length: timed per query, and laid out for transformers.js. */
  text?: { tokenizer: TextTokenizer; texts: readonly string[]; maxLength: number };
}

export async function exportStudent(student: tf.LayersModel, options: ExportOptions): Promise<ExportRecord> {
  const { outDir, test, testLogits } = options;
  const baseAccuracy = accuracy(testLogits, test.labels);
  const saved = await saveModelDir(student, join(outDir, 'student'));
  // The tokenizer sits beside student/ in the run directory.
  writePageFiles(
    join(outDir, 'student'),
    test.classNames,
    preprocessOf(
      test,
      options.exportConfig.onnxLayout,
      options.text ? { file: '../tokenizer.json', padId: options.text.tokenizer.padId } : null,
    ),
  );
  const tfjs: TfjsExport[] = [
    { quantization: 'float32', path: 'student', sizeBytes: saved.sizeBytes, accuracy: baseAccuracy, accuracyDrop: 0 },
  ];
  const shipped = options.deploy?.quantization ?? 'float32';
  const quantizations = new Set<Quantization>([...options.exportConfig.quantize, ...(shipped === 'float32' ? [] : [shipped])]);
  for (const quantization of quantizations) {
    const path = `student-${quantization}`;
    const copy = await saveQuantizedModelDir(student, join(outDir, path), quantization);
    const loaded = await loadModelDir(copy.modelJsonPath);
    const copyAccuracy = accuracy(predictLogits(loaded, test), test.labels);
    loaded.dispose();
    tfjs.push({ quantization, path, sizeBytes: copy.sizeBytes, accuracy: copyAccuracy, accuracyDrop: baseAccuracy - copyAccuracy });
    options.info?.(
      `student exported with ${quantization} weights: ${path}/ (${copy.sizeBytes} bytes, test accuracy ${(copyAccuracy * 100).toFixed(2)}%)`,
    );
  }
  if (!options.exportConfig.onnx) return { tfjs, onnx: [] };
  const onnx: OnnxExport[] = [];
  for (const quantization of ['float32', ...quantizations] as Quantization[]) {
    onnx.push(await exportOnnxCopy(student, quantization, options));
  }
  if (!options.text) return { tfjs, onnx };
  const dir = writeTransformersJsDir(outDir, {
    onnx: readFileSync(join(outDir, onnx[0].path)),
    tokenizer: options.text.tokenizer,
    maxLength: options.text.maxLength,
    classNames: test.classNames,
  });
  options.info?.(`student laid out for transformers.js: ${dir} (pipeline('text-classification', dir))`);
  return { tfjs, onnx, transformersJs: TRANSFORMERS_JS_DIR };
}

/** student.onnx (float32) or student-<quantization>.onnx, compared with TensorFlow.js on the test set and timed. */
async function exportOnnxCopy(student: tf.LayersModel, quantization: Quantization, options: ExportOptions): Promise<OnnxExport> {
  const { test, testLogits } = options;
  const layout = options.exportConfig.onnxLayout;
  const path = quantization === 'float32' ? 'student.onnx' : `student-${quantization}.onnx`;
  const bytes = exportOnnx(student, { layout, quantize: quantization === 'float32' ? 'none' : quantization, source: 'student' });
  const logits = await onnxLogits(bytes, test, { layout });
  const { maxAbsDiff, agreement } = compareLogits(logits, testLogits, test.numClasses);
  // A float32 export that does not reproduce TensorFlow.js is a bug in the exporter: never ship it.
  if (quantization === 'float32' && !(maxAbsDiff <= onnxTolerance)) {
    throw new Error(
      `the ONNX export differs from TensorFlow.js by ${maxAbsDiff} on the test set (tolerance ${onnxTolerance}); student.onnx not written`,
    );
  }
  writeFileAtomic(join(options.outDir, path), bytes);
  const record: OnnxExport = {
    path,
    layout,
    quantization,
    sizeBytes: bytes.byteLength,
    opset: onnxOpset,
    maxAbsDiff,
    agreement,
    accuracy: accuracy(logits, test.labels),
    latency: {
      batch1: await measureOnnxLatency(bytes, test.inputs, 1, { ...options.latency, layout }),
      batchN: await measureOnnxLatency(bytes, test.inputs, options.latencyBatch, { ...options.latency, layout }),
      ...(options.text && { query: await measureQueryLatency(bytes, options.text, options.latency) }),
    },
  };
  options.info?.(
    `student exported to ONNX: ${path} (${record.sizeBytes} bytes; ONNX Runtime agrees with TensorFlow.js on ${(record.agreement * 100).toFixed(2)}% of the test set, max |logit difference| ${record.maxAbsDiff.toExponential(1)})`,
  );
  return record;
}
