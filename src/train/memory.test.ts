import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { allPixels, imageShape, loadDataset, loadDigits, type DatasetSplits } from '../data/index.js';
import { encodeNpy } from '../util/npy.js';
import { buildModel } from '../models/build.js';
import { methods } from '../methods/index.js';
import { predictLogits } from '../models/predict.js';
import { trainStage } from './stage.test.util.js';

await initEngine({ backend: 'wasm' });

// Garbage collected before each reading, so RSS shows what is still referenced, not what V8 has yet to collect.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** The digits written as a float32 `.npy` pair per part, loaded back streamed from disk. */
function streamedDigits(): DatasetSplits {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-memory-npy-'));
  const { train, test } = loadDigits();
  for (const [name, part] of [
    ['train', train],
    ['test', test],
  ] as const) {
    writeFileSync(
      join(directory, `${name}-x.npy`),
      encodeNpy({ dtype: 'float32', data: allPixels(part).slice(), shape: [part.labels.length, 8, 8, 1] }),
    );
    writeFileSync(join(directory, `${name}-y.npy`), encodeNpy({ dtype: 'int32', data: part.labels.slice(), shape: [part.labels.length] }));
  }
  const files = (name: string) => ({ images: join(directory, `${name}-x.npy`), labels: join(directory, `${name}-y.npy`) });
  return loadDataset({ name: 'npy', train: files('train'), test: files('test'), classes: 10, validation: 144, stream: true }, 1);
}

for (const [where, load] of [
  ['in memory', () => loadDataset({ name: 'digits' }, 1)],
  ['streamed from .npy (with the reader thread)', streamedDigits],
] as const)
  test(`tensor count, backend bytes and RSS stay flat over 40 epochs (1,640 steps) of checkpointed distillation, pixels ${where}`, async (t) => {
    const { train, validation } = load();
    assert.equal(train.samples.storage, where === 'in memory' ? 'memory' : 'disk');
    const teacher = buildModel(
      { type: 'cnn', filters: [8], kernelSize: 3, dense: [16], dropout: 0, batchNorm: false },
      { inputShape: imageShape(train), numClasses: 10, seed: 1, name: 'teacher' },
    );
    const teacherLogits = predictLogits(teacher, train);
    teacher.dispose();
    const student = buildModel(
      { type: 'mlp', hidden: [64], dropout: 0.2, activation: 'relu' },
      { inputShape: imageShape(train), numClasses: 10, seed: 2, name: 'student' },
    );
    const samples: Array<{ tensors: number; bytes: number; rss: number }> = [];
    await trainStage({
      stage: 'student',
      model: student,
      train,
      validation,
      teacherLogits,
      terms: [
        { name: 'kd', weight: 0.9, loss: methods.get('kd').build({ temperature: 4 }) },
        { name: 'ce', weight: 0.1, loss: methods.get('ce').build({}) },
      ],
      epochs: 40,
      batchSize: 32,
      optimizer: { type: 'adam', learningRate: 0.001, momentum: 0.9 },
      seed: 3,
      checkpoints: { directory: join(mkdtempSync(join(tmpdir(), 'kdkit-memory-')), 'student'), everyMs: 50, keep: 2, resume: false },
      onEvent: (event) => {
        if (event.type !== 'epoch') return;
        collectGarbage();
        const memory = tf.memory();
        samples.push({ tensors: memory.numTensors, bytes: memory.numBytes, rss: process.memoryUsage().rss });
      },
    });
    // From epoch 2 on (the optimizer's slots exist by then), nothing accumulates.
    const settled = samples.slice(1);
    assert.ok(
      settled.every((sample) => sample.tensors === settled[0].tensors),
      `tensor counts: ${samples.map((sample) => sample.tensors).join(', ')}`,
    );
    assert.ok(
      settled.every((sample) => sample.bytes === settled[0].bytes),
      `backend bytes: ${samples.map((sample) => sample.bytes).join(', ')}`,
    );
    // The tensor count and backend bytes above are the exact checks. RSS, even after GC, steps up by
    // about 8 MB once or twice a run (the allocator taking a new arena) and stays there, so it only
    // bounds what escapes them: 24 MB over 1,640 steps is about 15 KB kept per step.
    // Medians, so that one reading taken mid-allocation does not decide; a leak moves the median too.
    const medianRss = (part: typeof samples) => part.map((sample) => sample.rss).sort((a, b) => a - b)[part.length >> 1];
    const growthMb = (medianRss(settled.slice(-10)) - medianRss(settled.slice(2, 9))) / 2 ** 20;
    t.diagnostic(`RSS per epoch (MB): ${samples.map((sample) => (sample.rss / 2 ** 20).toFixed(1)).join(', ')}`);
    assert.ok(
      growthMb < 24,
      `RSS grew ${growthMb.toFixed(1)} MB from epochs 4–10 to the last ten: ${samples.map((sample) => (sample.rss / 2 ** 20).toFixed(1)).join(', ')}`,
    );
    student.dispose();
    train.samples.close?.();
  });
