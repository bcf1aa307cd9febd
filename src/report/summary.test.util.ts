/**
 * A hand-written Summary of a digits run (teacher → assistant-1 → student, plus scratch), for report tests.
 * The student's confusion matrix is chosen so its figures can be checked by hand: 346 of 359 correct.
 */
import type { ModelEvaluation } from '../eval/evaluate.js';
import type { ClassMetrics } from '../eval/metrics.js';
import type { LatencyStats } from '../eval/latency.js';
import type { EpochRecord } from '../train/events.js';
import type { Summary } from './summary.js';

/** Test samples per class of the digits test split. */
const supports = [36, 36, 35, 37, 36, 37, 36, 36, 35, 35];

/** confusion[true][pred] of the student. */
export const studentConfusion = [
  [36, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0, 35, 0, 0, 0, 0, 0, 0, 1, 0],
  [0, 0, 35, 0, 0, 0, 0, 0, 0, 0],
  [0, 0, 0, 35, 0, 1, 0, 0, 1, 0],
  [0, 0, 0, 0, 35, 0, 0, 1, 0, 0],
  [0, 0, 0, 0, 0, 36, 0, 0, 0, 1],
  [0, 1, 0, 0, 0, 0, 35, 0, 0, 0],
  [0, 0, 0, 0, 0, 0, 0, 35, 0, 1],
  [0, 2, 0, 0, 0, 1, 0, 0, 32, 0],
  [0, 0, 0, 1, 0, 1, 0, 0, 1, 32],
];

/** A confusion matrix with every sample correct except `errors`: [true, predicted, count]. */
function confusionWith(errors: [number, number, number][]): number[][] {
  const confusion = supports.map((support, row) => supports.map((_, column) => (row === column ? support : 0)));
  for (const [row, column, count] of errors) {
    confusion[row][row] -= count;
    confusion[row][column] += count;
  }
  return confusion;
}

/** Accuracy, per-class figures and macro F1 implied by a confusion matrix. */
function fromConfusion(confusion: number[][]) {
  const total = confusion.flat().reduce((sum, count) => sum + count, 0);
  const perClass = confusion.map((row, c): ClassMetrics => {
    const support = row.reduce((sum, count) => sum + count, 0);
    const predictedAs = confusion.reduce((sum, other) => sum + other[c], 0);
    const precision = predictedAs === 0 ? 0 : row[c] / predictedAs;
    const recall = row[c] / support;
    return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), support };
  });
  return {
    accuracy: confusion.reduce((sum, row, c) => sum + row[c], 0) / total,
    perClass,
    macroF1: perClass.reduce((sum, metrics) => sum + metrics.f1, 0) / perClass.length,
    confusion,
  };
}

function latency(batchSize: number, p50Ms: number, p95Ms: number): LatencyStats {
  return { batchSize, p50Ms, p95Ms, samplesPerSecond: batchSize / (p50Ms / 1000), repeats: 50 };
}

interface Costs {
  params: number;
  macs: number;
  sizes: { float32: number; float16: number; uint8: number };
  batch1: [number, number];
  batchN: [number, number];
  peakBytes: [number, number];
  trainSeconds: number;
}

function model(
  confusion: number[][],
  quality: { top5: number; ece: number; agreement?: number; kl?: number },
  costs: Costs,
): ModelEvaluation {
  return {
    ...fromConfusion(confusion),
    top5Accuracy: quality.top5,
    ece: quality.ece,
    ...(quality.agreement === undefined ? {} : { agreementWithTeacher: quality.agreement, klFromTeacher: quality.kl }),
    params: costs.params,
    macs: costs.macs,
    sizeBytes: costs.sizes.float32,
    sizes: costs.sizes,
    runtime: 'tfjs',
    latencyMs: { batch1: costs.batch1[0], batchN: costs.batchN[0] },
    latencyBatch: 256,
    latency: { batch1: latency(1, ...costs.batch1), batchN: latency(256, ...costs.batchN) },
    memory: { weightBytes: costs.params * 4, peakBytesBatch1: costs.peakBytes[0], peakBytesBatchN: costs.peakBytes[1] },
    trainSeconds: costs.trainSeconds,
  };
}

function history(epochs: [number, Record<string, number>, number][]): EpochRecord[] {
  return epochs.map(([loss, terms, validationAccuracy], i) => ({ epoch: i + 1, loss, terms, validationAccuracy, seconds: 1.5 + i * 0.1 }));
}

