import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../../engine/tf.js';
import { initEngine, type BackendName } from '../../engine/index.js';
import { FusedAdam } from './adam.js';
import { FusedMomentum } from './momentum.js';
import { makeOptimizer } from '../optimizer.js';
import type { FusedOptimizer } from './fused.js';
import { setSimdKernelsEnabled } from '../../engine/simd/module.js';
import { simdAdam } from '../../engine/updates.js';
import { float32View } from '../../engine/inplace.js';
import { forceDeviceMath } from '../../engine/placement.js';

/** Runs `steps` updates on a small quadratic-plus-tanh problem; returns the final weights. */
function train(makeOptimizer: () => FusedOptimizer | tf.Optimizer, steps: number): Float32Array[] {
  const weights = [
    tf.variable(
      tf.tensor2d([
        [0.5, -1.25],
        [2, 0.75],
      ]),
    ),
    tf.variable(tf.tensor1d([0.1, -0.3, 0.2])),
  ];
  const optimizer = makeOptimizer();
  const loss = () =>
    tf.add(tf.sum(tf.square(tf.tanh(weights[0]))), tf.sum(tf.mul(tf.square(weights[1]), tf.tensor1d([1, 10, 100])))) as tf.Scalar;
  for (let step = 0; step < steps; step++) {
    if (optimizer instanceof tf.Optimizer) {
      optimizer.minimize(loss, false, weights);
    } else {
      const { value, grads } = tf.variableGrads(loss, weights);
      optimizer.step(
        weights,
        weights.map((weight) => grads[weight.name]),
      );
      tf.dispose([value, grads]);
    }
  }
  const result = weights.map((weight) => weight.dataSync() as Float32Array);
  optimizer.dispose();
  tf.dispose(weights);
  return result;
}

function assertClose(actual: Float32Array[], expected: ArrayLike<number>[], tolerance: number): void {
  actual.forEach((values, i) => {
    values.forEach((value, j) => {
      assert.ok(Math.abs(value - expected[i][j]) <= tolerance, `weight ${i}[${j}]: ${value} vs ${expected[i][j]}`);
    });
  });
}

/**
 * The same problem in float64, by the textbook formulas: loss = Σ tanh(w₀)² + Σ cⱼ w₁ⱼ², so
 * ∂/∂w₀ = 2 tanh(w₀)(1 − tanh²(w₀)) and ∂/∂w₁ⱼ = 2 cⱼ w₁ⱼ.
 */
function reference(update: (weights: number[], gradients: number[], state: number[][], t: number) => void, steps: number): number[][] {
  const weights = [0.5, -1.25, 2, 0.75, 0.1, -0.3, 0.2];
  const scale = [0, 0, 0, 0, 1, 10, 100];
  const state = [new Array(7).fill(0), new Array(7).fill(0)];
  for (let t = 1; t <= steps; t++) {
    const gradients = weights.map((w, i) => (i < 4 ? 2 * Math.tanh(w) * (1 - Math.tanh(w) ** 2) : 2 * scale[i] * w));
    update(weights, gradients, state, t);
  }
  return [weights.slice(0, 4), weights.slice(4)];
}

/**
 * Adam as torch.optim.Adam writes it, with `weightDecay` λ coupled (g ← g + λw), or as
 * torch.optim.AdamW with it decoupled (w ← w − lr·λ·w, from the weights before the step).
 */
function adamReference(learningRate: number, steps: number, weightDecay = 0, decoupled = false): number[][] {
  const [beta1, beta2, epsilon] = [0.9, 0.999, 1e-7];
  return reference(
    (weights, gradients, [m, v], t) =>
      weights.forEach((w, i) => {
        const g = gradients[i] + (decoupled ? 0 : weightDecay * w);
        m[i] = beta1 * m[i] + (1 - beta1) * g;
        v[i] = beta2 * v[i] + (1 - beta2) * g ** 2;
        const decayed = decoupled ? w * (1 - learningRate * weightDecay) : w;
        weights[i] = decayed - (learningRate * m[i]) / (1 - beta1 ** t) / (Math.sqrt(v[i] / (1 - beta2 ** t)) + epsilon);
      }),
    steps,
  );
}

