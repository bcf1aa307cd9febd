// Where one KD training step's time goes, kernel by kernel (tf.profile, mean of 3 profiled steps
// after warm-up): the CNN or the MLP of bench/engine-step.js, the MobileNetV2- or ResNet-style
// student of bench/zoo-step.js, or the transformer of bench/text-step.js, on kdkit's default
// engine. The last lines sum the kernels by name (all shapes), with their calls per step.
// Run: npx tsc -p . && node bench/profile-step.js [cnn|mlp|mobilenet|resnet|transformer]
import { initEngine, tf } from '../dist/index.js';
import { fashionCnn, kdStep, mlp } from './kd-step.js';
import { zooModels } from './zoo-step.js';
import { textKdStep, textModel } from './text-step-model.js';

const models = { cnn: fashionCnn, mlp, ...zooModels, transformer: textModel };
const kind = process.argv[2] ?? 'cnn';
if (!(kind in models)) throw new Error(`unknown model "${kind}"; expected one of: ${Object.keys(models).join(', ')}`);
const engine = await initEngine();
const model = models[kind]();
const { step } = kind === 'transformer' ? textKdStep(model) : kdStep(model);
// The zoo students take seconds a step: fewer warm-up and timed steps.
const [warmup, timed] = kind in zooModels || kind === 'transformer' ? [2, 5] : [5, 20];
for (let i = 0; i < warmup; i++) step();
const times = [];
for (let i = 0; i < timed; i++) {
  const started = performance.now();
  step();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
console.log(
  `${kind} KD step on ${engine.backend} + ${engine.accelerator} (${engine.acceleratorInterface}): median ${times[timed >> 1].toFixed(1)} ms`,
);

const byKernel = new Map();
const byName = new Map();
const runs = 3;
for (let run = 0; run < runs; run++) {
  const profile = await tf.profile(step);
  for (const kernel of profile.kernels) {
    const key = `${kernel.name} ${JSON.stringify(kernel.inputShapes)}`;
    const ms = (await kernel.kernelTimeMs) / runs;
    byKernel.set(key, (byKernel.get(key) ?? 0) + ms);
    const named = byName.get(kernel.name) ?? { ms: 0, calls: 0 };
    byName.set(kernel.name, { ms: named.ms + ms, calls: named.calls + 1 / runs });
  }
}
const total = [...byKernel.values()].reduce((sum, ms) => sum + ms, 0);
console.log(`kernels: ${total.toFixed(1)} ms in all (profiling adds its own overhead)`);
for (const [key, ms] of [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${ms.toFixed(2).padStart(8)} ms  ${key}`);
}
console.log('by kernel name (all shapes): ms per step, calls per step');
for (const [name, { ms, calls }] of [...byName.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 20)) {
  console.log(`${ms.toFixed(1).padStart(8)} ms  ${String(Math.round(calls)).padStart(4)} calls  ${name}`);
}
