/**
 * Online soft labels kept by content (teachers/online_store.ts): a second run with the same seed
 * shows the teacher nothing and trains the same student bit for bit; another seed's batches miss;
 * outputs too large are not kept; a damaged entry is computed again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { MAX_FLOATS_PER_SAMPLE, onlineStore } from '../teachers/online_store.js';
import { onlineOutputStore } from './online_output_store.js';
import type { Teacher } from '../teachers/teacher.js';
import { distill } from './distill.js';
import type { TrainEvent } from './events.js';

await initEngine({ backend: 'wasm' });

/** A host-array teacher whose logits are each sample's pixel sums over its left and right halves; it counts its batches. */
function halvesTeacher(): Teacher & { batches: number } {
  const teacher = {
    batches: 0,
    info: { kind: 'onnx' as const, description: 'halves', fingerprint: 'halves-v1', classes: 2, featureNames: [] },
    batchSize: 16,
    async logits(batch: Readonly<Record<string, Float32Array | Int32Array>>, count: number) {
      teacher.batches++;
      const logits = new Float32Array(count * 2);
      for (let i = 0; i < count; i++) for (let p = 0; p < 36; p++) logits[i * 2 + (p % 6 < 3 ? 0 : 1)] += batch.image[i * 36 + p];
      return logits;
    },
    async features() {
      return {};
    },
    async dispose() {},
  };
  return teacher;
}

const images = (count: number) => {
  const values = new Float32Array(count * 36);
  for (let i = 0; i < values.length; i++) values[i] = ((i * 7) % 13) / 13;
  return { x: tf.tensor4d(values, [count, 6, 6, 1]), y: Int32Array.from({ length: count }, (_, i) => i % 2) };
};

const mlp = (seed: number) =>
  tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [6, 6, 1] }),
      tf.layers.dense({ units: 8, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed }) }),
      tf.layers.dense({ units: 2, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
    ],
  });

test('a run with the same seed takes every batch from the store and trains the same student bit for bit', async () => {
  const store = mkdtempSync(join(tmpdir(), 'kdkit-online-'));
  const train = images(64);
  const run = async (seed: number) => {
    const teacher = halvesTeacher();
    const messages: string[] = [];
    const student = mlp(3);
    await distill(
      {
        teacher,
        student,
        train,
        epochs: 2,
        batchSize: 16,
        seed,
        augment: { crop: { padding: 1 }, flip: 'horizontal' },
        onEvent: (event: TrainEvent) => {
          if (event.type === 'info') messages.push(event.message);
        },
      },
      { onlineStore: onlineOutputStore.bind(null, store) },
    );
    const weights = student.getWeights().map((weight) => Array.from(weight.dataSync()));
    student.dispose();
    return { batches: teacher.batches, weights, messages };
  };
  const first = await run(4);
  assert.equal(first.batches, 8, '4 batches an epoch, 2 epochs');
  assert.ok(first.messages.includes('student: the teacher ran on 8 batches; 0 came from the store'), first.messages.join('\n'));
  const before = tf.memory().numTensors;
  const second = await run(4);
  assert.equal(second.batches, 0, 'the same seed shows the teacher the same batches: all kept');
  assert.ok(second.messages.includes('student: the teacher ran on 0 batches; 8 came from the store'));
  assert.deepEqual(second.weights, first.weights);
  assert.equal(tf.memory().numTensors, before, 'nothing leaks');
  // Another seed crops and flips other batches.
  const third = await run(5);
  assert.ok(third.batches > 0, `another seed's batches are not in the store (${third.batches} run)`);
  train.x.dispose();
});

test('outputs with their taps round-trip; taps too large are not kept; a cut-off entry is computed again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kdkit-online-'));
  const teacher = { fingerprint: 't', description: 'test teacher', classes: 3 };
  const store = onlineStore(root, teacher, [{ name: 'embedding', shape: [4] }]);
  assert.ok(store);
  const samples = { image: Float32Array.from([1, 2, 3, 4, 5, 6]) };
  const made = {
    logits: Float32Array.from([0.5, -1, 2, 3, 4, 5]),
    features: { embedding: Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]) },
  };
  let computed = 0;
  const compute = async () => {
    computed++;
    return made;
  };
  await store.outputs(samples, 2, compute);
  const again = await store.outputs(samples, 2, compute);
  assert.equal(computed, 1);
  assert.deepEqual(Array.from(again.logits), Array.from(made.logits));
  assert.deepEqual(Array.from(again.features.embedding), Array.from(made.features.embedding));
  assert.deepEqual(store.counts, { reused: 1, computed: 1 });

  // The same bytes under another field name, or other bytes, are other batches.
  await store.outputs({ pixels: samples.image }, 2, compute);
  await store.outputs({ image: Float32Array.from([1, 2, 3, 4, 5, 7]) }, 2, compute);
  assert.equal(computed, 3);

  // A file cut short (a full disk) is a miss, and is written whole again.
  const find = (directory: string): string[] =>
    readdirSync(directory, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? find(join(directory, entry.name)) : [join(directory, entry.name)],
    );
  const files = find(root).filter((file) => file.endsWith('.f32'));
  assert.equal(files.length, 3);
  for (const file of files) truncateSync(file, 8);
  await store.outputs(samples, 2, compute);
  assert.equal(computed, 4);
  assert.ok(find(root).some((file) => statSync(file).size === 2 * (3 + 4) * 4));

  // Feature maps beyond MAX_FLOATS_PER_SAMPLE a sample would cost gigabytes an epoch: not kept.
  assert.equal(onlineStore(root, teacher, [{ name: 'stage_2', shape: [MAX_FLOATS_PER_SAMPLE, 1] }]), null);
});