/** SGD with momentum as torch.optim.SGD writes it (dampening 0, not Nesterov): g ← g + λw, a ← μa + g, w ← w − lr·a. */
function momentumReference(learningRate: number, momentum: number, steps: number, weightDecay = 0): number[][] {
  return reference(
    (weights, gradients, [accumulation]) =>
      weights.forEach((w, i) => {
        accumulation[i] = momentum * accumulation[i] + gradients[i] + weightDecay * w;
        weights[i] -= learningRate * accumulation[i];
      }),
    steps,
  );
}

/**
 * The backends the updates run on, and the device path (tensor ops, as on webgl and webgpu; see
 * engine/placement.ts) taken on the cpu backend.
 */
const setups = ['wasm', 'cpu', 'device'] as const;

/** A test body run on `setup`, the device path switched off again after it. */
function onSetup(setup: (typeof setups)[number], body: () => void): () => Promise<void> {
  return async () => {
    await initEngine({ backend: setup === 'device' ? 'cpu' : (setup as BackendName) });
    forceDeviceMath(setup === 'device');
    try {
      body();
    } finally {
      forceDeviceMath(false);
    }
  };
}

for (const backend of setups) {
  test(
    `fused Adam follows the float64 formula over 20 steps, and tf.train.adam to its float32 rounding (${backend})`,
    onSetup(backend, () => {
      const fused = train(() => new FusedAdam({ learningRate: 0.05 }), 20);
      // The cpu backend's loop computes each update in float64; the wasm backend's SIMD kernel and the
      // device path's tensor ops in float32, as tf.train.adam and PyTorch do, which drifts a few 1e-6
      // over these 20 steps.
      assertClose(fused, adamReference(0.05, 20), backend === 'cpu' ? 1e-6 : 1e-5);
      // tf.train.adam rounds every intermediate to float32 and drifts ~1e-5 from the exact value.
      assertClose(
        fused,
        train(() => tf.train.adam(0.05), 20),
        3e-5,
      );
    }),
  );

  test(
    `fused momentum and SGD follow the formula and match tf.train.momentum and tf.train.sgd (${backend})`,
    onSetup(backend, () => {
      const momentum = train(() => new FusedMomentum(0.01, 0.9), 20);
      assertClose(momentum, momentumReference(0.01, 0.9, 20), 1e-6);
      assertClose(
        momentum,
        train(() => tf.train.momentum(0.01, 0.9), 20),
        2e-6,
      );
      const sgd = train(() => new FusedMomentum(0.01, 0), 20);
      assertClose(sgd, momentumReference(0.01, 0, 20), 1e-6);
      assertClose(
        sgd,
        train(() => tf.train.sgd(0.01), 20),
        2e-6,
      );
    }),
  );

  test(
    `weight decay as PyTorch has it: coupled for SGD, momentum and Adam, decoupled for AdamW (${backend})`,
    onSetup(backend, () => {
      const tolerance = backend === 'cpu' ? 1e-6 : 1e-5;
      assertClose(
        train(() => new FusedMomentum(0.01, 0, 0.5), 20),
        momentumReference(0.01, 0, 20, 0.5),
        tolerance,
      );
      assertClose(
        train(() => new FusedMomentum(0.01, 0.9, 0.5), 20),
        momentumReference(0.01, 0.9, 20, 0.5),
        tolerance,
      );
      assertClose(
        train(() => new FusedAdam({ learningRate: 0.05, weightDecay: 0.5 }), 20),
        adamReference(0.05, 20, 0.5),
        tolerance,
      );
      const adamw = train(() => new FusedAdam({ learningRate: 0.05, weightDecay: 0.5, decoupled: true }), 20);
      assertClose(adamw, adamReference(0.05, 20, 0.5, true), tolerance);
      // Decay matters here: without it the weights end elsewhere.
      assert.ok(Math.abs(adamw[1][0] - adamReference(0.05, 20)[1][0]) > 1e-3);
    }),
  );
}

