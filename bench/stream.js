// Reading a dataset larger than memory: one shuffled epoch of batches (as training reads them) and
// one sequential pass (as soft labels, evaluation and the fingerprint read them), streamed from
// .npy shards on disk, in kdkit and in PyTorch (numpy memory maps + DataLoader) in the same run.
// Also kdkit with the same pixels held in memory, for what streaming costs.
// Run: npm run bench:stream [-- DIR]   (DIR from scripts/make_streaming_dataset.py;
// default /tmp/kdkit-fashion-x8; needs python3-torch)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadDataset, allocateBatch, gatherBatch, forEachBatch, imageShape } from '../dist/data/index.js';
import { initEngine, buildModel, distill } from '../dist/index.js';
import { Rng } from '../dist/util/rng.js';
import { encodeNpy } from '../dist/util/npy.js';

const directory = process.argv[2] ?? '/tmp/kdkit-fashion-x8';
if (existsSync(join(directory, 'test-images.npy'))) {
  await bench();
} else {
  console.error(
    `bench/stream.js: no dataset in ${directory}; make one with /usr/bin/python3 scripts/make_streaming_dataset.py ${directory} 8`,
  );
  process.exitCode = 2;
}

async function bench() {
  const batchSize = 256;
  const shards = readdirSync(directory)
    .filter((name) => /^train-images-\d+\.npy$/.test(name))
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((name) => join(directory, name));
  const spec = (stream) => ({
    name: 'npy',
    stream,
    classes: 10,
    validation: 0,
    train: { images: shards, labels: shards.map((path) => path.replace('images', 'labels')) },
    test: { images: join(directory, 'test-images.npy'), labels: join(directory, 'test-labels.npy') },
  });

  function shuffledEpoch(dataset, order) {
    const buffers = allocateBatch(dataset, batchSize);
    const started = performance.now();
    for (let start = 0; start < order.length; start += batchSize) gatherBatch(dataset, order.subarray(start, start + batchSize), buffers);
    return order.length / ((performance.now() - started) / 1000);
  }

  async function sequentialPass(dataset) {
    const started = performance.now();
    // forEachBatch reads each batch before the visit: the visit has nothing left to do.
    await forEachBatch(dataset, batchSize, () => {});
    return dataset.labels.length / ((performance.now() - started) / 1000);
  }

  const streamed = loadDataset(spec(true), 1).train;
  const count = streamed.labels.length;
  const order = new Rng(1).permutation(count);
  // Warm the page cache, so both sides read from memory-speed storage.
  await sequentialPass(streamed);
  const kdkit = { shuffled: shuffledEpoch(streamed, order), sequential: await sequentialPass(streamed) };
  const held = loadDataset(spec(false), 1).train;
  const inMemory = { shuffled: shuffledEpoch(held, order) };

  const orderPath = join(mkdtempSync(join(tmpdir(), 'kdkit-bench-stream-')), 'order.npy');
  writeFileSync(orderPath, encodeNpy({ dtype: 'int32', data: order, shape: [count] }));
  const run = spawnSync(
    '/usr/bin/python3',
    [fileURLToPath(new URL('./torch_stream.py', import.meta.url)), orderPath, String(batchSize), ...shards],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`PyTorch reference failed: ${run.stderr.trim().split('\n').at(-1)}`);
  const torch = JSON.parse(run.stdout);

  const rate = (value) => `${(value / 1000).toFixed(0)}k samples/s`;
  console.log(`${count} samples of ${imageShape(streamed).join('×')} uint8 in ${shards.length} shards, batch ${batchSize}`);
  console.log('| pass | kdkit streamed | kdkit in memory | PyTorch memmap, batched | PyTorch per-sample | kdkit / PyTorch batched |');
  console.log('|---|---:|---:|---:|---:|---:|');
  console.log(
    `| shuffled epoch | ${rate(kdkit.shuffled)} | ${rate(inMemory.shuffled)} | ${rate(torch.batchedShuffled)} | ${rate(torch.perSampleShuffled)} | ${(kdkit.shuffled / torch.batchedShuffled).toFixed(2)} |`,
  );
  console.log(
    `| sequential pass | ${rate(kdkit.sequential)} | (a view, no copy) | ${rate(torch.batchedSequential)} | — | ${(kdkit.sequential / torch.batchedSequential).toFixed(2)} |`,
  );

  // What streaming costs a training epoch: an MLP [64] (the x8 experiment's student; its steps are
  // short, so reads show) for one epoch over the first three shards, pixels in memory, streamed
  // with reads on the training thread, and streamed with the next batch read on the reader thread.
  await initEngine({ backend: 'wasm' });
  const epochShards = shards.slice(0, 3);
  const epochSpec = (stream) => ({
    ...spec(stream),
    train: { images: epochShards, labels: epochShards.map((path) => path.replace('images', 'labels')) },
  });
  const variants = {
    'in memory': () => loadDataset(epochSpec(false), 1).train,
    'streamed, reads on the training thread': () => {
      const train = loadDataset(epochSpec(true), 1).train;
      train.samples.prefetch = undefined; // the validation split's view forwards the hint; without it, no reader thread
      return train;
    },
    'streamed, next batch on the reader thread': () => loadDataset(epochSpec(true), 1).train,
  };
  const seconds = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let rep = 0; rep < 3; rep++) {
    for (const [name, make] of Object.entries(variants)) {
      const train = make();
      const model = buildModel(
        { type: 'mlp', hidden: [64], dropout: 0, activation: 'relu' },
        { inputShape: imageShape(train), numClasses: 10, seed: 1, name: 'student' },
      );
      const result = await distill({
        student: model,
        train,
        terms: [{ method: 'ce', weight: 1 }],
        epochs: 1,
        batchSize,
        optimizer: { type: 'adam', learningRate: 1e-3 },
        seed: 1,
      });
      seconds[name].push(result.trainSeconds);
      model.dispose();
      train.samples.close?.();
    }
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const base = median(seconds['in memory']);
  console.log(`\none training epoch, MLP [64], ${epochShards.length * 60000} samples, median of 3 (the first run of each included):`);
  console.log('| pixels | seconds | vs in memory |');
  console.log('|---|---:|---:|');
  for (const [name, values] of Object.entries(seconds))
    console.log(`| ${name} | ${median(values).toFixed(2)} | ${(median(values) / base).toFixed(2)}× |`);
}
