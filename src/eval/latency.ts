import * as tf from '../engine/tf.js';
import type { InputField } from '../data/dataset.js';
import { forward } from '../models/forward.js';
import { modelInputs, syntheticTensors } from '../models/inputs.js';

export interface LatencyOptions {
  /** Untimed calls first, so one-time compilation and allocation are not counted. */
  warmup?: number;
  minRepeats?: number;
  maxRepeats?: number;
  /** Keep repeating (up to maxRepeats) until this much time has been measured. */
  minTotalMs?: number;
}

/** Timing of one forward pass at one batch size, after warm-up. */
export interface LatencyStats {
  batchSize: number;
  p50Ms: number;
  p95Ms: number;
  /** batchSize / median time. */
  samplesPerSecond: number;
  repeats: number;
}

/** Times `run` (one forward pass at `batchSize`, read-back included) after warm-up. */
export function timeCalls(run: () => void, batchSize: number, options: LatencyOptions = {}): LatencyStats {
  const plan = repeatPlan(options);
  for (let i = 0; i < plan.warmup; i++) run();
  const times: number[] = [];
  while (plan.more(times)) {
    const started = performance.now();
    run();
    times.push(performance.now() - started);
  }
  return latencyStats(times, batchSize);
}

/** timeCalls for an asynchronous `run` (e.g. onnxruntime-node's session.run): the same plan and statistics. */
export async function timeCallsAsync(run: () => Promise<void>, batchSize: number, options: LatencyOptions = {}): Promise<LatencyStats> {
  const plan = repeatPlan(options);
  for (let i = 0; i < plan.warmup; i++) await run();
  const times: number[] = [];
  while (plan.more(times)) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return latencyStats(times, batchSize);
}

function repeatPlan(options: LatencyOptions): { warmup: number; more: (times: number[]) => boolean } {
  const { warmup = 3, minRepeats = 10, maxRepeats = 200, minTotalMs = 500 } = options;
  return {
    warmup,
    more: (times) => times.length < minRepeats || (times.reduce((sum, time) => sum + time, 0) < minTotalMs && times.length < maxRepeats),
  };
}

/** p50, p95 and throughput of measured times (ms) of calls at `batchSize`. */
export function latencyStats(times: number[], batchSize: number): LatencyStats {
  const p50Ms = percentile(times, 0.5);
  return { batchSize, p50Ms, p95Ms: percentile(times, 0.95), samplesPerSecond: batchSize / (p50Ms / 1000), repeats: times.length };
}

/**
 * Latency of a TensorFlow.js model's forward pass in inference mode, on synthetic samples of the
 * dataset's fields `inputs` (floats uniform in [0, 1), integers 0).
 */
export function measureLatency(
  model: tf.LayersModel,
  inputs: readonly InputField[],
  batchSize: number,
  options: LatencyOptions = {},
): LatencyStats {
  const batch = syntheticTensors(inputs, batchSize);
  try {
    const fed = modelInputs(model, batch);
    return timeCalls(
      () => {
        const output = forward(model, fed) as tf.Tensor;
        output.dataSync();
        output.dispose();
      },
      batchSize,
      options,
    );
  } finally {
    tf.dispose(Object.values(batch));
  }
}

/** Median wall time of one forward pass at `batchSize`, in inference mode, including the read-back. */
export function measureLatencyMs(
  model: tf.LayersModel,
  inputs: readonly InputField[],
  batchSize: number,
  options: LatencyOptions = {},
): number {
  return measureLatency(model, inputs, batchSize, options).p50Ms;
}

/** Nearest-rank percentile (q in [0, 1]) of the values; the median of an even count is the mean of the middle two. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new Error('percentile of no values');
  const sorted = [...values].sort((a, b) => a - b);
  if (q === 0.5) {
    const middle = sorted.length >> 1;
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  }
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}
