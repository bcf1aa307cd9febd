import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import type { Dataset } from '../data/dataset.js';
import { buildModel } from '../models/build.js';
import { methods } from '../methods/index.js';
import { latestCheckpoint } from './checkpoint.js';
import { trainStage, type StageOptions } from './stage.test.util.js';
import { DivergenceError } from './callbacks/callback.js';
import type { TrainEvent } from './events.js';
import { imageDataset } from '../data/dataset.js';

await initEngine({ backend: 'wasm' });

const data: Dataset = imageDataset({
  name: 'toy',
  images: Float32Array.from({ length: 32 * 4 }, (_, i) => ((i * 7) % 11) / 11),
  labels: Int32Array.from({ length: 32 }, (_, i) => i % 2),
  sampleShape: [2, 2, 1],
  numClasses: 2,
  classNames: ['a', 'b'],
});
const ce = methods.get('ce').build({});

/** A ce term that turns NaN on the `at`-th call (1-based) only. */
function nanOnce(at: number) {
  let calls = 0;
  return {
    name: 'flaky',
    weight: 1,
    loss: (inputs: Parameters<typeof ce>[0]) => (++calls === at ? (tf.mul(ce(inputs), Number.NaN) as tf.Scalar) : ce(inputs)),
  };
}

function stage(directory: string, change: Partial<StageOptions> = {}): StageOptions {
  const model = buildModel(
    { type: 'mlp', hidden: [4], dropout: 0, activation: 'relu' },
    { inputShape: [2, 2, 1], numClasses: 2, seed: 4, name: 'm' },
  );
  return {
    stage: 'student',
    model,
    train: data,
    validation: data,
    teacherLogits: null,
    terms: [{ name: 'ce', weight: 1, loss: ce }],
    epochs: 3,
    batchSize: 8,
    optimizer: { type: 'adam', learningRate: 0.01, momentum: 0.9 },
    seed: 1,
    checkpoints: { directory, everyMs: 1e9, keep: 2, resume: false },
    ...change,
  };
}

test('a NaN term stops the stage, names the term and step, and keeps the last good checkpoint intact', async () => {
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-diverge-')), 'student');
  // 4 steps per epoch: the 6th call is epoch 2, step 2, after epoch 1's checkpoint.
  const options = stage(directory, { terms: [nanOnce(6)] });
  const before = options.model.getWeights().map((weight) => weight.dataSync().slice());
  const error = await trainStage(options).then(
    () => null,
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof DivergenceError, String(error));
  assert.match(
    error.message,
    /stage 'student' diverged at epoch 2, step 2: term 'flaky' is NaN; the last good checkpoint is .*ckpt-000000004/,
  );
  const kept = latestCheckpoint(directory);
  assert.ok(kept !== null && kept.directory === error.checkpoint);
  assert.deepEqual(
    [kept.state.position.epoch, kept.state.position.step, kept.state.position.globalStep, kept.state.position.history.length],
    [2, 0, 4, 1],
  );
  // The checkpoint holds trained weights, not the initial ones.
  assert.notDeepEqual(Array.from(kept.tensors[0]), Array.from(before[0]));
  options.model.dispose();
});

test('a gradient norm over maxGradNorm stops the stage at its first step', async () => {
  const options = stage(join(mkdtempSync(join(tmpdir(), 'kdkit-diverge-')), 'student'), { maxGradNorm: 1e-9 });
  await assert.rejects(trainStage(options), /diverged at epoch 1, step 1: the gradient norm \S+ is over maxGradNorm 1e-9/);
  options.model.dispose();
});

test('lrBackoff restarts a diverged stage from its last checkpoint at half the learning rate', async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'kdkit-diverge-'));
  const events: string[] = [];
  const options = stage(join(outDir, 'student'), {
    terms: [nanOnce(6)],
    onEvent: (event: TrainEvent) => {
      if (event.type === 'info') events.push(event.message);
    },
  });
  const result = await trainStage({ ...options, checkpoints: { ...options.checkpoints!, lrBackoff: 1 } });
  assert.equal(result.history.length, 3, 'the stage finished all its epochs');
  assert.equal(
    events.filter((message) => /restarting student from that checkpoint at learning rate 0\.005 \(lrBackoff 1\/1\)/.test(message)).length,
    1,
  );
  assert.ok(events.some((message) => /student: resuming from ckpt-000000004 \(epoch 2, step 0\)/.test(message)));
  // The halved rate is part of the checkpoints after the backoff, so a resumed run keeps it.
  const last = latestCheckpoint(join(outDir, 'student'));
  assert.equal(last?.state.position.learningRateScale, 0.5);
  options.model.dispose();
  // Without backoff the same divergence ends the stage.
  const again = stage(join(mkdtempSync(join(tmpdir(), 'kdkit-diverge-')), 'student'), { terms: [nanOnce(6)] });
  await assert.rejects(trainStage({ ...again, checkpoints: { ...again.checkpoints!, lrBackoff: 0 } }), DivergenceError);
  again.model.dispose();
});

test('lrBackoff counts its restarts over resumes: a resumed stage has only what is left of its budget', async () => {
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-diverge-')), 'student');
  // First sitting: 2 epochs, the one restart spent at epoch 2 step 2 (the 6th call).
  const first = stage(directory, { terms: [nanOnce(6)], epochs: 2 });
  await trainStage({ ...first, checkpoints: { ...first.checkpoints!, lrBackoff: 1 } });
  assert.equal(latestCheckpoint(directory)?.state.lrBackoffs, 1);
  first.model.dispose();
  // Resumed to 3 epochs with the same budget of 1, diverging again in epoch 3: nothing is left to spend.
  const resumed = stage(directory, { terms: [nanOnce(2)], epochs: 3 });
  await assert.rejects(trainStage({ ...resumed, checkpoints: { ...resumed.checkpoints!, resume: true, lrBackoff: 1 } }), DivergenceError);
  resumed.model.dispose();
  // With a budget of 2 the resumed stage has one restart left, and finishes.
  const more = stage(directory, { terms: [nanOnce(2)], epochs: 3 });
  const result = await trainStage({ ...more, checkpoints: { ...more.checkpoints!, resume: true, lrBackoff: 2 } });
  assert.equal(result.history.length, 3);
  assert.equal(latestCheckpoint(directory)?.state.lrBackoffs, 2);
  more.model.dispose();
});
