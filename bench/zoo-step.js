// Median ms per KD training step (0.9·kd(T=4) + 0.1·ce against fixed teacher logits, kdkit's
// fused Adam 1e-3, batch 128, as bench/kd-step.js runs it) of the two students of the
// ResNet → MobileNetV2 distillation, defined here and in bench/torch_zoo_step.py layer for layer:
//   mobilenet: MobileNetV2-style on 28×28×1 (Keras semantics): stem conv 3×3 16 + BN + ReLU6;
//     inverted residuals (t, c, n, s) = (1,16,1,1), (6,24,2,2), (6,32,3,2), (6,64,2,2); 1×1 conv
//     128 + BN + ReLU6; global average pool; dense 10.
//   resnet: CIFAR ResNet-style: stem conv 3×3 16 + BN + ReLU; BasicBlocks [2,2,2] with filters
//     [16,32,64], stride 2 (and a 1×1 conv + BN shortcut) at the start of stages 2 and 3; global
//     average pool; dense 10.
// kdkit runs on its default engine (wasm + ONNX Runtime), each model in a process of its own;
// PyTorch at the best of torch threads 1/2 × OpenBLAS threads 1/2. Ratio = PyTorch / kdkit, the
// median of 3 rounds of both sides (this machine's speed drifts within minutes).
// Writes bench/zoo-results.json.
// Run: npm run bench:zoo   (or: npx tsc -p . && node bench/zoo-step.js [measuredSteps [rounds]])
//      node bench/zoo-step.js --kdkit mobilenet|resnet [measuredSteps]   (one side, one model, JSON)
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { initEngine, tf } from '../dist/index.js';
import { kdStep } from './kd-step.js';
import { fastest, settingLabel, torchRuns } from './torch-runs.js';

const batchSize = 128;
const warmupSteps = 3;

/** Conv (no bias, BN follows) + BN, Keras defaults otherwise. */
function convBn(x, filters, kernelSize, strides = 1) {
  const conv = tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(x);
  return tf.layers.batchNormalization().apply(conv);
}

/** Keras' ReLU(6.): relu, then clipByValue(0, 6). */
const relu6 = (x) => tf.layers.reLU({ maxValue: 6 }).apply(x);

/** One inverted residual block (Keras MobileNetV2's _inverted_res_block). */
function invertedResidual(x, expansion, filters, stride) {
  const inChannels = x.shape.at(-1);
  let y = x;
  if (expansion !== 1) y = relu6(convBn(y, inChannels * expansion, 1));
  y = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: 'same', useBias: false }).apply(y);
  y = relu6(tf.layers.batchNormalization().apply(y));
  y = convBn(y, filters, 1);
  return stride === 1 && inChannels === filters ? tf.layers.add().apply([x, y]) : y;
}

/** MobileNetV2-style student on 28×28×1. */
export function mobilenetV2() {
  const input = tf.input({ shape: [28, 28, 1] });
  let x = relu6(convBn(input, 16, 3));
  for (const [t, c, n, s] of [
    [1, 16, 1, 1],
    [6, 24, 2, 2],
    [6, 32, 3, 2],
    [6, 64, 2, 2],
  ]) {
    for (let i = 0; i < n; i++) x = invertedResidual(x, t, c, i === 0 ? s : 1);
  }
  x = relu6(convBn(x, 128, 1));
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 10 }).apply(x) });
}

/** One BasicBlock: conv-BN-ReLU-conv-BN plus the shortcut (1×1 conv + BN when the shape changes), ReLU. */
function basicBlock(x, filters, stride) {
  let y = tf.layers.activation({ activation: 'relu' }).apply(convBn(x, filters, 3, stride));
  y = convBn(y, filters, 3);
  const shortcut = stride !== 1 || x.shape.at(-1) !== filters ? convBn(x, filters, 1, stride) : x;
  return tf.layers.activation({ activation: 'relu' }).apply(tf.layers.add().apply([y, shortcut]));
}

/** ResNet-style student (CIFAR ResNet-20-like, [2,2,2] blocks) on 28×28×1. */
export function resnet() {
  const input = tf.input({ shape: [28, 28, 1] });
  let x = tf.layers.activation({ activation: 'relu' }).apply(convBn(input, 16, 3));
  for (const [stage, filters] of [16, 32, 64].entries()) {
    for (let i = 0; i < 2; i++) x = basicBlock(x, filters, stage > 0 && i === 0 ? 2 : 1);
  }
  x = tf.layers.globalAveragePooling2d({}).apply(x);
  return tf.model({ inputs: input, outputs: tf.layers.dense({ units: 10 }).apply(x) });
}

export const zooModels = { mobilenet: mobilenetV2, resnet };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Median ms of kdkit's KD step on `kind` after warm-up, in this process. */
async function kdkitStepMs(kind, measuredSteps) {
  const engine = await initEngine();
  const model = zooModels[kind]();
  // Trainable parameters, as PyTorch counts them (countParams() adds BN's moving statistics).
  const params = model.trainableWeights.reduce((sum, weight) => sum + weight.shape.reduce((a, b) => a * b, 1), 0);
  const { step, dispose } = kdStep(model, batchSize);
  const times = [];
  for (let i = 0; i < warmupSteps + measuredSteps; i++) {
    const start = performance.now();
    step();
    if (i >= warmupSteps) times.push(performance.now() - start);
  }
  dispose();
  model.dispose();
  return { engine, ms: median(times), params };
}

