// One KD epoch (0.9·kd(T=4) + 0.1·ce, cached teacher logits) in kdkit and in PyTorch, in the same
// invocation, of
//   mlp:       the Fashion-MNIST demo student (MLP 784-256-256-10), over the 55,000 training images;
//   mobilenet: the MobileNetV2-style student of bench/zoo-step.js (batch norm in training mode),
//              over the first 10,240 training images (80 steps: a full epoch would take a quarter
//              of an hour on each side on this machine, and a step costs the same whatever the data);
//              both with Adam 1e-3, batch 128;
//   banking77: a BERT-style text student, kdkit's `{type: transformer}` (2 layers, d 64, 4 heads,
//              feed-forward 256, dropout 0.1, mean pooling, 77 classes), over the 9,003 training
//              queries of Banking77 (seed 1's split; WordPiece ids, 40 tokens), Adam 2e-3, batch 64.
// The teacher logits are synthetic: the time of a step does not depend on them. Both sides must
// train as many weights: the run stops when their counts differ.
// Run: npx tsc -p . && node bench/kd-epoch.js [mlp|mobilenet|banking77]
//   (needs python3-torch, and dataset-fashion-mnist for mlp and mobilenet)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, loadDataset, buildModel, distill, tf } from '../dist/index.js';
import { allPixels, allSamples } from '../dist/data/index.js';
import { encodeNpy } from '../dist/util/npy.js';
import { mobilenetV2 } from './zoo-step.js';
import { fastest, torchRuns, torchThreadSettings } from './torch-runs.js';

/** Losses of the first steps each side reports, to see that they train the same thing. */
const reportedLosses = 5;

/** Fashion-MNIST's first `count` training images (after seed 1's validation split) as one float32 field. */
function fashionMnist(count) {
  const data = loadDataset({ name: 'fashion-mnist', validation: 5000 }, 1);
  const samples = Math.min(count, data.train.labels.length);
  const pixels = allPixels(data.train).subarray(0, samples * 784);
  return {
    count: samples,
    labels: data.train.labels.subarray(0, samples),
    // One tensor, 'image' by its shape.
    train: (labels) => ({ x: tf.tensor4d(pixels, [samples, 28, 28, 1]), y: labels }),
    arrays: [{ name: 'images', dtype: 'float32', data: pixels, shape: [samples, 784] }],
  };
}

/** Banking77's training queries (seed 1's split: 9,003 of 10,003) as the tokenizer's int32 fields. */
function banking77() {
  const data = loadDataset({ name: 'banking77', maxLength: 40 }, 1);
  const samples = allSamples(data.train);
  const count = data.train.labels.length;
  return {
    count,
    labels: data.train.labels,
    inputs: data.train.inputs,
    // The Dataset itself: distill() pairs its fields with the model's inputs by name.
    train: () => data.train,
    arrays: data.train.inputs.map((field) => ({
      name: field.name,
      dtype: 'int32',
      data: samples[field.name],
      shape: [count, ...field.shape],
    })),
  };
}

/** The students: their data, how they are built and trained. */
const students = {
  mlp: {
    classes: 10,
    batchSize: 128,
    learningRate: 1e-3,
    data: () => fashionMnist(55000),
    build: () =>
      buildModel(
        { type: 'mlp', hidden: [256, 256], dropout: 0, activation: 'relu' },
        { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'student' },
      ),
  },
  mobilenet: { classes: 10, batchSize: 128, learningRate: 1e-3, data: () => fashionMnist(10240), build: mobilenetV2 },
  banking77: {
    classes: 77,
    batchSize: 64,
    learningRate: 2e-3,
    data: banking77,
    build: (data) =>
      buildModel(
        { type: 'transformer', layers: 2, hidden: 64, heads: 4, intermediate: 256, pooling: 'mean', dropout: 0.1 },
        { inputs: data.inputs, numClasses: 77, seed: 1, name: 'student' },
      ),
  },
};

/** Trainable weights, as PyTorch's parameters() counts them (countParams() adds batch norm's moving statistics). */
const trainableCount = (model) => model.trainableWeights.reduce((sum, weight) => sum + weight.shape.reduce((a, b) => a * b, 1), 0);

