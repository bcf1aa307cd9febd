/**
 * How much memory a training run may keep a teacher's features in (train/terms.ts): past it they
 * are computed per batch. 1 GiB unless the engine knows the machine: in Node, initEngine sets a
 * quarter of its memory, from 1 GiB to 4 GiB (TinyBERT's taps of a 4-layer teacher on Banking77
 * take about 1.2 GiB at 32 tokens).
 */
let featureBudget = 2 ** 30;

export function featureBudgetBytes(): number {
  return featureBudget;
}

export function setFeatureBudgetBytes(bytes: number): void {
  featureBudget = bytes;
}
