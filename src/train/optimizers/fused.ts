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
  /** Changed between steps by a learning-rate backoff. */
  learningRate: number;
  /** Frees the optimizer's state. */
  dispose(): void;
  /** Its state for `variables`, in their order, for a checkpoint: the step count and each variable's slots. */
  exportState(variables: readonly tf.Variable[]): OptimizerState;
  /** Continues from a checkpoint's state for the same `variables`. */
  importState(variables: readonly tf.Variable[], state: OptimizerState): void;
}

export interface OptimizerState {
  iterations: number;
  /** slots[i] are variable i's slots (Adam: first and second moments), each variable.size floats; [] before its first update. */
  slots: Float32Array[][];
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

  /** Copies of each variable's slots, in `variables` order; [] for a variable never updated. */
  export(variables: readonly tf.Variable[]): Float32Array[][] {
    return variables.map((variable) =>
      (this.slots.get(variable.id) ?? []).map((slot) => Float32Array.from(slot.dataSync() as Float32Array)),
    );
  }

  /** Replaces the slots of `variables` with `values` (as `export` gave them). */
  import(variables: readonly tf.Variable[], values: Float32Array[][]): void {
    this.dispose();
    variables.forEach((variable, index) => {
      if (values[index].length === 0) return;
      if (values[index].length !== this.slotsPerVariable || values[index].some((slot) => slot.length !== variable.size)) {
        throw new Error(`optimizer state does not fit variable '${variable.name}' (${variable.size} weights)`);
      }
      this.slots.set(
        variable.id,
        values[index].map((slot) => tf.keep(tf.tensor1d(slot))),
      );
    });
  }
}
