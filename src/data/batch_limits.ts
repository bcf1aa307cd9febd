/**
 * Batch sizes checked against the data once it is known, before anything trains or is timed: a
 * batch's samples must fit in memory. Without this, a batch of 1e12 trained the whole teacher and
 * then failed allocating the student's batch (the schema now also caps batch sizes at 2^24).
 */
import { InputError } from '../errors.js';
import type { ExperimentConfig } from '../config/schema.js';
import { availableMemory } from './files.js';
import { sampleBytes, type InputField } from './dataset.js';

/**
 * tfjs-backend-wasm keeps every tensor in one 32-bit wasm memory, which stops at 4 GiB − 64 KiB
 * (its getHeapMax()) whatever the machine has; past it a run fails with "offset is out of bounds".
 */
export const WASM_HEAP_BYTES = 4294901760;

/**
 * A batch's samples may take at most this share of the memory tensors live in: the step
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

type Split = { readonly labels: { readonly length: number }; readonly inputs: readonly InputField[] };

/** Throws when `batchSize` samples of `inputs` take more than a quarter of `memoryBytes`. */
export function checkBatchMemory(batchSize: number, inputs: readonly InputField[], field: string, memoryBytes: number): void {
  const bytes = sampleBytes(inputs);
  const largest = Math.floor((BATCH_MEMORY_SHARE * memoryBytes) / bytes);
  if (batchSize <= largest) return;
  throw new InputError(
    `${field}: ${batchSize} samples of ${describeSample(inputs, formatBytes(batchSize * bytes))}, ` +
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
  config.stages.forEach((stage, index) => {
    fields.push([stage.batchSize, `stages[${index}].batchSize`]);
  });
  // A batch larger than the split is the whole split (the trainer allocates no more), as in Keras' fit.
  const count = train.labels.length;
  for (const [batchSize, field] of fields) checkBatchMemory(Math.min(batchSize, count), train.inputs, `${source}: ${field}`, memoryBytes);
}

/** `kdkit eval --latency-batch`: at most the larger of MAX_LATENCY_BATCH and the test split, and within memory. */
export function checkLatencyBatch(batchSize: number, test: Split, memoryBytes: number): void {
  if (batchSize > Math.max(MAX_LATENCY_BATCH, test.labels.length)) {
    throw new InputError(
      `--latency-batch: ${batchSize} is larger than ${MAX_LATENCY_BATCH} (or the test split, ${test.labels.length} samples, if larger)`,
    );
  }
  checkBatchMemory(batchSize, test.inputs, '--latency-batch', memoryBytes);
}

/** "8×8×1 take 1 KiB as float32" for one field; "input_ids 128 int32 + attention_mask 128 int32 take 1 KiB" for several. */
function describeSample(inputs: readonly InputField[], size: string): string {
  if (inputs.length === 1) return `${inputs[0].shape.join('×')} take ${size} as ${inputs[0].dtype}`;
  return `${inputs.map((field) => `${field.name} ${field.shape.join('×')} ${field.dtype}`).join(' + ')} take ${size}`;
}

function formatBytes(count: number): string {
  if (count >= 2 ** 30) return `${(count / 2 ** 30).toFixed(2)} GiB`;
  if (count >= 2 ** 20) return `${(count / 2 ** 20).toFixed(2)} MiB`;
  return `${(count / 2 ** 10).toFixed(1)} KiB`;
}
