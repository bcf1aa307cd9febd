/**
 * CRD against RepDistiller's CRDLoss/ContrastMemory in PyTorch (test/fixtures/crd.json, from
 * scripts/make_crd_fixture.py): two batches' losses, gradients and memory banks; its negatives;
 * no leaks; and in distill(): it learns, and a stopped and resumed run is bit-identical.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { Rng } from '../util/rng.js';
import { distill } from '../train/distill.js';
import type { Callback } from '../train/callbacks/callback.js';
import { checkpointing } from '../train/callbacks/checkpoints.js';
import { crd, crdTerm, NegativeSampler } from './crd.js';
import type { TermInputs } from './method.js';

await initEngine({ backend: 'wasm' });

interface Batch {
  indices: number[];
  contrastIdx: number[][];
  studentFeature: number[][];
  teacherFeature: number[][];
  loss: number;
  studentFeatureGrad: number[][];
  grads: Record<'studentWeight' | 'studentBias' | 'teacherWeight' | 'teacherBias', number[][] | number[]>;
  z: [number, number];
  memoryStudent: number[][];
  memoryTeacher: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/crd.json', import.meta.url), 'utf8')) as {
  nData: number;
  studentDim: number;
  teacherDim: number;
  featureDim: number;
  negatives: number;
  temperature: number;
  momentum: number;
  initial: {
    studentWeight: number[][];
    studentBias: number[];
    teacherWeight: number[][];
    teacherBias: number[];
    memoryStudent: number[][];
    memoryTeacher: number[][];
  };
  batches: Batch[];
};

/** float32 against float64: within 1e-4 of the value, or of the array's largest value for entries near 0. */
function close(actual: ArrayLike<number>, expected: number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const scale = Math.max(...expected.map(Math.abs));
  for (let i = 0; i < expected.length; i++) {
    const tolerance = 1e-4 * Math.abs(expected[i]) + 2e-6 * scale;
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs PyTorch ${expected[i]}`);
  }
}

const dummies = (batch: number) => ({
  studentLogits: tf.zeros([batch, 2]) as tf.Tensor2D,
  teacherLogits: null,
  labels: tf.zeros([batch], 'int32') as tf.Tensor1D,
});

for (const strategy of ['scores', 'rows'] as const) {
  test(`crd (${strategy}) matches RepDistiller's CRDLoss over two batches: loss, gradients, Z and both memory banks`, () => {
    const before = tf.memory().numTensors;
    const { batches } = fixture;
    const labels = new Int32Array(fixture.nData).map((_, i) => i % 3);
    let call = 0;
    const term = crdTerm({
      ...fixture,
      labels,
      seed: 1,
      initial: fixture.initial,
      strategy,
      contrast: (indices) => {
        assert.deepEqual(Array.from(indices), batches[call].indices);
        return Int32Array.from(batches[call++].contrastIdx.flat());
      },
    });
    const [studentKernel, studentBias, teacherKernel, teacherBias] = term.variables!;
    for (const [b, batch] of batches.entries()) {
      const initialFeature = tf.tensor2d(batch.studentFeature);
      const feature = tf.variable(initialFeature, true, `crd_test_feature_${strategy}_${b}`);
      initialFeature.dispose();
      const teacherFeature = tf.tensor2d(batch.teacherFeature);
      const extra = dummies(batch.indices.length);
      const inputs: TermInputs = {
        ...extra,
        studentFeature: feature,
        teacherFeature,
        position: { progress: 0, epoch: 1 },
        indices: Int32Array.from(batch.indices),
        step: b,
      };
      const { value, grads } = tf.variableGrads(() => term(inputs), [feature, ...term.variables!]);
      close(value.dataSync(), [batch.loss], `batch ${b + 1} loss`);
      close(grads[feature.name].dataSync(), batch.studentFeatureGrad.flat(), `batch ${b + 1} ∂/∂f_s`);
      // Kernels are [in, out]; PyTorch's weights [out, in].
      const weightGrad = (kernel: tf.Variable) => tf.tidy(() => tf.transpose(grads[kernel.name]).dataSync());
      close(weightGrad(studentKernel), (batch.grads.studentWeight as number[][]).flat(), `batch ${b + 1} ∂/∂embed_s.weight`);
      close(grads[studentBias.name].dataSync(), batch.grads.studentBias as number[], `batch ${b + 1} ∂/∂embed_s.bias`);
      close(weightGrad(teacherKernel), (batch.grads.teacherWeight as number[][]).flat(), `batch ${b + 1} ∂/∂embed_t.weight`);
      close(grads[teacherBias.name].dataSync(), batch.grads.teacherBias as number[], `batch ${b + 1} ∂/∂embed_t.bias`);
      term.afterStep!();
      const [memoryStudent, memoryTeacher, z] = term.buffers!;
      close(memoryStudent.dataSync(), batch.memoryStudent.flat(), `batch ${b + 1} memory_v1`);
      close(memoryTeacher.dataSync(), batch.memoryTeacher.flat(), `batch ${b + 1} memory_v2`);
      close(z.dataSync(), batch.z, `batch ${b + 1} Z`);
      tf.dispose([value, grads, feature, teacherFeature, extra.studentLogits, extra.labels]);
    }
    term.dispose!();
    assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
  });
}

