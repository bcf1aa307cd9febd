// Median milliseconds per KD training step (0.9·kd(T=4) + 0.1·ce against fixed teacher logits,
// kdkit's fused Adam 1e-3, batch 128) on the wasm backend: with the stock kernels TensorFlow.js
// ships (plus kdkit's for the ones it lacks, without which the CNN cannot train), with kdkit's wasm
// kernels (accelerate: 'none'), then with ONNX Runtime (initEngine's default), each in a process
// of its own.
// Then one KD epoch of the MLP student (bench/kd-epoch.js), PyTorch's side of each, the
// MobileNetV2-style and ResNet-style KD steps (bench/zoo-step.js) and one KD epoch of the
// MobileNetV2 student (PyTorch at the thread setting its step liked best), the ratios, soft-label
// generation against training (bench/teacher-inference.js), and bench/results.json.
// Run: npm run bench   (or: npx tsc -p . && node bench/engine-step.js [measuredSteps])
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tf } from '../dist/index.js';
import { kdEpochBench } from './kd-epoch.js';
import { teacherInferenceBench } from './teacher-inference.js';
import { bestThreads, zooStepBench } from './zoo-step.js';
import { fastest, settingLabel, torchRuns } from './torch-runs.js';

const batchSize = 128;
const measuredSteps = Number(process.argv[2] ?? 20);

const format = (ms) => `${ms.toFixed(1).padStart(7)} ms`;
/** The rows of bench/step-variant.js, each measured in a process of its own. */
const variantLabels = [
  "stock wasm kernels (+ kdkit's missing ones)",
  "kdkit's wasm kernels (accelerate: 'none')",
  'kdkit with ONNX Runtime (the default)',
];
const variantScript = fileURLToPath(new URL('./step-variant.js', import.meta.url));

let engine;
let kdkitSteps;
for (const [index, label] of variantLabels.entries()) {
  const run = spawnSync(process.execPath, [variantScript, String(index), String(measuredSteps)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${label} failed: ${run.stderr.trim().split('\n').at(-1)}`);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1));
  engine = result.engine ?? engine;
  kdkitSteps = { cnn: result.cnn, dense: result.dense };
  console.log(
    `${label.padEnd(44)} CNN step ${format(result.cnn)}   MLP 784-1200-1200-10 step ${format(result.dense)}   ` +
      `matMul 128x1200·1200x1200 ${format(result.plain)}, transposeB ${format(result.transposed)}`,
  );
}
console.log(`engine: ${JSON.stringify(engine)}`);

// PyTorch: the best of its thread settings (bench/torch-runs.js).
const torchScript = fileURLToPath(new URL('./torch_step.py', import.meta.url));
const stepRuns = torchRuns(torchScript, (threads) => [String(measuredSteps), String(threads)], {
  onRun: (torch) =>
    console.log(
      `PyTorch ${torch.torch}, ${settingLabel(torch)}`.padEnd(48) +
        ` CNN step ${format(torch.cnn)}   MLP 784-1200-1200-10 step ${format(torch.mlp)}`,
    ),
});

const epoch = await kdEpochBench();
for (const run of epoch.torchRuns) console.log(`KD epoch, PyTorch, ${settingLabel(run)}: ${run.epochSeconds.toFixed(2)} s`);
console.log(`KD epoch, kdkit: ${epoch.kdkitSeconds.toFixed(2)} s for ${epoch.steps} steps`);

const zoo = await zooStepBench(Math.min(measuredSteps, 10));
const zooRow = (kind) => zoo.rows.find((row) => row.model === kind);
const mobilenetEpoch = await kdEpochBench({
  model: 'mobilenet',
  threadSettings: zoo.torchRuns.length ? [bestThreads(zoo.torchRuns, 'mobilenet')] : [],
});
for (const run of mobilenetEpoch.torchRuns)
  console.log(`MobileNetV2 KD epoch (${mobilenetEpoch.images} images), PyTorch, ${settingLabel(run)}: ${run.epochSeconds.toFixed(2)} s`);
console.log(
  `MobileNetV2 KD epoch (${mobilenetEpoch.images} images), kdkit: ${mobilenetEpoch.kdkitSeconds.toFixed(2)} s for ${mobilenetEpoch.steps} steps`,
);

const teacher = await teacherInferenceBench();
console.log(
  `teacher soft labels: ${teacher.inferenceImagesPerSecond.toFixed(0)} images/s; teacher training: ${teacher.trainImagesPerSecond.toFixed(0)} images/s (inference / training = ${teacher.ratio.toFixed(1)})`,
);

const best = (key) => fastest(stepRuns, (run) => run[key])?.[key] ?? null;
const rows = [
  { work: 'CNN training step (ms)', kdkit: kdkitSteps.cnn, pytorch: best('cnn') },
  { work: 'MLP 784-1200-1200-10 training step (ms)', kdkit: kdkitSteps.dense, pytorch: best('mlp') },
  { work: 'KD epoch, Fashion-MNIST MLP 256-256 student (s)', kdkit: epoch.kdkitSeconds, pytorch: epoch.torchBestSeconds },
  { work: 'MobileNetV2-style training step (ms)', kdkit: zooRow('mobilenet').kdkit, pytorch: zooRow('mobilenet').pytorch },
  { work: 'ResNet-style training step (ms)', kdkit: zooRow('resnet').kdkit, pytorch: zooRow('resnet').pytorch },
  {
    work: `KD epoch, MobileNetV2 student, ${mobilenetEpoch.images} images (s)`,
    kdkit: mobilenetEpoch.kdkitSeconds,
    pytorch: mobilenetEpoch.torchRuns.length ? mobilenetEpoch.torchBestSeconds : null,
  },
].map((row) => ({ ...row, ratio: row.pytorch === null ? null : row.pytorch / row.kdkit }));
console.log('\nPyTorch time / kdkit time (1.0 = as fast as PyTorch; PyTorch at its best thread setting):');
for (const row of rows)
  console.log(
    `  ${row.work.padEnd(50)} kdkit ${row.kdkit.toFixed(2).padStart(8)}  PyTorch ${row.pytorch?.toFixed(2).padStart(8) ?? '     n/a'}  ratio ${row.ratio?.toFixed(2) ?? 'n/a'}`,
  );
const resultsPath = fileURLToPath(new URL('./results.json', import.meta.url));
writeFileSync(
  resultsPath,
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      engine,
      batchSize,
      measuredSteps,
      rows,
      torchRuns: stepRuns,
      kdEpoch: epoch,
      zoo,
      mobilenetKdEpoch: mobilenetEpoch,
      teacherInference: teacher,
    },
    null,
    2,
  )}\n`,
);
console.log(`wrote ${resultsPath}`);
tf.disposeVariables();