test('Adam by hand: the first step moves every weight by lr against the sign of its gradient', async () => {
  await initEngine({ backend: 'wasm' });
  // At t = 1, m̂ = g and v̂ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g).
  const weight = tf.variable(tf.tensor1d([1, -2, 3]));
  const gradient = tf.tensor1d([0.5, -4, 1e-3]);
  const optimizer = new FusedAdam({ learningRate: 0.1 });
  optimizer.step([weight], [gradient]);
  optimizer.dispose();
  assertClose([weight.dataSync() as Float32Array], [Float32Array.from([0.9, -1.9, 3 - (0.1 * 1e-3) / (1e-3 + 1e-7)])], 1e-6);
  tf.dispose([weight, gradient]);
});

test("an update never writes through to a tensor that shared the variable's storage", async () => {
  await initEngine({ backend: 'wasm' });
  const initial = tf.tensor1d([1, 2, 3]);
  const weight = tf.variable(initial);
  const gradient = tf.tensor1d([1, 1, 1]);
  const optimizer = new FusedMomentum(0.5, 0);
  optimizer.step([weight], [gradient]);
  optimizer.dispose();
  assert.deepEqual([...initial.dataSync()], [1, 2, 3]);
  assert.deepEqual([...weight.dataSync()], [0.5, 1.5, 2.5]);
  tf.dispose([initial, weight, gradient]);
});

for (const setup of ['wasm', 'device'] as const) {
  test(
    `fused updates allocate no tensors (${setup})`,
    onSetup(setup, () => {
      for (const [optimizer, slots] of [
        [new FusedAdam({ learningRate: 0.01 }), 2],
        [new FusedMomentum(0.01, 0.9), 1],
        [new FusedMomentum(0.01, 0), 0],
      ] as const) {
        const weight = tf.variable(tf.randomNormal([8, 8]));
        const gradient = tf.randomNormal([8, 8]);
        optimizer.step([weight], [gradient]);
        const before = tf.memory().numTensors;
        for (let i = 0; i < 5; i++) optimizer.step([weight], [gradient]);
        assert.equal(tf.memory().numTensors, before);
        optimizer.dispose();
        assert.equal(tf.memory().numTensors, before - slots, `dispose frees the ${slots} slots`);
        tf.dispose([weight, gradient]);
      }
    }),
  );
}

/** Ten steps on variables of odd and even sizes, on wasm with or without the SIMD kernels. */
async function trainOnWasm(simd: boolean, makeOptimizer: () => FusedOptimizer): Promise<Float32Array[]> {
  await initEngine({ backend: 'wasm' });
  setSimdKernelsEnabled(simd);
  try {
    const init = (size: number, seed: number) => Float32Array.from({ length: size }, (_, i) => Math.sin(seed * 1000 + i * 0.37) * 2);
    const weights = [
      tf.variable(tf.tensor2d(init(130 * 131, 1), [130, 131])),
      tf.variable(tf.tensor1d(init(20_000, 2))),
      tf.variable(tf.tensor1d(init(3, 3))),
    ];
    const scales = weights.map((weight) => tf.reshape(tf.linspace(0.5, 3, weight.size), weight.shape));
    const loss = () => tf.addN(weights.map((weight, i) => tf.sum(tf.mul(tf.square(tf.tanh(weight)), scales[i])))) as tf.Scalar;
    const optimizer = makeOptimizer();
    for (let step = 0; step < 10; step++) {
      const { value, grads } = tf.variableGrads(loss, weights);
      optimizer.step(
        weights,
        weights.map((weight) => grads[weight.name]),
      );
      tf.dispose([value, grads]);
    }
    const result = weights.map((weight) => weight.dataSync() as Float32Array);
    optimizer.dispose();
    tf.dispose([...weights, ...scales]);
    return result;
  } finally {
    setSimdKernelsEnabled(true);
  }
}

