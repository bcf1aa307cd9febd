// Where one KD training step's time goes, kernel by kernel (tf.profile, mean of 3 profiled steps
// after warm-up): the CNN or the MLP of bench/engine-step.js, on kdkit's default engine.
// Run: npx tsc -p . && node bench/profile-step.js [cnn|mlp]
import { initEngine, methods, tf } from '../dist/index.js';
import { makeOptimizer } from '../dist/train/optimizer.js';

const kind = process.argv[2] ?? 'cnn';
const engine = await initEngine();
const model = kind === 'mlp'
  ? tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }),
    tf.layers.dense({ units: 1200, activation: 'relu' }),
    tf.layers.dense({ units: 10 }),
  ] })
  : tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 256, activation: 'relu' }),
    tf.layers.dense({ units: 10 }),
  ] });
const kd = methods.get('kd').build({ temperature: 4 });
const ce = methods.get('ce').build({});
const images = tf.randomNormal([128, ...model.inputs[0].shape.slice(1)]);
const labels = tf.randomUniform([128], 0, 10, 'int32');
const teacherLogits = tf.mul(tf.randomNormal([128, 10]), 4);
const variables = model.trainableWeights.map((weight) => weight.read());
const optimizer = makeOptimizer({ type: 'adam', learningRate: 1e-3, momentum: 0 });
const step = () => {
  const { value, grads } = tf.variableGrads(() => {
    const inputs = { studentLogits: model.apply(images, { training: true }), teacherLogits, labels };
    return tf.add(tf.mul(kd(inputs), 0.9), tf.mul(ce(inputs), 0.1));
  }, variables);
  value.dataSync();
  optimizer.step(variables, variables.map((variable) => grads[variable.name]));
  tf.dispose([value, grads]);
};
for (let i = 0; i < 5; i++) step();
const times = [];
for (let i = 0; i < 20; i++) {
  const started = performance.now();
  step();
  times.push(performance.now() - started);
}
times.sort((a, b) => a - b);
console.log(`${kind} KD step on ${engine.backend} + ${engine.accelerator} (${engine.acceleratorInterface}): median ${times[10].toFixed(1)} ms`);

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
