/**
 * `kdkit export MODEL --format tfjs|onnx`: a TensorFlow.js layers model as a deployable file.
 * The export is checked before it is written: an ONNX file must reproduce TensorFlow.js's
 * logits (on the test split when --dataset is given, else on random inputs), and with --dataset
 * the accuracy lost to quantization is measured on the test split.
 */
import { resolve } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { loadDataset } from '../data/index.js';
import { imageDataset, type Dataset } from '../data/dataset.js';
import { loadModelDir, writeModelDir } from '../models/io.js';
import { accuracy, predictLogits } from '../models/predict.js';
import { serializeQuantized } from '../models/quantize.js';
import { exportOnnx, type OnnxLayout } from '../export/onnx.js';
import { compareLogits, onnxLogits } from '../export/onnx_run.js';
import { onnxTolerance } from '../export/student.js';
import type { Quantization } from '../eval/export_record.js';
import { writeFileAtomic } from '../util/atomic.js';
import { bytes, percent } from '../report/table.js';
import { datasetOfOptions, type DatasetOptions } from './dataset_option.js';

export interface ExportCommandOptions extends DatasetOptions {
  format: 'tfjs' | 'onnx';
  out: string;
  quantize?: 'float16' | 'uint8';
  layout: OnnxLayout;
  seed: number;
}

export async function exportCommand(modelPath: string, options: ExportCommandOptions, write: (text: string) => void): Promise<boolean> {
  const spec = datasetOfOptions(options);
  await initEngine({ backend: 'wasm' });
  const model = await loadModelDir(modelPath);
  const quantization: Quantization = options.quantize ?? 'float32';
  const test = spec ? loadDataset(spec, options.seed).test : undefined;
  const checkSet = test ?? randomSamples(model, 64);
  const reference = predictLogits(model, checkSet);
  const out = resolve(options.out);
  try {
    if (options.format === 'tfjs') {
      const files = await serializeQuantized(model, quantization);
      const saved = writeModelDir(out, files);
      write(`wrote ${saved.modelJsonPath} (${bytes(saved.sizeBytes)}, ${quantization} weights)\n`);
      if (test) {
        const loaded = await loadModelDir(saved.modelJsonPath);
        const exportedAccuracy = accuracy(predictLogits(loaded, test), test.labels);
        loaded.dispose();
        const before = accuracy(reference, test.labels);
        write(
          `test accuracy: ${percent(before)} as float32, ${percent(exportedAccuracy)} exported (${((before - exportedAccuracy) * 100).toFixed(2)} points lost to quantization)\n`,
        );
      }
      return true;
    }
    const bytesOfModel = exportOnnx(model, {
      layout: options.layout,
      quantize: quantization === 'float32' ? 'none' : quantization,
      source: modelPath,
    });
    const logits = await onnxLogits(bytesOfModel, checkSet, { layout: options.layout });
    const { maxAbsDiff, agreement } = compareLogits(logits, reference, checkSet.numClasses);
    const on = test ? `the ${test.labels.length} test samples` : `${checkSet.labels.length} random inputs`;
    write(
      `ONNX Runtime vs TensorFlow.js on ${on}: max |logit difference| ${maxAbsDiff.toExponential(2)}, same prediction on ${percent(agreement)}\n`,
    );
    if (quantization === 'float32' && !(maxAbsDiff <= onnxTolerance)) {
      write(`not written: the ONNX export differs from TensorFlow.js by more than ${onnxTolerance}\n`);
      return false;
    }
    writeFileAtomic(out, bytesOfModel);
    write(`wrote ${out} (${bytes(bytesOfModel.byteLength)}, ${quantization} weights, ${options.layout.toUpperCase()} input)\n`);
    if (test)
      write(
        `test accuracy: ${percent(accuracy(reference, test.labels))} in TensorFlow.js, ${percent(accuracy(logits, test.labels))} in ONNX Runtime\n`,
      );
    return true;
  } finally {
    model.dispose();
  }
}

/** Seeded uniform inputs in [0, 1] shaped for the model, as a label-less check set. */
function randomSamples(model: tf.LayersModel, count: number): Dataset {
  const sampleShape = model.inputs[0].shape.slice(1) as [number, number, number];
  const classes = model.outputs[0].shape[model.outputs[0].shape.length - 1] as number;
  const images = tf.tidy(() => tf.randomUniform([count, ...sampleShape], 0, 1, 'float32', 11).dataSync() as Float32Array);
  return imageDataset({ name: 'random', images, labels: new Int32Array(count), sampleShape, numClasses: classes, classNames: [] });
}
