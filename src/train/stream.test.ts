// A run on a dataset streamed from `.npy` shards ends exactly as the same run with the pixels in
// memory, and streaming keeps a process's memory far below the dataset's size.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kdkit } from '../cli/cli.test.util.js';
import { allPixels } from '../data/dataset.js';
import { loadDigits } from '../data/digits.js';
import { encodeNpy } from '../util/npy.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-stream-run-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

// The digits' train part as three float32 shards (500, 500, 438 samples) and test as one.
const { train, test: testPart } = loadDigits();
const shard = (name: string, images: Float32Array, labels: Int32Array) => {
  writeFileSync(join(directory, `${name}-x.npy`), encodeNpy({ dtype: 'float32', data: images, shape: [labels.length, 8, 8, 1] }));
  writeFileSync(join(directory, `${name}-y.npy`), encodeNpy({ dtype: 'int32', data: labels, shape: [labels.length] }));
};
const trainPixels = allPixels(train);
for (const [index, from, to] of [
  [1, 0, 500],
  [2, 500, 1000],
  [3, 1000, train.labels.length],
]) {
  shard(`train-${index}`, trainPixels.slice(from * 64, to * 64), train.labels.slice(from, to));
}
shard('test', allPixels(testPart).slice(), testPart.labels.slice());

const configFor = (stream: boolean) => {
  const path = join(directory, `run-${stream}.yaml`);
  writeFileSync(
    path,
    `${[
      `dataset: {name: npy, stream: ${stream}, classes: 10, train: {images: '${directory}/train-*-x.npy', labels: '${directory}/train-*-y.npy'}, test: {images: '${directory}/test-x.npy', labels: '${directory}/test-y.npy'}}`,
      'teacher: {model: {type: cnn, filters: [8], dense: [32], dropout: 0.3}, epochs: 2, batchSize: 32}',
      'student: {model: {type: mlp, hidden: [32]}}',
      'distill: {epochs: 2, batchSize: 16, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}, {method: rkd, weight: 0.5, student: penultimate, teacher: penultimate}]}',
      'export: {quantize: [], onnx: false}',
    ].join('\n')}\n`,
  );
  return path;
};

const figuresOf = (out: string) => {
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  return Object.fromEntries(
    Object.entries(summary.models as Record<string, { accuracy: number; ece: number }>).map(([name, model]) => [
      name,
      [model.accuracy, model.ece],
    ]),
  );
};

test('a run streaming its pixels from .npy shards trains exactly as one holding them in memory', () => {
  const streamed = join(directory, 'out-streamed');
  const held = join(directory, 'out-memory');
  const first = kdkit('run', configFor(true), '--out', streamed);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /1294 train \/ 144 validation \/ 359 test, 10 classes, pixels streamed from disk in batches/);
  const second = kdkit('run', configFor(false), '--out', held);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /pixels in memory/);
  for (const model of ['teacher', 'student']) {
    assert.ok(
      readFileSync(join(streamed, model, 'weights.bin')).equals(readFileSync(join(held, model, 'weights.bin'))),
      `${model} weights are bit-identical`,
    );
  }
  assert.deepEqual(figuresOf(streamed), figuresOf(held));
  // The same samples, so the same soft-label store entry.
  const entry = (out: string) =>
    JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))
      .softLabels.directory.split('/')
      .pop();
  assert.equal(entry(streamed), entry(held));
  // kdkit eval takes the same dataset from the config, and measures the student's test accuracy again.
  const evaluated = kdkit('eval', join(streamed, 'student'), '--config', configFor(true), '--json', join(directory, 'eval.json'));
  assert.equal(evaluated.status, 0, evaluated.stderr);
  assert.match(evaluated.stdout, /on npy \(359 test samples\)/);
  assert.equal(JSON.parse(readFileSync(join(directory, 'eval.json'), 'utf8')).accuracy, figuresOf(streamed).student[0]);
});

/** Peak resident memory (VmHWM) of a child that streams every sample of a dataset, in random order and in sequence. */
async function peakWhileStreaming(images: string, labels: string): Promise<{ peakBytes: number; samples: number; checksum: number }> {
  const dataModule = new URL('../data/index.js', import.meta.url).href;
  const cacheModule = new URL('../teachers/cache.js', import.meta.url).href;
  const rngModule = new URL('../util/rng.js', import.meta.url).href;
  const script = `
    const { loadDataset, allocateBatch, gatherBatch } = await import(${JSON.stringify(dataModule)});
    const { Rng } = await import(${JSON.stringify(rngModule)});
    const { datasetFingerprint } = await import(${JSON.stringify(cacheModule)});
    const spec = { name: 'npy', stream: true, classes: 10, validation: 0, train: { images: ${JSON.stringify(images)}, labels: ${JSON.stringify(labels)} }, test: { images: ${JSON.stringify(images)}, labels: ${JSON.stringify(labels)} } };
    const { train } = loadDataset(spec, 1);
    datasetFingerprint(train);
    const order = new Rng(5).permutation(train.labels.length);
    const buffers = allocateBatch(train, 256);
    let checksum = 0;
    for (let start = 0; start < order.length; start += 256) {
      const batch = gatherBatch(train, order.subarray(start, start + 256), buffers);
      checksum += batch.samples.image[0];
    }
    const peak = Number(/VmHWM:\\s+(\\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    process.stdout.write(JSON.stringify({ peakBytes: peak, samples: train.labels.length, checksum }));
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  while (child.exitCode === null) await sleep(20);
  assert.equal(child.exitCode, 0);
  return JSON.parse(output);
}

test('streaming a dataset of 1.2 GB (as float32) keeps peak memory a fraction of that', async () => {
  // 100,000 samples of 32×32×3 uint8: 307 MB on disk, 1.23 GB once scaled to float32.
  const samples = 100_000;
  const sampleBytes = 32 * 32 * 3;
  const images = join(directory, 'big-x.npy');
  const header = encodeNpy({ dtype: 'float32', data: new Float32Array(0), shape: [samples, 32, 32, 3] });
  const fd = openSync(images, 'w');
  // encodeNpy writes '<f4'; the same-length header with '|u1' describes uint8 values.
  writeSync(fd, Buffer.from(Buffer.from(header).toString('latin1').replace("'<f4'", "'|u1'"), 'latin1'));
  const block = Buffer.alloc(sampleBytes * 1000);
  for (let i = 0; i < block.length; i++) block[i] = (i * 31) % 251;
  for (let written = 0; written < samples; written += 1000) writeSync(fd, block);
  closeSync(fd);
  const labels = join(directory, 'big-y.npy');
  writeFileSync(labels, encodeNpy({ dtype: 'int32', data: Int32Array.from({ length: samples }, (_, i) => i % 10), shape: [samples] }));

  const { peakBytes, samples: seen } = await peakWhileStreaming(images, labels);
  const float32Bytes = samples * sampleBytes * 4;
  assert.equal(seen, samples);
  assert.ok(
    peakBytes < float32Bytes / 6,
    `peak RSS ${(peakBytes / 1e6).toFixed(0)} MB while streaming ${(float32Bytes / 1e6).toFixed(0)} MB of float32 pixels`,
  );
});
