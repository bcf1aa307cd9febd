/**
 * Adam (Kingma & Ba 2015, arXiv:1412.6980) as one fused update per variable, by kdkit's SIMD
 * kernel on the wasm backend and in one JavaScript pass otherwise:
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,   w ← w − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
 * The same formula and defaults as tf.train.adam (ε = 1e-7), so results match it to rounding.
 */
import type * as tf from '../../engine/tf.js';
import { float32View, updateVariable } from '../../engine/inplace.js';
import { simdAdam } from '../../engine/updates.js';
import { SlotStore, type FusedOptimizer, type OptimizerState } from './fused.js';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export class FusedAdam implements FusedOptimizer {
  iterations = 0;
  private readonly slots = new SlotStore(2);
  learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;

  constructor(options: AdamOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
  }

  step(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[]): void {
    this.iterations++;
    const { beta1, beta2, epsilon } = this;
    const stepSize = this.learningRate / (1 - beta1 ** this.iterations);
    const secondCorrection = 1 / Math.sqrt(1 - beta2 ** this.iterations);
    variables.forEach((variable, index) => {
      const slots = this.slots.get(variable);
      updateVariable(variable, (next, weights) => {
        const gradient = float32View(gradients[index]);
        const [firstMoment, secondMoment] = slots.map(float32View);
        const hyper = { beta1, beta2, stepSize, secondCorrection, epsilon };
        if (simdAdam({ next, weights, gradient, firstMoment, secondMoment }, hyper)) return;
        adamUpdate(next, weights, gradient, firstMoment, secondMoment, beta1, beta2, stepSize, secondCorrection, epsilon);
      });
    });
  }

  dispose(): void {
    this.slots.dispose();
  }

  exportState(variables: readonly tf.Variable[]): OptimizerState {
    return { iterations: this.iterations, slots: this.slots.export(variables) };
  }

  importState(variables: readonly tf.Variable[], state: OptimizerState): void {
    this.slots.import(variables, state.slots);
    this.iterations = state.iterations;
  }
}

/**
 * The element loop, kept a plain top-level function of typed arrays and numbers: V8 compiles it
 * about twice as fast as the same loop in a closure (measured 12 ms vs 24 ms for 2.4 M weights).
 */
function adamUpdate(
  next: Float32Array,
  weights: Float32Array,
  gradient: Float32Array,
  firstMoment: Float32Array,
  secondMoment: Float32Array,
  beta1: number,
  beta2: number,
  stepSize: number,
  secondCorrection: number,
  epsilon: number,
): void {
  const firstDecay = 1 - beta1;
  const secondDecay = 1 - beta2;
  for (let i = 0; i < weights.length; i++) {
    const g = gradient[i];
    const m = beta1 * firstMoment[i] + firstDecay * g;
    const v = beta2 * secondMoment[i] + secondDecay * g * g;
    firstMoment[i] = m;
    secondMoment[i] = v;
    next[i] = weights[i] - (stepSize * m) / (Math.sqrt(v) * secondCorrection + epsilon);
  }
}
