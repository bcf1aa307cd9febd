import * as tf from '../engine/tf.js';

export interface LatencyOptions {
  /** Untimed calls first, so one-time compilation and allocation are not counted. */
  warmup?: number;
  minRepeats?: number;
  maxRepeats?: number;
  /** Keep repeating (up to maxRepeats) until this much time has been measured. */
  minTotalMs?: number;
}

/** Median wall time of one forward pass at `batchSize`, in inference mode, including the read-back. */
export function measureLatencyMs(model: tf.LayersModel, sampleShape: readonly number[], batchSize: number, options: LatencyOptions = {}): number {
  const { warmup = 3, minRepeats = 5, maxRepeats = 50, minTotalMs = 500 } = options;
  const input = tf.randomUniform([batchSize, ...sampleShape], 0, 1, 'float32', 7);
  const run = () => {
    const output = model.predict(input) as tf.Tensor;
    output.dataSync();
    output.dispose();
  };
  for (let i = 0; i < warmup; i++) run();
  const times: number[] = [];
  let total = 0;
  while (times.length < minRepeats || (total < minTotalMs && times.length < maxRepeats)) {
    const started = performance.now();
    run();
    const elapsed = performance.now() - started;
    times.push(elapsed);
    total += elapsed;
  }
  input.dispose();
  return median(times);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
