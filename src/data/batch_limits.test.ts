import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../errors.js';
import { parseConfig } from '../config/parse.js';
import { checkBatchMemory, checkLatencyBatch, checkTrainingBatchSizes, tensorMemory, WASM_HEAP_BYTES } from './batch_limits.js';
import { imageField } from './dataset.js';

const image = (shape: [number, number, number]) => [imageField(shape)];

const GiB = 2 ** 30;

function throwsInput(run: () => void, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
    assert.match(error.message, pattern);
    return true;
  });
}

test('the wasm backend holds tensors in its heap, at most 4 GiB however much memory the machine has', () => {
  assert.equal(tensorMemory('wasm', 64 * GiB), WASM_HEAP_BYTES);
  assert.equal(tensorMemory('wasm', 1 * GiB), 1 * GiB);
  assert.equal(tensorMemory('cpu', 64 * GiB), 64 * GiB);
  assert.equal(tensorMemory('onnxruntime', 64 * GiB), 64 * GiB);
});

test('a batch whose float32 pixels pass a quarter of the memory is refused, naming the field and the largest that fits', () => {
  // An 8×8×1 sample is 64 floats = 256 B; a quarter of 1 MiB is 262,144 B = 1024 samples.
  checkBatchMemory(1024, image([8, 8, 1]), 'distill.batchSize', 2 ** 20);
  throwsInput(
    () => checkBatchMemory(1025, image([8, 8, 1]), 'distill.batchSize', 2 ** 20),
    /^distill\.batchSize: 1025 samples of 8×8×1 take 256\.3 KiB as float32, more than a quarter of the 1\.00 MiB of memory available; use at most 1024$/,
  );
});

test('a batch of several fields counts every field: int32 token ids and masks take 4 bytes a value too', () => {
  // Two int32 fields of 128 values are 2 × 128 × 4 = 1024 B a sample; a quarter of 1 MiB is 256 samples.
  const text = [
    { name: 'input_ids', dtype: 'int32', shape: [128] },
    { name: 'attention_mask', dtype: 'int32', shape: [128] },
  ] as const;
  checkBatchMemory(256, text, 'distill.batchSize', 2 ** 20);
  throwsInput(
    () => checkBatchMemory(257, text, 'distill.batchSize', 2 ** 20),
    /^distill\.batchSize: 257 samples of input_ids 128 int32 \+ attention_mask 128 int32 take 257\.0 KiB, more than a quarter of the 1\.00 MiB of memory available; use at most 256$/,
  );
});

const config = (change: Record<string, unknown> = {}) =>
  parseConfig({
    dataset: { name: 'digits' },
    teacher: { model: { type: 'mlp', hidden: [8] }, epochs: 1, batchSize: 32 },
    student: { model: { type: 'mlp', hidden: [4] } },
    distill: { epochs: 1, batchSize: 32, terms: [{ method: 'ce', weight: 1 }] },
    ...change,
  });
const train = { labels: { length: 1294 }, inputs: image([8, 8, 1]) };

test('a training batch larger than the split is the whole split, checked against memory at that size', () => {
  checkTrainingBatchSizes(
    config({
      distill: { epochs: 1, batchSize: 2 ** 24, terms: [{ method: 'ce', weight: 1 }] },
      stages: [{ model: { type: 'mlp', hidden: [6] }, batchSize: 5000 }],
    }),
    train,
    'exp.yaml',
    GiB,
  );
  // 1294 samples of 8×8×1 float32 take 331,264 bytes: more than a quarter of 1 MiB.
  throwsInput(
    () =>
      checkTrainingBatchSizes(
        config({ teacher: { model: { type: 'mlp', hidden: [8] }, epochs: 1, batchSize: 5000 } }),
        train,
        'exp.yaml',
        2 ** 20,
      ),
    /^exp\.yaml: teacher\.batchSize: 1294 samples of 8×8×1 take 323\.5 KiB as float32/,
  );
  // A loaded teacher is not trained, so it has no batch size to check.
  checkTrainingBatchSizes(config({ teacher: { load: 'teacher/' } }), train, 'exp.yaml', GiB);
});

test('every training batch size must fit memory, for a split larger than memory (streamed)', () => {
  const streamed = { labels: { length: 10_000_000 }, inputs: image([8, 8, 1]) };
  throwsInput(
    () =>
      checkTrainingBatchSizes(
        config({ distill: { epochs: 1, batchSize: 1025, terms: [{ method: 'ce', weight: 1 }] } }),
        streamed,
        'exp.yaml',
        2 ** 20,
      ),
    /^exp\.yaml: distill\.batchSize: 1025 samples of 8×8×1 take/,
  );
});

test('the latency batch is at most the larger of the test split and 4096, and fits memory', () => {
  checkLatencyBatch(4096, { labels: { length: 359 }, inputs: image([8, 8, 1]) }, GiB);
  checkLatencyBatch(10_000, { labels: { length: 10_000 }, inputs: image([28, 28, 1]) }, GiB);
  throwsInput(
    () => checkLatencyBatch(10_000_000, { labels: { length: 359 }, inputs: image([8, 8, 1]) }, GiB),
    /^--latency-batch: 10000000 is larger than 4096 \(or the test split, 359 samples, if larger\)$/,
  );
  // 4096 samples of 224×224×3 floats take 2.30 GiB, over a quarter of 4 GiB.
  throwsInput(
    () => checkLatencyBatch(4096, { labels: { length: 100 }, inputs: image([224, 224, 3]) }, 4 * GiB),
    /^--latency-batch: 4096 samples of 224×224×3 take 2\.30 GiB as float32, more than a quarter/,
  );
});
