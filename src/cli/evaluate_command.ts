/**
 * `kdkit eval MODEL`: quality and cost of one model on a dataset's test split, on the engine it
 * will be deployed with: TensorFlow.js for a layers model, ONNX Runtime for a .onnx file.
 */
import { extname, resolve } from 'node:path';
import { initEngine } from '../engine/index.js';
import { loadDataset, type Dataset } from '../data/index.js';
import { checkLatencyBatch, tensorMemory } from '../data/batch_limits.js';
import { loadModelDir } from '../models/io.js';
import { checkModelInputs } from '../models/inputs.js';
import { evaluateModel } from '../eval/evaluate.js';
import { classificationMetrics, compareWithTeacher } from '../eval/metrics.js';
import { predictLogits } from '../models/predict.js';
import { measureOnnxLatency, onnxLogits } from '../export/onnx_run.js';
import { InputError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { bytes, percent } from '../report/table.js';
import { datasetOfOptions, type DatasetOptions } from './dataset_option.js';
import { checkFiniteInitializers, decodeOnnxTeacher } from '../teachers/onnx_check.js';

export interface EvaluateCommandOptions extends DatasetOptions {
  teacher?: string;
  layout: 'nhwc' | 'nchw';
  json?: string;
  seed: number;
  backend?: 'wasm' | 'cpu';
  latencyBatch: number;
}

export async function evaluateCommand(modelPath: string, options: EvaluateCommandOptions, write: (text: string) => void): Promise<void> {
  await initEngine({ backend: options.backend ?? 'wasm' });
  const spec = datasetOfOptions(options) ?? { name: 'digits' };
  const { test } = loadDataset(spec, options.seed);
  const onnx = extname(modelPath).toLowerCase() === '.onnx';
  checkLatencyBatch(options.latencyBatch, test, tensorMemory(onnx ? 'onnxruntime' : (options.backend ?? 'wasm')));
  const teacherLogits = options.teacher ? await testLogitsOf(options.teacher, test, options.layout) : undefined;
  let report: Record<string, unknown>;
  if (onnx) {
    const bytesOfModel = readModelFile(modelPath);
    const logits = await onnxLogits(bytesOfModel, test, { layout: options.layout, source: modelPath });
    report = {
      runtime: 'onnxruntime',
      ...classificationMetrics(logits, test.labels, test.numClasses),
      ...(teacherLogits ? teacherFields(logits, teacherLogits, test.numClasses) : {}),
      sizeBytes: bytesOfModel.byteLength,
      latency: {
        batch1: await measureOnnxLatency(bytesOfModel, test.inputs, 1, { layout: options.layout }),
        batchN: await measureOnnxLatency(bytesOfModel, test.inputs, options.latencyBatch, { layout: options.layout }),
      },
    };
  } else {
    const model = await loadModelDir(modelPath);
    checkShapes(model, test, modelPath);
    const result = await evaluateModel(model, test, { trainSeconds: 0, teacherLogits, latencyBatch: options.latencyBatch });
    model.dispose();
    const { trainSeconds: _unused, ...evaluation } = result.evaluation;
    report = evaluation;
  }
  const record = { model: resolve(modelPath), dataset: { name: spec.name, test: test.labels.length, classes: test.numClasses }, ...report };
  write(describe(record as unknown as Described));
  if (options.json) {
    writeFileAtomic(options.json, `${JSON.stringify(record, null, 2)}\n`);
    write(`written: ${resolve(options.json)}\n`);
  }
}

async function testLogitsOf(path: string, test: Parameters<typeof predictLogits>[1], layout: 'nhwc' | 'nchw'): Promise<Float32Array> {
  if (extname(path).toLowerCase() === '.onnx') return onnxLogits(readModelFile(path), test, { layout, source: path });
  const model = await loadModelDir(path);
  checkShapes(model, test, path);
  const logits = predictLogits(model, test);
  model.dispose();
  return logits;
}

function teacherFields(logits: Float32Array, teacherLogits: Float32Array, classes: number) {
  const comparison = compareWithTeacher(logits, teacherLogits, classes);
  return { agreementWithTeacher: comparison.agreement, klFromTeacher: comparison.klFromTeacher };
}

/** An .onnx file's bytes, its float weights checked to be finite. */
function readModelFile(path: string): Uint8Array {
  const bytes = readRegularFile(path, MAX_WHOLE_FILE_BYTES, `${path}: cannot read the model`);
  checkFiniteInitializers(decodeOnnxTeacher(bytes, path), path);
  return bytes;
}

function checkShapes(model: Awaited<ReturnType<typeof loadModelDir>>, test: Dataset, source: string): void {
  checkModelInputs(model, test.inputs, source);
  const outputShape = model.outputs[0].shape;
  const classes = outputShape[outputShape.length - 1];
  if (classes !== test.numClasses)
    throw new InputError(`${source}: the model has ${classes} outputs, the dataset has ${test.numClasses} classes`);
}

interface Described {
  model: string;
  runtime: string;
  dataset: { name: string; test: number };
  accuracy: number;
  top5Accuracy: number | null;
  macroF1: number;
  ece: number;
  agreementWithTeacher?: number;
  klFromTeacher?: number;
  params?: number;
  macs?: number;
  sizeBytes: number;
  sizes?: { float16: number; uint8: number };
  latency: {
    batch1: { p50Ms: number; p95Ms: number };
    batchN: { batchSize: number; p50Ms: number; p95Ms: number; samplesPerSecond: number };
  };
  memory?: { peakBytesBatch1: number };
}

function describe(r: Described): string {
  const lines = [
    `${r.model} on ${r.dataset.name} (${r.dataset.test} test samples), ${r.runtime === 'tfjs' ? 'TensorFlow.js' : 'ONNX Runtime'}`,
    `  top-1 accuracy     ${percent(r.accuracy)}`,
    ...(r.top5Accuracy === null ? [] : [`  top-5 accuracy     ${percent(r.top5Accuracy)}`]),
    `  macro F1           ${r.macroF1.toFixed(4)}`,
    `  calibration (ECE)  ${r.ece.toFixed(4)}`,
    ...(r.agreementWithTeacher === undefined
      ? []
      : [`  agrees w/ teacher  ${percent(r.agreementWithTeacher)}`, `  KL from teacher    ${r.klFromTeacher!.toFixed(4)} nats`]),
    ...(r.params === undefined
      ? []
      : [`  parameters         ${r.params.toLocaleString('en-US')}`, `  MACs per sample    ${r.macs!.toLocaleString('en-US')}`]),
    `  size               ${bytes(r.sizeBytes)}${r.sizes ? ` (float16 ${bytes(r.sizes.float16)}, uint8 ${bytes(r.sizes.uint8)})` : ''}`,
    `  latency batch 1    p50 ${r.latency.batch1.p50Ms.toFixed(3)} ms, p95 ${r.latency.batch1.p95Ms.toFixed(3)} ms`,
    `  latency batch ${r.latency.batchN.batchSize}  p50 ${r.latency.batchN.p50Ms.toFixed(2)} ms, p95 ${r.latency.batchN.p95Ms.toFixed(2)} ms (${Math.round(r.latency.batchN.samplesPerSecond).toLocaleString('en-US')} samples/s)`,
    ...(r.memory ? [`  peak memory b1     ${bytes(r.memory.peakBytesBatch1)}`] : []),
  ];
  return `${lines.join('\n')}\n`;
}
