/**
 * Batch sizes checked against the data once it is known, before anything trains or is timed: a
 * batch's pixels must fit in memory. Without this, a batch of 1e12 trained the whole teacher and
 * then failed allocating the student's batch (the schema now also caps batch sizes at 2^24).
 */
import { InputError } from '../errors.js';
import type { ExperimentConfig } from '../config/schema.js';
import { availableMemory } from './files.js';

/**
 * tfjs-backend-wasm keeps every tensor in one 32-bit wasm memory, which stops at 4 GiB − 64 KiB
 * (its getHeapMax()) whatever the machine has; past it a run fails with "offset is out of bounds".
 */
export const WASM_HEAP_BYTES = 4294901760;

/**
 * A batch's float32 pixels may take at most this share of the memory tensors live in: the step
 * also holds the model's activations and gradients, several times the input. So this refuses
 * absurd batches, not every batch that would run out of memory.
 */
const BATCH_MEMORY_SHARE = 1 / 4;

/**
 * Latency is timed at a batch large enough for throughput to level off, which happens within a
 * few thousand samples; past that a batch times memory pressure. The test split's size is
 * allowed too, so that one batch can hold the whole test set.
 */
const MAX_LATENCY_BATCH = 4096;

/** Where a run's tensors live: a TensorFlow.js backend, or ONNX Runtime (native memory). */
export type TensorHome = 'wasm' | 'cpu' | 'onnxruntime';

/** Bytes the tensors can take: the memory available, and on the wasm backend no more than its heap. */
export function tensorMemory(home: TensorHome, available = availableMemory()): number {
  return home === 'wasm' ? Math.min(available, WASM_HEAP_BYTES) : available;
}

type Split = { readonly labels: { readonly length: number }; readonly sampleShape: readonly number[] };

/** Throws when `batchSize` samples of `sampleShape`, as float32, take more than a quarter of `memoryBytes`. */
export function checkBatchMemory(batchSize: number, sampleShape: readonly number[], field: string, memoryBytes: number): void {
  const sampleBytes = 4 * sampleShape.reduce((product, dim) => product * dim, 1);
  const largest = Math.floor((BATCH_MEMORY_SHARE * memoryBytes) / sampleBytes);
  if (batchSize <= largest) return;
  throw new InputError(
    `${field}: ${batchSize} samples of ${sampleShape.join('×')} take ${formatBytes(batchSize * sampleBytes)} as float32, ` +
    `more than a quarter of the ${formatBytes(memoryBytes)} of memory available; use at most ${largest}`,
  );
}

/** Every batch the run trains with (teacher, assistants, student) fits in memory. */
export function checkTrainingBatchSizes(
  config: Pick<ExperimentConfig, 'teacher' | 'distill' | 'stages' | 'backend'>,
  train: Split,
  source: string,
  memoryBytes = tensorMemory(config.backend),
): void {
  const fields: [number, string][] = [];
  if ('model' in config.teacher) fields.push([config.teacher.batchSize, 'teacher.batchSize']);
  fields.push([config.distill.batchSize, 'distill.batchSize']);
  // A stage without its own batch size has distill's, which is checked (and named) first.
  config.stages.forEach((stage, index) => fields.push([stage.batchSize, `stages[${index}].batchSize`]));
  // A batch larger than the split is the whole split (the trainer allocates no more), as in Keras' fit.
  const count = train.labels.length;
  for (const [batchSize, field] of fields) checkBatchMemory(Math.min(batchSize, count), train.sampleShape, `${source}: ${field}`, memoryBytes);
}

/** `kdkit eval --latency-batch`: at most the larger of MAX_LATENCY_BATCH and the test split, and within memory. */
export function checkLatencyBatch(batchSize: number, test: Split, memoryBytes: number): void {
  if (batchSize > Math.max(MAX_LATENCY_BATCH, test.labels.length)) {
    throw new InputError(`--latency-batch: ${batchSize} is larger than ${MAX_LATENCY_BATCH} (or the test split, ${test.labels.length} samples, if larger)`);
  }
  checkBatchMemory(batchSize, test.sampleShape, '--latency-batch', memoryBytes);
}

function formatBytes(count: number): string {
  if (count >= 2 ** 30) return `${(count / 2 ** 30).toFixed(2)} GiB`;
  if (count >= 2 ** 20) return `${(count / 2 ** 20).toFixed(2)} MiB`;
  return `${(count / 2 ** 10).toFixed(1)} KiB`;
}
