// One KD epoch (Adam 1e-3, batch 128, 0.9·kd(T=4) + 0.1·ce, cached teacher logits) in kdkit and
// in PyTorch, in the same invocation, of
//   mlp:       the Fashion-MNIST demo student (MLP 784-256-256-10), over the 55,000 training images;
//   mobilenet: the MobileNetV2-style student of bench/zoo-step.js (batch norm in training mode),
//              over the first 10,240 training images (80 steps: a full epoch would take a quarter
//              of an hour on each side on this machine, and a step costs the same whatever the data).
// The teacher logits are synthetic: the time of a step does not depend on them.
// Run: npx tsc -p . && node bench/kd-epoch.js [mlp|mobilenet]   (needs dataset-fashion-mnist and python3-torch)
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine, loadDataset, buildModel, distill, tf } from '../dist/index.js';
import { allPixels } from '../dist/data/index.js';
import { encodeNpy } from '../dist/util/npy.js';
import { mobilenetV2 } from './zoo-step.js';
import { fastest, torchRuns, torchThreadSettings } from './torch-runs.js';

/** The students, and how many training images an epoch covers. */
const students = {
  mlp: {
    images: 55000,
    build: () =>
      buildModel(
        { type: 'mlp', hidden: [256, 256], dropout: 0, activation: 'relu' },
        { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'student' },
      ),
  },
  mobilenet: { images: 10240, build: mobilenetV2 },
};

export async function kdEpochBench({ model: kind = 'mlp', threadSettings = torchThreadSettings } = {}) {
  if (!(kind in students)) throw new Error(`unknown model "${kind}"; expected one of: ${Object.keys(students).join(', ')}`);
  const engine = await initEngine({ backend: 'wasm' });
  const data = loadDataset({ name: 'fashion-mnist', validation: 5000 }, 1);
  const count = Math.min(students[kind].images, data.train.labels.length);
  const pixels = allPixels(data.train).subarray(0, count * 784);
  const labels = data.train.labels.subarray(0, count);
  const teacherLogits = Float32Array.from({ length: count * 10 }, (_, i) => Math.sin(i * 12.9898) * 4);

  const model = students[kind].build();
  const x = tf.tensor4d(pixels, [count, 28, 28, 1]);
  const terms = [
    { method: 'kd', weight: 0.9, temperature: 4 },
    { method: 'ce', weight: 0.1 },
  ];
  const result = await distill({
    teacher: { logits: teacherLogits },
    student: model,
    train: { x, y: labels },
    terms,
    epochs: 1,
    batchSize: 128,
    optimizer: { type: 'adam', learningRate: 1e-3 },
    seed: 1,
  });
  model.dispose();
  x.dispose();
  const kdkitSeconds = result.trainSeconds;

  const directory = mkdtempSync(join(tmpdir(), 'kdkit-bench-'));
  const paths = ['images', 'labels', 'logits'].map((name) => join(directory, `${name}.npy`));
  writeFileSync(paths[0], encodeNpy({ dtype: 'float32', data: pixels, shape: [count, 784] }));
  writeFileSync(paths[1], encodeNpy({ dtype: 'int32', data: labels, shape: [count] }));
  writeFileSync(paths[2], encodeNpy({ dtype: 'float32', data: teacherLogits, shape: [count, 10] }));
  const script = fileURLToPath(new URL('./torch_kd_epoch.py', import.meta.url));
  const pytorchRuns = torchRuns(script, (threads) => [...paths, String(threads), kind], { settings: threadSettings, required: true });
  const best = fastest(pytorchRuns, (run) => run.epochSeconds);
  return {
    model: kind,
    images: count,
    engine,
    steps: Math.ceil(count / 128),
    kdkitSeconds,
    torchRuns: pytorchRuns,
    torchBestSeconds: best?.epochSeconds ?? null,
    ratio: best ? best.epochSeconds / kdkitSeconds : null,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await kdEpochBench({ model: process.argv[2] ?? 'mlp' });
  for (const run of result.torchRuns)
    console.log(
      `PyTorch ${run.torch}, torch threads ${run.torchThreads}, OpenBLAS threads ${run.blasThreads}: ${run.epochSeconds.toFixed(2)} s`,
    );
  console.log(
    `kdkit (${result.engine.backend}): ${result.kdkitSeconds.toFixed(2)} s for ${result.steps} steps (${result.model}, ${result.images} images)`,
  );
  console.log(`PyTorch best / kdkit = ${result.ratio?.toFixed(2) ?? 'n/a'} (1.0 means as fast as PyTorch)`);
  tf.disposeVariables();
}
