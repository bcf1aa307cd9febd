import type * as tf from '../../engine/tf.js';

/**
 * An optimizer that updates each variable in a single pass over its memory, with its state in
 * plain Float32Arrays: no chain of tensor ops, and one new buffer per variable per step.
 */
export interface FusedOptimizer {
  /** Applies one update; `gradients[i]` belongs to `variables[i]`. */
  step(variables: readonly tf.Variable[], gradients: readonly tf.Tensor[]): void;
  /** Steps taken so far. */
  readonly iterations: number;
}

/** Per-variable state slots, created on first use and keyed by the variable's id. */
export class SlotStore {
  private readonly slots = new Map<number, Float32Array[]>();

  constructor(private readonly slotsPerVariable: number) {}

  get(variable: tf.Variable): Float32Array[] {
    let slots = this.slots.get(variable.id);
    if (!slots) {
      slots = Array.from({ length: this.slotsPerVariable }, () => new Float32Array(variable.size));
      this.slots.set(variable.id, slots);
    }
    return slots;
  }
}
