import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';
import { cachedTeacherFeatures } from './cache.js';
import { listEntries, removeEntry, softLabelsFromStore, verifyEntry, type StoreProgress } from './store.js';
import { fakeDataset, fakeTeacher } from './store.test.util.js';
import { allSamples } from '../data/dataset.js';

const temporaryRoot = () => join(mkdtempSync(join(tmpdir(), 'kdkit-store-')), 'store');
const manifestOf = (directory: string) => JSON.parse(readFileSync(join(directory, 'manifest.json'), 'utf8'));
const shardNames = (directory: string) =>
  readdirSync(directory)
    .filter((name) => name.endsWith('.npy'))
    .sort();

test('the first build computes every shard; the second reads them all without calling the teacher', async () => {
  const root = temporaryRoot();
  const dataset = fakeDataset(20, 3);
  const teacher = fakeTeacher({ classes: 3, batchSize: 4 });
  const events: StoreProgress[] = [];
  const first = await softLabelsFromStore(teacher, dataset, { root, shardSize: 8 }, (event) => events.push(event));
  assert.deepEqual({ cached: first.cached, computedShards: first.computedShards }, { cached: false, computedShards: 3 });
  // 3 shards of 8, 8 and 4 samples, in batches of 4: 2 + 2 + 1 calls.
  assert.equal(teacher.calls, 5);
  assert.deepEqual(
    events.map((event) => [event.shard, event.samples, event.cached]),
    [
      [0, 8, false],
      [1, 16, false],
      [2, 20, false],
    ],
  );
  assert.deepEqual([...first.logits], [...(await fakeTeacher({ classes: 3 }).logits(allSamples(dataset), 20))]);
  assert.deepEqual(shardNames(first.directory), ['logits-00000.npy', 'logits-00001.npy', 'logits-00002.npy']);
  assert.equal(basename(first.directory), `soft-labels-${first.key.slice(0, 24)}`);

  const second = await softLabelsFromStore(teacher, dataset, { root, shardSize: 8 });
  assert.deepEqual(
    { cached: second.cached, computedShards: second.computedShards, directory: second.directory },
    { cached: true, computedShards: 0, directory: first.directory },
  );
  assert.equal(teacher.calls, 5);
  assert.deepEqual([...second.logits], [...first.logits]);

  const other = await softLabelsFromStore(fakeTeacher({ classes: 3, fingerprint: 'another teacher' }), dataset, { root, shardSize: 8 });
  assert.notEqual(other.directory, first.directory, 'another teacher is another entry');
  const float16 = await softLabelsFromStore(teacher, dataset, { root, shardSize: 8, dtype: 'float16' });
  assert.notEqual(float16.directory, first.directory, 'another storage is another entry');
});

test('the manifest describes the entry with relative file names, and nothing is written outside the root', async () => {
  const root = temporaryRoot();
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 3 }), fakeDataset(10, 3, 'tiny/train'), { root, shardSize: 6 });
  const manifest = manifestOf(entry.directory);
  assert.equal(manifest.key, entry.key);
  assert.deepEqual(manifest.teacher, { kind: 'tfjs', description: 'fake teacher', fingerprint: 'fake-teacher-v1' });
  assert.deepEqual(
    { name: manifest.dataset.name, samples: manifest.dataset.samples, inputs: manifest.dataset.inputs },
    { name: 'tiny/train', samples: 10, inputs: [{ name: 'image', dtype: 'float32', shape: [2, 2, 1] }] },
  );
  assert.deepEqual([manifest.classes, manifest.dtype, manifest.topK, manifest.shardSize, manifest.complete], [3, 'float32', null, 6, true]);
  assert.match(manifest.note, /before any temperature/);
  assert.deepEqual(
    manifest.shards.map((shard: { index: number; rows: number[]; files: object }) => [shard.index, shard.rows, shard.files]),
    [
      [0, [0, 6], { logits: 'logits-00000.npy' }],
      [1, [6, 10], { logits: 'logits-00001.npy' }],
    ],
  );
  const text = readFileSync(join(entry.directory, 'manifest.json'), 'utf8');
  assert.ok(!text.includes(root) && !text.includes(tmpdir()), 'no absolute paths in the manifest');
  assert.deepEqual(readdirSync(join(root, '..')), ['store']);
  assert.deepEqual(readdirSync(root), [basename(entry.directory)]);
});

