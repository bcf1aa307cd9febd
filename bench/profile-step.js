// Where one KD training step's time goes, kernel by kernel (tf.profile, mean of 3 profiled steps
// after warm-up): the CNN or the MLP of bench/engine-step.js, on kdkit's default engine.
// Run: npx tsc -p . && node bench/profile-step.js [cnn|mlp]
import { initEngine, tf } from '../dist/index.js';
import { fashionCnn, kdStep, mlp } from './kd-step.js';

const kind = process.argv[2] ?? 'cnn';
const engine = await initEngine();
const model = kind === 'mlp' ? mlp() : fashionCnn();
const { step } = kdStep(model);
for (let i = 0; i < 5; i++) step();
const times = [];
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  step();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
console.log(
  `${kind} KD step on ${engine.backend} + ${engine.accelerator} (${engine.acceleratorInterface}): median ${times[10].toFixed(1)} ms`,
);

const byKernel = new Map();
const runs = 3;
for (let run = 0; run < runs; run++) {
  const profile = await tf.profile(step);
  for (const kernel of profile.kernels) {
    const key = `${kernel.name} ${JSON.stringify(kernel.inputShapes)}`;
    byKernel.set(key, (byKernel.get(key) ?? 0) + (await kernel.kernelTimeMs) / runs);
  }
}
const total = [...byKernel.values()].reduce((sum, ms) => sum + ms, 0);
console.log(`kernels: ${total.toFixed(1)} ms in all (profiling adds its own overhead)`);
for (const [key, ms] of [...byKernel.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
  console.log(`${ms.toFixed(2).padStart(8)} ms  ${key}`);
}