export async function kdEpochBench({ model: kind = 'mlp', threadSettings = torchThreadSettings } = {}) {
  if (!Object.hasOwn(students, kind)) throw new Error(`unknown model "${kind}"; expected one of: ${Object.keys(students).join(', ')}`);
  const student = students[kind];
  const engine = await initEngine({ backend: 'wasm' });
  const data = student.data();
  const { count, labels } = data;
  const { classes } = student;
  const teacherLogits = Float32Array.from({ length: count * classes }, (_, i) => Math.sin(i * 12.9898) * 4);

  const model = student.build(data);
  const params = trainableCount(model);
  const train = data.train(labels);
  const terms = [
    { method: 'kd', weight: 0.9, temperature: 4 },
    { method: 'ce', weight: 0.1 },
  ];
  const losses = [];
  const result = await distill({
    teacher: { logits: teacherLogits },
    student: model,
    train,
    terms,
    epochs: 1,
    batchSize: student.batchSize,
    optimizer: { type: 'adam', learningRate: student.learningRate },
    seed: 1,
    onEvent: (event) => {
      if (event.type === 'step' && losses.length < reportedLosses) losses.push(event.loss);
    },
  });
  model.dispose();
  if (train.x instanceof tf.Tensor) train.x.dispose();
  const kdkitSeconds = result.trainSeconds;

  const directory = mkdtempSync(join(tmpdir(), 'kdkit-bench-'));
  const arrays = [
    { name: 'labels', dtype: 'int32', data: labels, shape: [count] },
    { name: 'logits', dtype: 'float32', data: teacherLogits, shape: [count, classes] },
    ...data.arrays,
  ];
  const paths = arrays.map((array) => join(directory, `${array.name}.npy`));
  for (const [i, array] of arrays.entries()) writeFileSync(paths[i], encodeNpy(array));
  const script = fileURLToPath(new URL('./torch_kd_epoch.py', import.meta.url));
  const vocabulary = data.inputs?.find((field) => field.name === 'input_ids')?.vocabulary;
  const options = [
    '--model',
    kind,
    '--batch',
    student.batchSize,
    '--lr',
    student.learningRate,
    ...(vocabulary ? ['--vocab', vocabulary] : []),
  ];
  const args = (threads) => ['--threads', threads, ...options, ...paths].map(String);
  const pytorchRuns = torchRuns(script, args, { settings: threadSettings, required: true });
  for (const run of pytorchRuns) {
    if (run.params !== params)
      throw new Error(`${kind}: PyTorch's model has ${run.params} parameters, kdkit's ${params}; they must be the same model`);
  }
  const best = fastest(pytorchRuns, (run) => run.epochSeconds);
  return {
    model: kind,
    images: count,
    engine,
    params,
    batchSize: student.batchSize,
    steps: Math.ceil(count / student.batchSize),
    kdkitSeconds,
    kdkitLosses: losses,
    torchRuns: pytorchRuns,
    torchBestSeconds: best?.epochSeconds ?? null,
    ratio: best ? best.epochSeconds / kdkitSeconds : null,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await kdEpochBench({ model: process.argv[2] ?? 'mlp' });
  const samples = result.model === 'banking77' ? 'queries' : 'images';
  const firstLosses = (losses) => losses.map((loss) => loss.toFixed(3)).join(', ');
  for (const run of result.torchRuns)
    console.log(
      `PyTorch ${run.torch}, torch threads ${run.torchThreads}, OpenBLAS threads ${run.blasThreads}: ${run.epochSeconds.toFixed(2)} s` +
        ` (${run.params} parameters; first losses ${firstLosses(run.losses)})`,
    );
  console.log(
    `kdkit (${result.engine.backend}): ${result.kdkitSeconds.toFixed(2)} s for ${result.steps} steps` +
      ` (${result.model}, ${result.images} ${samples}, batch ${result.batchSize}; ${result.params} parameters; first losses ${firstLosses(result.kdkitLosses)})`,
  );
  console.log(`PyTorch best / kdkit = ${result.ratio?.toFixed(2) ?? 'n/a'} (1.0 means as fast as PyTorch)`);
  tf.disposeVariables();
}