test('a flipped byte is named by verifyEntry and only that shard is recomputed', async () => {
  const root = temporaryRoot();
  const dataset = fakeDataset(24, 4);
  const teacher = fakeTeacher({ classes: 4, batchSize: 8 });
  const entry = await softLabelsFromStore(teacher, dataset, { root, shardSize: 8 });
  assert.deepEqual(verifyEntry(entry.directory), { ok: true, problems: [] });
  const path = join(entry.directory, 'logits-00001.npy');
  const original = readFileSync(path);
  const damaged = Buffer.from(original);
  damaged[damaged.length - 3] ^= 0x40;
  writeFileSync(path, damaged);
  assert.deepEqual(verifyEntry(entry.directory), { ok: false, problems: ['shard 1: logits-00001.npy fails its checksum'] });

  const calls = teacher.calls;
  const events: StoreProgress[] = [];
  const again = await softLabelsFromStore(teacher, dataset, { root, shardSize: 8 }, (event) => events.push(event));
  assert.deepEqual(
    { cached: again.cached, computedShards: again.computedShards, calls: teacher.calls - calls },
    { cached: false, computedShards: 1, calls: 1 },
  );
  assert.deepEqual(
    events.map((event) => [event.shard, event.cached, event.problem]),
    [
      [0, true, undefined],
      [1, false, 'shard 1: logits-00001.npy fails its checksum'],
      [2, true, undefined],
    ],
  );
  assert.deepEqual(readFileSync(path), original);
  assert.deepEqual([...again.logits], [...entry.logits]);
  assert.equal(verifyEntry(entry.directory).ok, true);
});

test('a missing shard file and an unreadable manifest are named, then rebuilt', async () => {
  const root = temporaryRoot();
  const dataset = fakeDataset(12, 3);
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root, shardSize: 4 });
  execFileSync('rm', [join(entry.directory, 'logits-00002.npy')]);
  assert.deepEqual(verifyEntry(entry.directory).problems, ['shard 2: logits-00002.npy is missing']);
  writeFileSync(join(entry.directory, 'manifest.json'), '{"format": ');
  assert.match(verifyEntry(entry.directory).problems[0], /manifest\.json: not JSON/);
  const events: StoreProgress[] = [];
  const again = await softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root, shardSize: 4 }, (event) => events.push(event));
  assert.equal(again.computedShards, 3);
  assert.match(events[0].problem ?? '', /manifest\.json: not JSON.*rebuilding/);
  assert.deepEqual([...again.logits], [...entry.logits]);
  assert.equal(verifyEntry(entry.directory).ok, true);
});