const distillTerms = [
  { method: 'kd', weight: 0.9, options: { temperature: 4 } },
  { method: 'ce', weight: 0.1, options: {} },
];

const studentCosts: Omit<Costs, 'batch1' | 'trainSeconds'> = {
  params: 12_810,
  macs: 98_560,
  sizes: { float32: 53_012, float16: 27_810, uint8: 15_212 },
  batchN: [3.9, 4.6],
  peakBytes: [61_440, 1_310_720],
};

/** A fresh copy on every call, so a test can change it freely. */
export function fixtureSummary(): Summary {
  return {
    kdkit: { version: '0.1.0' },
    createdAt: '2025-03-14T09:26:53.000Z',
    seed: 7,
    backend: 'wasm',
    engine: {
      backend: 'wasm',
      simd: true,
      threads: 1,
      customKernels: ['BatchMatMul', 'Conv2D'],
      accelerator: 'onnxruntime',
      acceleratorThreads: 4,
      acceleratorInterface: 'c-api',
    },
    dataset: {
      name: 'digits',
      train: 1294,
      validation: 144,
      test: 359,
      classes: 10,
      classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
      inputs: [{ name: 'image', dtype: 'float32', shape: [8, 8, 1] }],
      sampleShape: [8, 8, 1],
    },
    teacher: { kind: 'tfjs', description: 'TensorFlow.js cnn trained in this run', fingerprint: 'ab'.repeat(32) },
    models: {
      teacher: model(
        confusionWith([
          [3, 5, 1],
          [8, 1, 2],
          [9, 3, 1],
        ]),
        { top5: 0.9972, ece: 0.012 },
        {
          params: 206_922,
          macs: 5_012_480,
          sizes: { float32: 830_476, float16: 416_020, uint8: 209_310 },
          batch1: [1.84, 2.31],
          batchN: [38.2, 41.7],
          peakBytes: [901_120, 9_502_720],
          trainSeconds: 42.7,
        },
      ),
      'assistant-1': model(
        confusionWith([
          [1, 8, 1],
          [3, 5, 2],
          [8, 1, 2],
          [9, 3, 1],
          [7, 9, 1],
          [4, 7, 1],
        ]),
        { top5: 0.9972, ece: 0.018, agreement: 0.9833, kl: 0.041 },
        {
          params: 48_394,
          macs: 402_112,
          sizes: { float32: 195_640, float16: 98_130, uint8: 49_870 },
          batch1: [0.93, 1.12],
          batchN: [12.6, 14.1],
          peakBytes: [215_040, 3_276_800],
          trainSeconds: 15.2,
        },
      ),
      scratch: model(
        confusionWith([
          [1, 8, 3],
          [3, 5, 3],
          [8, 1, 4],
          [9, 3, 3],
          [7, 9, 2],
          [4, 7, 2],
          [2, 3, 3],
        ]),
        { top5: 0.9916, ece: 0.034, agreement: 0.9387, kl: 0.214 },
        {
          ...studentCosts,
          batch1: [0.42, 0.6],
          trainSeconds: 6.3,
        },
      ),
      student: model(
        studentConfusion,
        { top5: 0.9944, ece: 0.021, agreement: 0.9694, kl: 0.087 },
        {
          ...studentCosts,
          batch1: [0.41, 0.58],
          trainSeconds: 7.1,
        },
      ),
    },
    stages: [
      {
        name: 'teacher',
        model: 'teacher',
        epochs: 4,
        batchSize: 64,
        optimizer: { name: 'adam', learningRate: 0.001 },
        terms: [{ method: 'ce', weight: 1, options: {} }],
        history: history([
          [1.2051, { ce: 1.2051 }, 0.8472],
          [0.3127, { ce: 0.3127 }, 0.9514],
          [0.1418, { ce: 0.1418 }, 0.9722],
          [0.0893, { ce: 0.0893 }, 0.9861],
        ]),
      },
      {
        name: 'scratch',
        model: 'scratch',
        epochs: 4,
        batchSize: 64,
        optimizer: { name: 'adam', learningRate: 0.001 },
        terms: [{ method: 'ce', weight: 1, options: {} }],
        history: history([
          [1.7342, { ce: 1.7342 }, 0.7153],
          [0.621, { ce: 0.621 }, 0.8819],
          [0.3304, { ce: 0.3304 }, 0.9236],
          [0.2381, { ce: 0.2381 }, 0.9375],
        ]),
      },
      {
        name: 'assistant-1',
        model: 'assistant-1',
        epochs: 3,
        batchSize: 64,
        optimizer: { name: 'adam', learningRate: 0.001 },
        terms: distillTerms,
        history: history([
          [1.912, { kd: 2.0034, ce: 1.0894 }, 0.8125],
          [0.6118, { kd: 0.6392, ce: 0.3652 }, 0.9375],
          [0.3065, { kd: 0.3201, ce: 0.1841 }, 0.9653],
        ]),
      },
      {
        name: 'student',
        model: 'student',
        epochs: 4,
        batchSize: 64,
        optimizer: { name: 'adam', learningRate: 0.001 },
        terms: distillTerms,
        history: history([
          [2.2846, { kd: 2.4077, ce: 1.1767 }, 0.7639],
          [0.8353, { kd: 0.8771, ce: 0.4591 }, 0.9028],
          [0.4477, { kd: 0.4702, ce: 0.2452 }, 0.9444],
          [0.3095, { kd: 0.3248, ce: 0.1718 }, 0.9583],
        ]),
      },
    ],
    softLabels: { directory: '../.kdkit-cache/soft-labels/3f9a0c2e', cached: false, seconds: 0.4 },
    gate: {
      passed: false,
      model: 'student',
      quantization: 'uint8',
      runtime: 'tfjs',
      checks: [
        {
          name: 'maxSizeBytes',
          measure: 'size of the uint8 TensorFlow.js export',
          unit: 'bytes',
          kind: 'max',
          limit: 65_536,
          value: 15_212,
          passed: true,
        },
        {
          name: 'maxLatencyMs',
          measure: 'batch-1 p95 latency (TensorFlow.js)',
          unit: 'ms',
          kind: 'max',
          limit: 1,
          value: 0.58,
          passed: true,
        },
        { name: 'maxParams', measure: 'parameters', unit: 'count', kind: 'max', limit: 20_000, value: 12_810, passed: true },
        {
          name: 'minAccuracy',
          measure: 'test accuracy of the uint8 export',
          unit: 'fraction',
          kind: 'min',
          limit: 0.97,
          value: 345 / 359,
          passed: false,
        },
      ],
    },
    exports: {
      tfjs: [
        { quantization: 'float32', path: 'student', sizeBytes: 53_012, accuracy: 346 / 359, accuracyDrop: 0 },
        { quantization: 'float16', path: 'student-float16', sizeBytes: 27_810, accuracy: 346 / 359, accuracyDrop: 0 },
        { quantization: 'uint8', path: 'student-uint8', sizeBytes: 15_212, accuracy: 345 / 359, accuracyDrop: 1 / 359 },
      ],
      onnx: [
        {
          path: 'student.onnx',
          layout: 'nhwc',
          quantization: 'float32',
          sizeBytes: 51_804,
          opset: 13,
          maxAbsDiff: 2.4e-6,
          agreement: 1,
          accuracy: 346 / 359,
          latency: { batch1: latency(1, 0.09, 0.14), batchN: latency(256, 1.62, 1.9) },
        },
      ],
    },
    config: {
      seed: 7,
      backend: 'wasm',
      dataset: { name: 'digits', validation: 0.1 },
      teacher: { model: { kind: 'cnn', filters: [32, 64], dense: [128] }, epochs: 4 },
      student: { model: { kind: 'cnn', filters: [8, 16], dense: [32] } },
      distill: { epochs: 4, batchSize: 64, terms: distillTerms },
      stages: [{ name: 'assistant-1', model: { kind: 'cnn', filters: [16, 32], dense: [64] }, epochs: 3 }],
      deploy: { quantization: 'uint8', runtime: 'tfjs', maxSizeBytes: 65_536, maxLatencyMs: 1, maxParams: 20_000, minAccuracy: 0.97 },
    },
    artifacts: {
      summary: 'summary.json',
      report: 'report.md',
      html: 'report.html',
      logs: 'logs.jsonl',
      student: 'student/model.json',
      teacher: 'teacher/model.json',
      onnx: 'student.onnx',
    },
  };
}

/** The fixture as a run without a scratch baseline, `deploy:` section or ONNX export would record it. */
export function minimalSummary(): Summary {
  const summary = fixtureSummary();
  delete summary.models.scratch;
  summary.stages = summary.stages.filter((stage) => stage.name !== 'scratch');
  summary.gate = { passed: true, model: 'student', quantization: 'float32', runtime: 'tfjs', checks: [] };
  summary.exports.onnx = [];
  delete (summary.config as { deploy?: unknown }).deploy;
  delete summary.artifacts.onnx;
  return summary;
}