for (const [name, make] of [
  ['Adam', () => new FusedAdam({ learningRate: 0.05 })],
  ['momentum', () => new FusedMomentum(0.05, 0.9)],
  ['SGD', () => new FusedMomentum(0.05, 0)],
  ['Adam with weight decay', () => new FusedAdam({ learningRate: 0.05, weightDecay: 0.2 })],
  ['AdamW', () => new FusedAdam({ learningRate: 0.05, weightDecay: 0.2, decoupled: true })],
  ['momentum with weight decay', () => new FusedMomentum(0.05, 0.9, 0.2)],
  ['SGD with weight decay', () => new FusedMomentum(0.05, 0, 0.2)],
] as const) {
  test(`fused ${name} by the SIMD kernel gives the JavaScript loop's weights, vector lanes and the scalar rest`, async () => {
    const loop = await trainOnWasm(false, make);
    const simd = await trainOnWasm(true, make);
    // The kernel rounds each operation to float32; the loop computes in float64 and rounds once.
    assertClose(simd, loop, 1e-5);
  });
}

test('the SIMD Adam kernel runs on the wasm backend and declines the cpu backend', async () => {
  for (const [backend, expected] of [
    ['wasm', true],
    ['cpu', false],
  ] as const) {
    await initEngine({ backend });
    const tensors = [tf.zeros([5]), tf.ones([5]), tf.fill([5], 0.5), tf.zeros([5]), tf.zeros([5])];
    const [next, weights, gradient, firstMoment, secondMoment] = tensors.map((tensor) => float32View(tensor));
    const ran = simdAdam(
      { next, weights, gradient, firstMoment, secondMoment },
      {
        beta1: 0.9,
        beta2: 0.999,
        stepSize: 0.1 / (1 - 0.9),
        secondCorrection: 1 / Math.sqrt(1 - 0.999),
        epsilon: 1e-7,
        decay: 0,
        keep: 1,
      },
    );
    assert.equal(ran, expected, backend);
    if (ran) {
      // First step: m = 0.05, v = 0.00025, next = 1 − 1 · 0.05 / (√0.00025 / √0.001 + 1e-7) ≈ 0.9.
      assertClose([Float32Array.from(next)], [[0.9, 0.9, 0.9, 0.9, 0.9]], 1e-6);
      assertClose([Float32Array.from(firstMoment), Float32Array.from(secondMoment)], [Array(5).fill(0.05), Array(5).fill(0.00025)], 1e-7);
    }
    tf.dispose(tensors);
  }
});

test("a config's optimizer spec reaches the update: type, momentum, weight decay and the schedule's first rate", async () => {
  await initEngine({ backend: 'wasm' });
  const cases = [
    [
      { type: 'adamw', learningRate: { schedule: 'cosine', from: 0.05, to: 0 }, momentum: 0.9, weightDecay: 0.5 },
      adamReference(0.05, 20, 0.5, true),
    ],
    [{ type: 'adam', learningRate: 0.05, momentum: 0.9, weightDecay: 0.5 }, adamReference(0.05, 20, 0.5)],
    // torch.optim.AdamW's default λ, 0.01.
    [{ type: 'adamw', learningRate: 0.05, momentum: 0.9 }, adamReference(0.05, 20, 0.01, true)],
    [{ type: 'momentum', learningRate: 0.01, momentum: 0.9, weightDecay: 0.5 }, momentumReference(0.01, 0.9, 20, 0.5)],
    [{ type: 'sgd', learningRate: 0.01, momentum: 0.9 }, momentumReference(0.01, 0, 20)],
  ] as const;
  // The schedule's rate holds here: outside the loop nothing moves it from its first value.
  for (const [spec, expected] of cases)
    assertClose(
      train(() => makeOptimizer(spec), 20),
      expected,
      1e-5,
    );
});
