/**
 * SGD, with optional momentum, as one fused update per variable (by kdkit's SIMD kernels on the
 * wasm backend, in one JavaScript pass otherwise), matching tf.train.momentum
 * (non-Nesterov): a ← μa + g,  w ← w − lr · a.  With μ = 0 this is plain SGD: w ← w − lr · g.
 * Weight decay λ is PyTorch's (torch.optim.SGD `weight_decay`): g ← g + λw first.
 */
import type * as tf from '../../engine/tf.js';
import { float32View, updateVariable } from '../../engine/inplace.js';
import { simdMomentum } from '../../engine/updates.js';
import { mathOnHost } from '../../engine/placement.js';
import { momentumOnDevice } from './device.js';
import { SlotStore, type FusedOptimizer, type OptimizerState } from './fused.js';

export class FusedMomentum implements FusedOptimizer {
  iterations = 0;
  private readonly slots = new SlotStore(1);

  constructor(
    public learningRate: number,
    private readonly momentum: number,
    private readonly weightDecay = 0,
  ) {}

  step(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[]): void {
    this.iterations++;
    const { learningRate, momentum, weightDecay: decay } = this;
    const onHost = mathOnHost();
    variables.forEach((variable, index) => {
      if (!onHost) {
        const slots = momentum === 0 ? undefined : this.slots.get(variable);
        momentumOnDevice(variable, gradients[index], slots, { learningRate, momentum, decay });
        return;
      }
      const [slot] = momentum === 0 ? [] : this.slots.get(variable);
      updateVariable(variable, (next, weights) => {
        const gradient = float32View(gradients[index]);
        const accumulation = slot === undefined ? undefined : float32View(slot);
        if (simdMomentum(next, weights, gradient, accumulation, { momentum, learningRate, decay })) return;
        if (accumulation) momentumUpdate(next, weights, gradient, accumulation, learningRate, momentum, decay);
        else sgdUpdate(next, weights, gradient, learningRate, decay);
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

// Plain top-level loops over typed arrays, which V8 compiles best (see adam.ts).
function momentumUpdate(
  next: Float32Array,
  weights: Float32Array,
  gradient: Float32Array,
  accumulation: Float32Array,
  learningRate: number,
  momentum: number,
  decay: number,
): void {
  for (let i = 0; i < weights.length; i++) {
    const a = momentum * accumulation[i] + gradient[i] + decay * weights[i];
    accumulation[i] = a;
    next[i] = weights[i] - learningRate * a;
  }
}

function sgdUpdate(next: Float32Array, weights: Float32Array, gradient: Float32Array, learningRate: number, decay: number): void {
  for (let i = 0; i < weights.length; i++) next[i] = weights[i] - learningRate * (gradient[i] + decay * weights[i]);
}