const format = (ms) => `${ms.toFixed(1).padStart(8)} ms`;

/**
 * Both sides for both models, in `rounds` rounds of kdkit then PyTorch (the first at every PyTorch
 * thread setting, the others at the best ones), because this shared machine's speed drifts by a
 * third within minutes and takes both sides with it: each round's ratio compares two runs a minute
 * apart. Returns the rows (median kdkit and PyTorch ms, and the median of the rounds' ratios =
 * PyTorch ms / kdkit ms, with each round's) and the first round's PyTorch runs.
 */
export async function zooStepBench(measuredSteps = 10, rounds = 3) {
  const self = fileURLToPath(import.meta.url);
  const torchScript = fileURLToPath(new URL('./torch_zoo_step.py', import.meta.url));
  const kinds = Object.keys(zooModels);
  const perRound = [];
  let engine;
  let firstRuns;
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round} of ${rounds}`);
    const kdkit = {};
    for (const kind of kinds) {
      const run = spawnSync(process.execPath, [self, '--kdkit', kind, String(measuredSteps)], { encoding: 'utf8' });
      if (run.status !== 0) throw new Error(`kdkit ${kind} failed: ${run.stderr.trim().split('\n').at(-1)}`);
      const result = JSON.parse(run.stdout.trim().split('\n').at(-1));
      engine = result.engine;
      kdkit[kind] = result;
      console.log(`kdkit ${kind.padEnd(10)} (${result.params} parameters) step ${format(result.ms)}`);
    }
    if (round === 1) console.log(`engine: ${JSON.stringify(engine)}`);
    const settings =
      firstRuns === undefined
        ? undefined
        : [...new Set(kinds.map((kind) => bestThreads(firstRuns, kind).join(',')))].map((setting) => setting.split(',').map(Number));
    const runs = torchRuns(torchScript, (threads) => [String(measuredSteps), String(threads)], {
      ...(settings === undefined ? {} : { settings }),
      onRun: (torch) =>
        console.log(
          `PyTorch ${torch.torch}, ${settingLabel(torch)}`.padEnd(48) +
            kinds.map((kind) => ` ${kind} ${format(torch[kind])} (${torch.params[kind]} parameters)`).join('  '),
        ),
    });
    firstRuns ??= runs;
    perRound.push(
      Object.fromEntries(
        kinds.map((kind) => {
          const pytorch = fastest(runs, (run) => run[kind])?.[kind] ?? null;
          return [kind, { kdkit: kdkit[kind].ms, pytorch, ratio: pytorch === null ? null : pytorch / kdkit[kind].ms }];
        }),
      ),
    );
    if (runs.length === 0) break;
  }

  const rows = kinds.map((kind) => {
    const of = (field) => perRound.map((round) => round[kind][field]).filter((value) => value !== null);
    const ratios = of('ratio');
    return {
      model: kind,
      kdkit: median(of('kdkit')),
      pytorch: ratios.length === 0 ? null : median(of('pytorch')),
      ratio: ratios.length === 0 ? null : median(ratios),
      rounds: perRound.map((round) => round[kind]),
    };
  });
  console.log(
    `\nPyTorch time / kdkit time (1.0 = as fast as PyTorch; PyTorch at its best thread setting; median of ${perRound.length} rounds):`,
  );
  for (const row of rows)
    console.log(
      `  ${`${row.model} KD training step (ms)`.padEnd(36)} kdkit ${row.kdkit.toFixed(1).padStart(8)}  ` +
        `PyTorch ${row.pytorch?.toFixed(1).padStart(8) ?? '     n/a'}  ratio ${row.ratio?.toFixed(3) ?? 'n/a'}` +
        (row.ratio === null ? '' : `  (rounds: ${row.rounds.map((round) => round.ratio.toFixed(3)).join(', ')})`),
    );
  return { engine, batchSize, measuredSteps, rows, torchRuns: firstRuns };
}

/** The PyTorch thread setting at which `kind` stepped fastest, as [torchThreads, blasThreads]. */
export function bestThreads(runs, kind) {
  const best = fastest(runs, (run) => run[kind]);
  return [best.torchThreads, best.blasThreads];
}

async function main(measuredSteps, rounds) {
  const result = await zooStepBench(measuredSteps, rounds);
  const resultsPath = fileURLToPath(new URL('./zoo-results.json', import.meta.url));
  writeFileSync(resultsPath, `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
  console.log(`wrote ${resultsPath}`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv[2] === '--kdkit') {
    const kind = process.argv[3];
    if (!(kind in zooModels)) throw new Error(`unknown model "${kind}"; expected one of: ${Object.keys(zooModels).join(', ')}`);
    console.log(JSON.stringify(await kdkitStepMs(kind, Number(process.argv[4] ?? 10))));
  } else {
    await main(Number(process.argv[2] ?? 10), Number(process.argv[3] ?? 3));
  }
}
