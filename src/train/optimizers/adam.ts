/**
 * Adam (Kingma & Ba 2015, arXiv:1412.6980) as one fused update per variable, by kdkit's SIMD
 * kernel on the wasm backend and in one JavaScript pass otherwise:
 *   m ← β₁m + (1−β₁)g,   v ← β₂v + (1−β₂)g²,   w ← w − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
 * The same formula and defaults as tf.train.adam (ε = 1e-7), so results match it to rounding.
 * Weight decay λ as PyTorch has it: Adam's is coupled, g ← g + λw before the moments
 * (torch.optim.Adam `weight_decay`); AdamW's (Loshchilov & Hutter 2019, arXiv:1711.05101) is
 * decoupled, w ← (1 − lr·λ)w beside the update (torch.optim.AdamW).
 */
import type * as tf from '../../engine/tf.js';
import { float32View, updateVariable } from '../../engine/inplace.js';
import { simdAdam, type AdamHyper } from '../../engine/updates.js';
import { mathOnHost } from '../../engine/placement.js';
import { adamOnDevice } from './device.js';
import { SlotStore, type FusedOptimizer, type OptimizerState } from './fused.js';

export interface AdamOptions {
  learningRate: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** λ, 0 by default. */
  weightDecay?: number;
  /** Decoupled weight decay (AdamW) rather than coupled (Adam's L2). */
  decoupled?: boolean;
}

export class FusedAdam implements FusedOptimizer {
  iterations = 0;
  private readonly slots = new SlotStore(2);
  learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly weightDecay: number;
  private readonly decoupled: boolean;

  constructor(options: AdamOptions) {
    this.learningRate = options.learningRate;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = options.epsilon ?? 1e-7;
    this.weightDecay = options.weightDecay ?? 0;
    this.decoupled = options.decoupled ?? false;
  }

  step(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[]): void {
    this.iterations++;
    const { beta1, beta2, epsilon } = this;
    const stepSize = this.learningRate / (1 - beta1 ** this.iterations);
    const secondCorrection = 1 / Math.sqrt(1 - beta2 ** this.iterations);
    const decay = this.decoupled ? 0 : this.weightDecay;
    const keep = this.decoupled ? 1 - this.learningRate * this.weightDecay : 1;
    const hyper = { beta1, beta2, stepSize, secondCorrection, epsilon, decay, keep };
    const onHost = mathOnHost();
    variables.forEach((variable, index) => {
      const slots = this.slots.get(variable);
      if (!onHost) {
        adamOnDevice(variable, gradients[index], slots, hyper);
        return;
      }
      updateVariable(variable, (next, weights) => {
        const gradient = float32View(gradients[index]);
        const [firstMoment, secondMoment] = slots.map(float32View);
        if (simdAdam({ next, weights, gradient, firstMoment, secondMoment }, hyper)) return;
        adamUpdate(next, weights, gradient, firstMoment, secondMoment, hyper);
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
  { beta1, beta2, stepSize, secondCorrection, epsilon, decay, keep }: AdamHyper,
): void {
  const firstDecay = 1 - beta1;
  const secondDecay = 1 - beta2;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i];
    const g = gradient[i] + decay * w;
    const m = beta1 * firstMoment[i] + firstDecay * g;
    const v = beta2 * secondMoment[i] + secondDecay * g * g;
    firstMoment[i] = m;
    secondMoment[i] = v;
    next[i] = keep * w - (stepSize * m) / (Math.sqrt(v) * secondCorrection + epsilon);
  }
}
