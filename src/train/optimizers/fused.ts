import * as tf from '../../engine/tf.js';

/**
 * An optimizer that updates each variable in a single pass over its memory, with its state in
 * tensors of its own: no chain of tensor ops, and one new buffer per variable per step.
 */
export interface FusedOptimizer {
  /** Applies one update; `gradients[i]` belongs to `variables[i]`. */
  step(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[]): void;
  /** Steps taken so far. */
  readonly iterations: number;
  /** Frees the optimizer's state. */
  dispose(): void;
}

/**
 * Per-variable state slots, zero tensors created on first use and keyed by the variable's id.
 * They live on the backend, next to the weights, so that the wasm backend's SIMD kernels update
 * them in place; read them through float32View after the step's last allocation.
 */
export class SlotStore {
  private readonly slots = new Map<number, tf.Tensor[]>();

  constructor(private readonly slotsPerVariable: number) {}

  get(variable: tf.Variable): tf.Tensor[] {
    let slots = this.slots.get(variable.id);
    if (!slots) {
      slots = Array.from({ length: this.slotsPerVariable }, () => tf.keep(tf.zeros([variable.size])));
      this.slots.set(variable.id, slots);
    }
    return slots;
  }

  dispose(): void {
    for (const slots of this.slots.values()) tf.dispose(slots);
    this.slots.clear();
  }
}
