// The blocked (NCHWc) convolution graphs of src/engine/ort/kernels/nchwc_graph.ts against the
// gathered-patch graphs they replace, in one process, switching between them step by step so that
// the machine's load falls on both alike: the KD training step of the ResNet- and
// MobileNetV2-style students of bench/zoo-step.js, then tf.conv2d and its two gradients alone on
// the ResNet's layer shapes (batch 128). Medians, ms.
// Run: npx tsc -p . && node bench/blocked-conv.js [steps]
import { initEngine, tf } from '../dist/index.js';
import { blockedConvolution } from '../dist/engine/ort/kernels/nchwc_graph.js';
import { kdStep } from './kd-step.js';
import { zooModels } from './zoo-step.js';

const steps = Number(process.argv[2] ?? 6);
await initEngine();

const median = (values) => [...values].sort((a, b) => a - b)[values.length >> 1];

/** Median ms of `run` with the blocked graphs off and on, alternating, after one warm-up of each. */
function alternate(run, repeats) {
  const times = { patches: [], blocked: [] };
  for (let i = -1; i < repeats; i++) {
    for (const [name, enabled] of [
      ['patches', false],
      ['blocked', true],
    ]) {
      blockedConvolution.enabled = enabled;
      const started = performance.now();
      run();
      if (i >= 0) times[name].push(performance.now() - started);
    }
  }
  blockedConvolution.enabled = true;
  return { patches: median(times.patches), blocked: median(times.blocked) };
}

const row = (label, { patches, blocked }) =>
  console.log(
    `${label.padEnd(44)} ${patches.toFixed(1).padStart(8)} ${blocked.toFixed(1).padStart(8)} ${(patches / blocked).toFixed(2).padStart(6)}×`,
  );

console.log(`${'ms (median)'.padEnd(44)} ${'patches'.padStart(8)} ${'blocked'.padStart(8)} ${'gain'.padStart(7)}`);
for (const kind of ['resnet', 'mobilenet']) {
  const { step } = kdStep(zooModels[kind]());
  row(`${kind} KD step`, alternate(step, steps));
}

const layers = [
  { label: '28×28 16 → 16 3×3', x: [128, 28, 28, 16], filter: [3, 3, 16, 16], strides: 1 },
  { label: '28×28 16 → 32 3×3 stride 2', x: [128, 28, 28, 16], filter: [3, 3, 16, 32], strides: 2 },
  { label: '14×14 32 → 32 3×3', x: [128, 14, 14, 32], filter: [3, 3, 32, 32], strides: 1 },
  { label: '7×7 64 → 64 3×3', x: [128, 7, 7, 64], filter: [3, 3, 64, 64], strides: 1 },
];
for (const { label, x: xShape, filter: filterShape, strides } of layers) {
  const x = tf.randomNormal(xShape);
  const filter = tf.randomNormal(filterShape);
  const y = tf.conv2d(x, filter, strides, 'same');
  const dy = tf.randomNormal(y.shape);
  const timed = (compute) => () => tf.dispose(compute());
  row(
    `${label}: forward`,
    alternate(
      timed(() => tf.conv2d(x, filter, strides, 'same')),
      steps,
    ),
  );
  const attrs = { strides, pad: 'same', dataFormat: 'NHWC', dimRoundingMode: undefined };
  const inputGrad = () => tf.engine().runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: xShape });
  const filterGrad = () => tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape });
  row(`${label}: input gradient`, alternate(timed(inputGrad), steps));
  row(`${label}: filter gradient`, alternate(timed(filterGrad), steps));
  tf.dispose([x, filter, y, dy]);
}