test('negatives: K distinct samples of other classes after the positive, seeded; with replacement only when fewer exist', () => {
  const labels = Int32Array.from({ length: 30 }, (_, i) => [0, 1, 1, 2, 2, 2][i % 6]);
  const sampler = new NegativeSampler(labels, 12);
  assert.deepEqual(sampler.smallPools(), []);
  const indices = Int32Array.from([0, 5, 2, 29, 14]);
  const rows = sampler.draw(indices, new Rng(3));
  assert.deepEqual(Array.from(sampler.draw(indices, new Rng(3))), Array.from(rows), 'the same generator, the same negatives');
  assert.notDeepEqual(Array.from(sampler.draw(indices, new Rng(4))), Array.from(rows));
  const seen = new Map<number, number>();
  for (let r = 0; r < 2000; r++) {
    const drawn = sampler.draw(indices, new Rng(100 + r));
    for (let b = 0; b < indices.length; b++) {
      const row = Array.from(drawn.subarray(b * 13, (b + 1) * 13));
      assert.equal(row[0], indices[b]);
      const negatives = row.slice(1);
      assert.equal(new Set(negatives).size, 12, 'distinct');
      for (const j of negatives) assert.notEqual(labels[j], labels[indices[b]], 'of another class');
      if (b === 0) for (const j of negatives) seen.set(j, (seen.get(j) ?? 0) + 1);
    }
  }
  // Sample 0 (class 0) draws 12 of the 25 others, each with probability 12/25: 960 of 2000.
  assert.equal(seen.size, 25);
  for (const [j, count] of seen) assert.ok(Math.abs(count - 960) < 120, `sample ${j} drawn ${count} times`);

  const tight = new NegativeSampler(labels, 20);
  assert.deepEqual(tight.smallPools(), [2], 'class 2 has 15 samples of other classes');
  const drawn = tight.draw(Int32Array.from([3]), new Rng(1));
  assert.equal(drawn.length, 21);
  for (const j of drawn.subarray(1)) assert.notEqual(labels[j], 2);
});

/** 64 images 6×6 of two classes: a bright left half or a bright right half. */
function halves(count: number): { x: tf.Tensor4D; y: Int32Array } {
  const values = new Float32Array(count * 36);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    y[i] = i % 2;
    for (let p = 0; p < 36; p++) values[i * 36 + p] = p % 6 < 3 === (y[i] === 0) ? 0.9 : 0.1 * ((i + p) % 3);
  }
  return { x: tf.tensor4d(values, [count, 6, 6, 1]), y };
}

const mlp = (seed: number, hidden = 8) =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [6, 6, 1] }),
      tf.layers.dense({ units: hidden, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });
const weightsOf = (model: tf.LayersModel) => model.getWeights().map((weight) => Array.from(weight.dataSync()));
const crdTerms = (negatives: number) => [
  { method: 'crd', weight: 0.8, student: 'penultimate', teacher: 'penultimate', featureDim: 8, negatives },
  { method: 'ce', weight: 1 },
];

