// The two models of the step benchmarks and kdkit's KD training step on them, shared by
// engine-step.js, profile-step.js and cpu-backend.js.
import { methods, tf } from '../dist/index.js';
import { makeOptimizer } from '../dist/train/optimizer.js';
import { withConstantInputs } from '../dist/engine/conv_layer.js';

/** The Fashion-MNIST demo teacher's shape: conv 32 – pool – conv 64 – pool – dense 256 – 10. */
export function fashionCnn() {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 256, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

/** Hinton et al.'s MLP 784-1200-1200-10. */
export function mlp() {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [784], units: 1200, activation: 'relu' }),
      tf.layers.dense({ units: 1200, activation: 'relu' }),
      tf.layers.dense({ units: 10 }),
    ],
  });
}

const kdTerm = methods.get('kd').build({ temperature: 4 });
const ceTerm = methods.get('ce').build({});

/**
 * kdkit's training step as src/train/trainer.ts runs it (0.9·kd(T=4) + 0.1·ce against fixed
 * teacher logits, fused Adam 1e-3) on a batch of `batchSize` random images: returns `step()` and
 * `dispose()`.
 */
export function kdStep(model, batchSize = 128) {
  const variables = model.trainableWeights.map((weight) => weight.read());
  const optimizer = makeOptimizer({ type: 'adam', learningRate: 1e-3, momentum: 0 });
  const images = tf.randomNormal([batchSize, ...model.inputs[0].shape.slice(1)]);
  const labels = tf.randomUniform([batchSize], 0, 10, 'int32');
  const teacherLogits = tf.mul(tf.randomNormal([batchSize, 10]), 4);
  return {
    step() {
      const { value, grads } = withConstantInputs([images], () =>
        tf.variableGrads(() => {
          const inputs = { studentLogits: model.apply(images, { training: true }), teacherLogits, labels };
          return tf.add(tf.mul(kdTerm(inputs), 0.9), tf.mul(ceTerm(inputs), 0.1));
        }, variables),
      );
      value.dataSync();
      optimizer.step(
        variables,
        variables.map((variable) => grads[variable.name]),
      );
      tf.dispose([value, grads]);
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([images, labels, teacherLogits]);
    },
  };
}