test('a build killed with SIGKILL partway resumes from the last complete shard, with byte-identical shards', async () => {
  const root = temporaryRoot();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./store.test.child.js', import.meta.url)), root, '48', '8', '100']);
  let printed = '';
  await new Promise<void>((done, fail) => {
    child.stdout.on('data', (chunk: Buffer) => {
      printed += chunk.toString();
      if (printed.includes('shard 1\n')) child.kill('SIGKILL');
    });
    child.on('exit', (_code, signal) => (signal === 'SIGKILL' ? done() : fail(new Error(`child exited without being killed: ${printed}`))));
  });
  const [directory] = readdirSync(root).map((name) => join(root, name));
  const listed = manifestOf(directory).shards.length;
  assert.ok(listed >= 2 && listed < 6, `the killed build listed ${listed} of 6 shards`);
  assert.equal(manifestOf(directory).complete, false);
  assert.match(
    verifyEntry(directory).problems.join('\n'),
    new RegExp(`incomplete: ${listed} of 6 shards built; the next build continues from shard ${listed}`),
  );

  const teacher = fakeTeacher({ classes: 5, batchSize: 4 });
  const resumed = await softLabelsFromStore(teacher, fakeDataset(48, 5), { root, shardSize: 8 });
  assert.equal(resumed.directory, directory);
  assert.deepEqual(
    { computedShards: resumed.computedShards, calls: teacher.calls },
    { computedShards: 6 - listed, calls: 2 * (6 - listed) },
  );
  const uninterrupted = await softLabelsFromStore(fakeTeacher({ classes: 5, batchSize: 4 }), fakeDataset(48, 5), {
    root: temporaryRoot(),
    shardSize: 8,
  });
  assert.deepEqual(shardNames(directory), shardNames(uninterrupted.directory));
  assert.equal(shardNames(directory).length, 6);
  for (const name of shardNames(directory))
    assert.ok(readFileSync(join(directory, name)).equals(readFileSync(join(uninterrupted.directory, name))), `${name} differs`);
  assert.deepEqual(
    readdirSync(directory).filter((name) => name.endsWith('.tmp')),
    [],
  );
  assert.deepEqual(manifestOf(directory).shards, manifestOf(uninterrupted.directory).shards);
});

test('temporaries of a dead writer are removed; a live one is left alone', async () => {
  const root = temporaryRoot();
  const dataset = fakeDataset(4, 3);
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root });
  const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(join(entry.directory, `.logits-00000.npy.${deadPid}.tmp`), 'torn');
  writeFileSync(join(entry.directory, `.logits-00000.npy.${process.ppid}.tmp`), 'in flight');
  await softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root });
  assert.deepEqual(
    readdirSync(entry.directory).filter((name) => name.endsWith('.tmp')),
    [`.logits-00000.npy.${process.ppid}.tmp`],
  );
});

test('float16 storage rounds to the nearest half and numpy reads the same numbers', async () => {
  const root = temporaryRoot();
  const table = [[1 / 3, 1000.3, -2.5, 65504]];
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 4, table }), fakeDataset(1, 4), { root, dtype: 'float16' });
  // 1/3 → 1365·2⁻¹² (spacing 2⁻¹² in [¼, ½)); 1000.3 → 1000.5 (spacing ½ in [512, 1024)); −2.5 and 65504 are exact.
  const expected = [1365 / 4096, 1000.5, -2.5, 65504];
  assert.deepEqual([...entry.logits], expected);
  const bytes = readFileSync(join(entry.directory, 'logits-00000.npy'));
  assert.deepEqual(
    [...new Uint16Array(bytes.buffer.slice(bytes.byteOffset + bytes.length - 8, bytes.byteOffset + bytes.length))],
    [0x3555, 0x63d1, 0xc100, 0x7bff],
  );
  const printed = execFileSync('/usr/bin/python3', [
    '-c',
    `import numpy; a = numpy.load(${JSON.stringify(join(entry.directory, 'logits-00000.npy'))}); print(a.dtype, a.shape, a.ravel().tolist())`,
  ])
    .toString()
    .trim();
  assert.equal(
    printed,
    `float16 (1, 4) [${expected.map((value) => (Number.isInteger(value) ? value.toFixed(1) : String(value))).join(', ')}]`,
  );
  assert.deepEqual(
    [...(await softLabelsFromStore(fakeTeacher({ classes: 4, table }), fakeDataset(1, 4), { root, dtype: 'float16' })).logits],
    expected,
  );
  await assert.rejects(
    softLabelsFromStore(fakeTeacher({ classes: 4, table: [[70000, 0, 0, 0]], fingerprint: 'too-wide' }), fakeDataset(1, 4), {
      root,
      dtype: 'float16',
    }),
    (error: unknown) => error instanceof InputError && /70000 is outside float16's range/.test(error.message),
  );
});

