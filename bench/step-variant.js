// One kernel variant of bench/engine-step.js, measured in a process of its own so that none
// inherits another's grown heap, cached sessions or warm caches. Prints its results as JSON.
// Run by engine-step.js: node bench/step-variant.js VARIANT MEASURED_STEPS
import { getKernel, registerKernel, unregisterKernel } from '@tensorflow/tfjs-core';
import { initEngine, tf } from '../dist/index.js';
import { fashionCnn, kdStep, mlp } from './kd-step.js';

const batchSize = 128;
const variant = Number(process.argv[2] ?? 2);
const measuredSteps = Number(process.argv[3] ?? 20);
const warmupSteps = 3;

// kdkit replaces these stock wasm kernels; keep the stock ones to measure "before".
const replacedNames = ['BatchMatMul', '_FusedMatMul', 'Conv2DBackpropInput', 'MaxPoolGrad', 'Sum', 'Tile', 'Identity', 'Cast'];
const stockKernels = new Map(replacedNames.map((name) => [name, getKernel(name, 'wasm')]));

function useKernels(kernels) {
  for (const [name, config] of kernels) {
    unregisterKernel(name, 'wasm');
    registerKernel(config);
    // A stock kernel replaced before the backend started was never set up.
    config.setupFunc?.(tf.backend());
  }
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median ms of kdkit's KD training step on `buildModel()`. */
function stepMs(buildModel) {
  const model = buildModel();
  const { step, dispose } = kdStep(model, batchSize);
  const times = [];
  for (let i = 0; i < warmupSteps + measuredSteps; i++) {
    const start = performance.now();
    step();
    if (i >= warmupSteps) times.push(performance.now() - start);
  }
  dispose();
  model.dispose();
  return median(times);
}

/** The measurement: 128x1200 times 1200x1200, plain and with transposeB. */
function matMulMs(transposeB) {
  const a = tf.randomNormal([128, 1200]);
  const b = tf.randomNormal([1200, 1200]);
  const times = [];
  for (let i = 0; i < warmupSteps + measuredSteps; i++) {
    // A fresh right operand each time, as in training, so the stock kernel cannot reuse its packing.
    const fresh = tf.add(b, 0);
    const start = performance.now();
    const product = tf.matMul(a, fresh, false, transposeB);
    product.dataSync();
    if (i >= warmupSteps) times.push(performance.now() - start);
    tf.dispose([fresh, product]);
  }
  tf.dispose([a, b]);
  return median(times);
}

/** The variants, in the order engine-step.js prints them. */
const variants = [
  [
    "stock wasm kernels (+ kdkit's missing ones)",
    async () => {
      await initEngine({ accelerate: 'none' });
      useKernels(stockKernels);
    },
  ],
  ["kdkit's wasm kernels (accelerate: 'none')", async () => initEngine({ accelerate: 'none' })],
  ['kdkit with ONNX Runtime (the default)', async () => initEngine()],
];

const [, setUp] = variants[variant];
const engine = await setUp();
console.log(JSON.stringify({ engine, cnn: stepMs(fashionCnn), dense: stepMs(mlp), plain: matMulMs(false), transposed: matMulMs(true) }));
