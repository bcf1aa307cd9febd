// Why the engine builds on wasm: the same KD training step as bench/engine-step.js (batch 128,
// 0.9·kd + 0.1·ce, fused Adam) on TensorFlow.js's pure-JavaScript cpu backend, then on kdkit's
// default engine. Slow on purpose: the cpu CNN step takes over a minute. Mean of 3 steps after one.
// Run: npx tsc -p . && node bench/cpu-backend.js
import { initEngine, methods, tf } from '../dist/index.js';
import { makeOptimizer } from '../dist/train/optimizer.js';

const models = {
  'MLP 784-1200-1200-10': () => tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }),
    tf.layers.dense({ units: 1200, activation: 'relu' }),
    tf.layers.dense({ units: 10 }),
  ] }),
  'CNN 32-64, dense 256': () => tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
    tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 256, activation: 'relu' }),
    tf.layers.dense({ units: 10 }),
  ] }),
};
const kd = methods.get('kd').build({ temperature: 4 });
const ce = methods.get('ce').build({});

for (const backend of ['cpu', 'wasm']) {
  await initEngine({ backend });
  for (const [name, build] of Object.entries(models)) {
    const model = build();
    const images = tf.randomNormal([128, ...model.inputs[0].shape.slice(1)]);
    const labels = tf.randomUniform([128], 0, 10, 'int32');
    const teacherLogits = tf.randomNormal([128, 10]);
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
    step();
    const started = performance.now();
    for (let i = 0; i < 3; i++) step();
    console.log(`${backend.padEnd(5)} ${name.padEnd(22)} ${((performance.now() - started) / 3).toFixed(0)} ms/step`);
    model.dispose();
    tf.dispose([images, labels, teacherLogits]);
  }
}