test('top-k keeps the k largest logits and reconstructs a softmax equal to the renormalized top-k probabilities', async () => {
  const root = temporaryRoot();
  const table = [
    [2, 0, 1, -1],
    [1, 3, 3, 0],
    [5, 5, 5, 5],
  ];
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 4, table }), fakeDataset(3, 4), { root, topK: 2 });
  // Dropped classes sit 10⁴ below the row's smallest kept logit; ties keep the lower class index.
  assert.deepEqual([...entry.logits], [2, 1 - 1e4, 1, 1 - 1e4, 3 - 1e4, 3, 3, 3 - 1e4, 5, 5, 5 - 1e4, 5 - 1e4]);
  const softmax = (row: number[], temperature: number) => {
    const top = Math.max(...row);
    const weights = row.map((value) => Math.exp((value - top) / temperature));
    const total = weights.reduce((sum, weight) => sum + weight, 0);
    return weights.map((weight) => weight / total);
  };
  for (const temperature of [1, 4, 100]) {
    // The teacher's top-2 of [2, 0, 1, −1] renormalized: e^(2/T) / (e^(2/T) + e^(1/T)) = 1 / (1 + e^(−1/T)).
    const p0 = 1 / (1 + Math.exp(-1 / temperature));
    const reconstructed = softmax([...entry.logits.subarray(0, 4)], temperature);
    [p0, 0, 1 - p0, 0].forEach((expected, c) => {
      assert.ok(Math.abs(reconstructed[c] - expected) < 1e-15, `T=${temperature} class ${c}: ${reconstructed[c]} vs ${expected}`);
    });
  }
  const manifest = manifestOf(entry.directory);
  assert.equal(manifest.topK, 2);
  assert.match(manifest.reconstruction, /smallest kept logit − 10000/);
  assert.deepEqual(manifest.shards[0].files, { logits: 'logits-00000.npy', indices: 'indices-00000.npy' });
  const script = `import numpy; d = ${JSON.stringify(entry.directory)}; v = numpy.load(d + '/logits-00000.npy'); i = numpy.load(d + '/indices-00000.npy'); print(v.dtype, i.dtype, v.tolist(), i.tolist())`;
  assert.equal(
    execFileSync('/usr/bin/python3', ['-c', script]).toString().trim(),
    'float32 int32 [[2.0, 1.0], [3.0, 3.0], [5.0, 5.0]] [[0, 2], [1, 2], [0, 1]]',
  );
});

test('top-k with float16 stores rounded values and reconstructs from them', async () => {
  const root = temporaryRoot();
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 3, table: [[1 / 3, 0.1, -7]] }), fakeDataset(1, 3), {
    root,
    topK: 1,
    dtype: 'float16',
  });
  assert.deepEqual([...entry.logits], [1365 / 4096, 1365 / 4096 - 1e4, 1365 / 4096 - 1e4].map(Math.fround));
  const script = `import numpy; v = numpy.load(${JSON.stringify(join(entry.directory, 'logits-00000.npy'))}); print(v.dtype, v.tolist())`;
  assert.equal(execFileSync('/usr/bin/python3', ['-c', script]).toString().trim(), `float16 [[${1365 / 4096}]]`);
});

test('bad storage options and a teacher of the wrong width are InputErrors that say what was expected', async () => {
  const root = temporaryRoot();
  const dataset = fakeDataset(4, 3);
  await assert.rejects(
    softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root, topK: 3 }),
    /topK must be an integer in \[1, 2\].*got 3/,
  );
  await assert.rejects(
    softLabelsFromStore(fakeTeacher({ classes: 3 }), dataset, { root, shardSize: 0 }),
    /shardSize must be a positive integer, got 0/,
  );
  await assert.rejects(
    softLabelsFromStore(fakeTeacher({ classes: 5 }), dataset, { root }),
    (error: unknown) => error instanceof InputError && /fake teacher outputs 5 classes; the dataset 'fake' has 3/.test(error.message),
  );
  const unlabelled = { ...fakeTeacher({ classes: 5 }) };
  const silent = { ...unlabelled, info: { ...unlabelled.info, classes: null } };
  await assert.rejects(softLabelsFromStore(silent, dataset, { root }), /produced 5 outputs per sample; the dataset 'fake' has 3 classes/);
  assert.ok(!existsSync(root), 'nothing written for a teacher that failed its first batch');
});