test('distill() with crd + ce learns, leaks nothing, and says when negatives must repeat', async () => {
  const train = halves(64);
  const teacher = mlp(11, 12);
  const student = mlp(3);
  const before = tf.memory().numTensors;
  const messages: string[] = [];
  const result = await distill({
    teacher,
    student,
    train,
    epochs: 8,
    batchSize: 16,
    seed: 5,
    optimizer: { type: 'adam', learningRate: 0.01 },
    terms: crdTerms(16),
    onEvent: (event) => {
      if (event.type === 'info') messages.push(event.message);
    },
  });
  const losses = result.history.map((epoch) => epoch.loss);
  const crds = result.history.map((epoch) => epoch.terms.crd);
  assert.ok(losses.every(Number.isFinite), `losses ${losses}`);
  assert.ok(losses.at(-1)! < losses[0] * 0.9, `the loss falls: ${losses.join(', ')}`);
  assert.ok(crds.at(-1)! < crds[0], `crd falls: ${crds.join(', ')}`);
  assert.ok(!messages.some((message) => message.startsWith('crd:')), messages.join('\n'));
  assert.equal(tf.memory().numTensors, before, 'the embeddings and memory banks are freed with the run');

  // 40 negatives, 32 samples of the other class: drawn with replacement, and said so.
  await distill({
    teacher,
    student,
    train,
    epochs: 1,
    batchSize: 16,
    terms: crdTerms(40),
    onEvent: (event) => {
      if (event.type === 'info') messages.push(event.message);
    },
  });
  assert.ok(
    messages.some((message) =>
      /^crd: 40 negatives per sample, but every class has fewer samples of other classes .*with replacement/.test(message),
    ),
    messages.join('\n'),
  );
  assert.equal(tf.memory().numTensors, before);
  for (const model of [teacher, student]) model.dispose();
  train.x.dispose();
});

test('a crd run stopped mid-epoch and resumed from its checkpoint ends bit-identical to an uninterrupted one', async () => {
  const train = halves(64);
  const teacher = mlp(11, 12);
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-crd-resume-'));
  const common = { teacher, train, epochs: 3, batchSize: 16, seed: 9, terms: crdTerms(16) };
  try {
    const whole = await distill({ ...common, student: mlp(3) });
    const controller = new AbortController();
    let steps = 0;
    const stopper: Callback = {
      name: 'stopper',
      onStepEnd: () => {
        if (++steps === 6) controller.abort();
      },
    };
    const checkpoints = { directory, everyMs: 0, keep: 2 };
    const first = await distill(
      { ...common, student: mlp(3), callbacks: [stopper], signal: controller.signal },
      { checkpoints: checkpointing({ ...checkpoints, resume: false }) },
    );
    assert.equal(first.stopped, 'aborted');
    const resumed = await distill({ ...common, student: first.student }, { checkpoints: checkpointing({ ...checkpoints, resume: true }) });
    assert.deepEqual(weightsOf(resumed.student), weightsOf(whole.student));
    assert.deepEqual(
      resumed.history.map((epoch) => epoch.terms.crd),
      whole.history.map((epoch) => epoch.terms.crd),
    );
    // The memory banks and Z are in the checkpoint: without them (tried) the resumed weights differ.
    for (const model of [whole.student, first.student]) model.dispose();
  } finally {
    rmSync(directory, { recursive: true, force: true });
    teacher.dispose();
    train.x.dispose();
  }
});

test('crd.build() needs its stage: the tapped shapes and labels of at least two classes', () => {
  const options = crd.options.parse({ student: 'penultimate', teacher: 'penultimate' });
  assert.deepEqual(
    { featureDim: options.featureDim, negatives: options.negatives, temperature: options.temperature, momentum: options.momentum },
    { featureDim: 128, negatives: 16384, temperature: 0.07, momentum: 0.5 },
  );
  assert.throws(() => crd.build(options), /crd: needs its stage's training labels and tapped shapes/);
  assert.throws(
    () => crd.build(options, { samples: 4, labels: new Int32Array(4), seed: 1, studentShape: [3], teacherShape: [3] }),
    /other classes; the training set has 1 class/,
  );
});
