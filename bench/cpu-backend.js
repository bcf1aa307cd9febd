// Why the engine builds on wasm: the same KD training step as bench/engine-step.js (batch 128,
// 0.9·kd + 0.1·ce, fused Adam) on TensorFlow.js's pure-JavaScript cpu backend, then on kdkit's
// default engine. Slow on purpose: the cpu CNN step takes over a minute. Mean of 3 steps after one.
// Run: npx tsc -p . && node bench/cpu-backend.js
import { initEngine } from '../dist/index.js';
import { fashionCnn, kdStep, mlp } from './kd-step.js';

const models = { 'MLP 784-1200-1200-10': mlp, 'CNN 32-64, dense 256': fashionCnn };

for (const backend of ['cpu', 'wasm']) {
  await initEngine({ backend });
  for (const [name, build] of Object.entries(models)) {
    const model = build();
    const { step, dispose } = kdStep(model);
    step();
    const started = performance.now();
    for (let i = 0; i < 3; i++) step();
    console.log(`${backend.padEnd(5)} ${name.padEnd(22)} ${((performance.now() - started) / 3).toFixed(0)} ms/step`);
    dispose();
    model.dispose();
  }
}