test('listEntries summarizes entries; removeEntry takes a key prefix and refuses anything else', async () => {
  const root = temporaryRoot();
  const a = await softLabelsFromStore(fakeTeacher({ classes: 3 }), fakeDataset(10, 3), { root, shardSize: 4 });
  const b = await softLabelsFromStore(fakeTeacher({ classes: 3, fingerprint: 'b' }), fakeDataset(10, 3), { root, dtype: 'float16' });
  const entries = listEntries(root);
  assert.deepEqual(entries.map((entry) => entry.id).sort(), [a.key.slice(0, 24), b.key.slice(0, 24)].sort());
  const summaryA = entries.find((entry) => entry.id === a.key.slice(0, 24))!;
  assert.deepEqual([summaryA.shardsComplete, summaryA.shardsTotal, summaryA.manifest?.dtype], [3, 3, 'float32']);
  const files = readdirSync(a.directory).map((name) => readFileSync(join(a.directory, name)).length);
  assert.equal(
    summaryA.sizeBytes,
    files.reduce((sum, size) => sum + size, 0),
  );

  // A symlink named like an entry is not an entry: its target survives.
  const outside = join(root, '..', 'precious');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep.txt'), 'keep');
  symlinkSync(outside, join(root, `soft-labels-${'ab'.repeat(12)}`));
  assert.throws(() => removeEntry(root, 'ab'.repeat(12)), /no soft-label entry/);
  assert.throws(() => removeEntry(root, '../precious'), /not an entry key/);
  assert.throws(() => removeEntry(root, '12'), /not an entry key/);
  assert.ok(existsSync(join(outside, 'keep.txt')));

  removeEntry(root, a.key.slice(0, 10));
  assert.ok(!existsSync(a.directory));
  removeEntry(root, b.key);
  assert.deepEqual(listEntries(root), []);
  assert.throws(
    () => removeEntry(root, b.key),
    (error: unknown) => error instanceof InputError && /no soft-label entry/.test(error.message),
  );
});

test('teacher features stored beside the logits are covered by verifyEntry', async () => {
  const root = temporaryRoot();
  const entry = await softLabelsFromStore(fakeTeacher({ classes: 3 }), fakeDataset(2, 3), { root });
  const taps = [{ name: 'block/conv', shape: [2] }];
  const stored = await cachedTeacherFeatures({
    directory: entry.directory,
    taps,
    samples: 2,
    compute: async () => ({ 'block/conv': new Float32Array([1, 2, 3, 4]) }),
  });
  assert.equal(stored.cached, false);
  const again = await cachedTeacherFeatures({
    directory: entry.directory,
    taps,
    samples: 2,
    compute: () => assert.fail('features were cached'),
  });
  assert.deepEqual({ cached: again.cached, values: [...again.features['block/conv']] }, { cached: true, values: [1, 2, 3, 4] });
  assert.deepEqual(verifyEntry(entry.directory), { ok: true, problems: [] });
  writeFileSync(join(entry.directory, 'teacher-features-block_conv.npy'), 'damaged');
  assert.deepEqual(verifyEntry(entry.directory).problems, ["features 'block/conv': teacher-features-block_conv.npy fails its checksum"]);
});

test('an empty dataset gives a complete entry with no shards', async () => {
  const root = temporaryRoot();
  const teacher = fakeTeacher({ classes: 3 });
  const entry = await softLabelsFromStore(teacher, fakeDataset(0, 3), { root });
  assert.deepEqual(
    { length: entry.logits.length, computedShards: entry.computedShards, calls: teacher.calls },
    { length: 0, computedShards: 0, calls: 0 },
  );
  assert.deepEqual([manifestOf(entry.directory).complete, manifestOf(entry.directory).shards], [true, []]);
  assert.deepEqual(verifyEntry(entry.directory), { ok: true, problems: [] });
});
