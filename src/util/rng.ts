/**
 * Seeded pseudo-random numbers (mulberry32). Every random choice in kdkit that is not made by
 * TensorFlow.js itself (splits, shuffling) comes from one of these, seeded from the config.
 */
export class Rng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** The generator's whole state: a checkpoint stores it, and `new Rng(state)` continues the sequence. */
  get position(): number {
    return this.state;
  }

  set position(state: number) {
    this.state = state >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(array: T): T {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const swap = array[i];
      array[i] = array[j];
      array[j] = swap;
    }
    return array;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const order = new Int32Array(n);
    for (let i = 0; i < n; i++) order[i] = i;
    return this.shuffle(order);
  }
}

/**
 * The generator of one training step: `seed`, the epoch and the step mixed into one 32-bit state,
 * so that the same step draws the same values however a run got there (resumed or not).
 */
export function stepRng(seed: number, epoch: number, step: number): Rng {
  let h = Math.imul(seed ^ 0x2545f491, 0x9e3779b1);
  h = Math.imul(h ^ (epoch + 0x632be5ab), 0x85ebca6b);
  h = Math.imul(h ^ (step + 0x1b873593), 0xc2b2ae35);
  return new Rng((h ^ (h >>> 16)) >>> 0);
}
