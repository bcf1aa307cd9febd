import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../engine/index.js';
import { buildModel } from '../models/build.js';
import { saveModelDir } from '../models/io.js';
import { fakeDataset, fakeTeacher } from '../teachers/store.test.util.js';
import { buildSoftLabels } from './cache_command.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-cache-cli-'));

/** A store with two entries built in this process; returns the root and the entries' ids. */
async function storeWithTwoEntries(): Promise<{ root: string; ids: string[]; first: string }> {
  const root = join(temporaryDirectory(), 'store');
  const quiet = () => {};
  const first = await buildSoftLabels(fakeTeacher({ classes: 3 }), fakeDataset(10, 3), { root, shardSize: 4 }, quiet);
  const second = await buildSoftLabels(
    fakeTeacher({ classes: 3, fingerprint: 'other' }),
    fakeDataset(10, 3),
    { root, dtype: 'float16', topK: 2 },
    quiet,
  );
  return { root, ids: [first.key.slice(0, 24), second.key.slice(0, 24)], first: first.directory };
}

test('buildSoftLabels says what it did per shard, and "soft labels: cached" the second time', async () => {
  const root = join(temporaryDirectory(), 'store');
  const lines: string[] = [];
  const write = (text: string) => lines.push(text);
  const teacher = fakeTeacher({ classes: 3 });
  await buildSoftLabels(teacher, fakeDataset(10, 3), { root, shardSize: 4 }, write);
  assert.match(
    lines.join(''),
    /shard 1\/3: computed, 4 samples done\n {2}shard 2\/3: computed, 8 samples done\n {2}shard 3\/3: computed, 10 samples done\nsoft labels: computed 3 shards in/,
  );
  lines.length = 0;
  const entry = await buildSoftLabels(teacher, fakeDataset(10, 3), { root, shardSize: 4 }, write);
  assert.match(lines.join(''), /shard 3\/3: cached, 10 samples done\nsoft labels: cached in [\d.]+ s/);
  const path = join(entry.directory, 'logits-00002.npy');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 1;
  writeFileSync(path, bytes);
  lines.length = 0;
  await buildSoftLabels(teacher, fakeDataset(10, 3), { root, shardSize: 4 }, write);
  assert.match(
    lines.join(''),
    /shard 3\/3: recomputed \(shard 2: logits-00002\.npy fails its checksum\)[\s\S]*soft labels: computed 1 shard in/,
  );
});

test('cache ls shows each entry: key, teacher, dataset, samples × classes, storage, shards, size', async () => {
  const { root, ids } = await storeWithTwoEntries();
  const listed = kdkit('cache', 'ls', '--store', root);
  assert.equal(listed.status, 0, listed.stderr);
  const lines = listed.stdout.trim().split('\n');
  assert.match(lines[1], /^key\s+teacher\s+dataset\s+samples × classes\s+storage\s+shards\s+size$/);
  const row = (id: string) => lines.find((line) => line.startsWith(id)) ?? '';
  assert.match(row(ids[0]), /fake teacher\s+fake\s+10 × 3\s+float32\s+3\/3\s+[\d.]+ KiB$/);
  assert.match(row(ids[1]), /fake teacher\s+fake\s+10 × 3\s+float16, top-2\s+1\/1\s+[\d.]+ KiB$/);
  const empty = kdkit('cache', 'ls', '--store', join(temporaryDirectory(), 'nothing'));
  assert.equal(empty.status, 0);
  assert.match(empty.stdout, /no soft-label entries in/);
});

test('cache verify passes intact entries and exits 2 naming the damaged shard', async () => {
  const { root, ids, first } = await storeWithTwoEntries();
  const intact = kdkit('cache', 'verify', '--store', root);
  assert.equal(intact.status, 0, intact.stderr);
  assert.equal(
    intact.stdout,
    `${[...ids]
      .sort()
      .map((id) => `${id}  OK\n`)
      .join('')}`,
  );
  const path = join(first, 'logits-00001.npy');
  const bytes = readFileSync(path);
  bytes[bytes.length - 5] ^= 0x10;
  writeFileSync(path, bytes);
  const damaged = kdkit('cache', 'verify', '--store', root);
  assertBadInput(
    damaged,
    new RegExp(`1 of 2 soft-label entries .* failed verification:\\n${ids[0]}: shard 1: logits-00001\\.npy fails its checksum`),
  );
  assert.match(damaged.stdout, new RegExp(`${ids[0]}  BAD\\n  shard 1: logits-00001\\.npy fails its checksum\\n`));
  assert.match(damaged.stdout, new RegExp(`${ids[1]}  OK`));
  assert.equal(kdkit('cache', 'verify', ids[1].slice(0, 8), '--store', root).status, 0, 'a named intact entry passes');
  assertBadInput(kdkit('cache', 'verify', 'feedface', '--store', root), /no soft-label entry 'feedface'/);
});

test('cache rm removes named entries or --all, and refuses keys not in the store', async () => {
  const { root, ids } = await storeWithTwoEntries();
  assertBadInput(kdkit('cache', 'rm', 'feedface', '--store', root), /no soft-label entry 'feedface' in .*store/);
  assertBadInput(kdkit('cache', 'rm', '../store', '--store', root), /'\.\.\/store' is not an entry key/);
  assertBadInput(kdkit('cache', 'rm', '--store', root), /give entry keys or --all/);
  assertBadInput(kdkit('cache', 'rm', ids[0], 'feedface', '--store', root), /no soft-label entry 'feedface'/);
  assert.equal(readdirSync(root).length, 2, 'a bad key removes nothing');
  const removed = kdkit('cache', 'rm', ids[0], '--store', root);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`^removed ${ids[0]} \\([\\d.]+ KiB\\)\\n$`));
  assert.deepEqual(readdirSync(root), [`soft-labels-${ids[1]}`]);
  assert.equal(kdkit('cache', 'rm', '--all', '--store', root).status, 0);
  assert.deepEqual(readdirSync(root), []);
  assert.ok(existsSync(root), 'the store directory itself stays');
});

test('cache build fills the store from a saved teacher, and the second build reads it back', async () => {
  await initEngine({ backend: 'wasm' });
  const directory = temporaryDirectory();
  const model = buildModel(
    { type: 'mlp', hidden: [8], dropout: 0, activation: 'relu' },
    { inputShape: [8, 8, 1], numClasses: 10, seed: 1, name: 'teacher' },
  );
  await saveModelDir(model, join(directory, 'teacher'));
  const config = join(directory, 'load.yaml');
  writeFileSync(
    config,
    `dataset: {name: digits}\nteacher: {load: ${join(directory, 'teacher')}}\nstudent: {model: {type: mlp, hidden: [4]}}\ndistill: {epochs: 1, terms: [{method: kd, weight: 1, temperature: 2}]}\nsoftLabels: {shardSize: 500}\n`,
  );
  const store = join(directory, 'store');
  const first = kdkit('cache', 'build', config, '--store', store);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, /soft labels: computed \d+ shards in/);
  const second = kdkit('cache', 'build', config, '--store', store);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /soft labels: cached in/);
  assert.equal(kdkit('cache', 'verify', '--store', store).status, 0);
});

test('cache build refuses a missing config and a teacher the run would have to train', () => {
  const directory = temporaryDirectory();
  assertBadInput(kdkit('cache', 'build', join(directory, 'absent.yaml')), /absent\.yaml: cannot read config file/);
  const config = join(directory, 'trained.yaml');
  writeFileSync(
    config,
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: mlp, hidden: [4]}}\ndistill: {epochs: 1, terms: [{method: ce, weight: 1}]}\n',
  );
  assertBadInput(kdkit('cache', 'build', config, '--store', join(directory, 'store')), /trained\.yaml: teacher: .*has to exist first/);
  assert.ok(!existsSync(join(directory, 'store')));
});

test('--help works on cache and each of its subcommands', () => {
  for (const args of [
    ['cache', '--help'],
    ['cache', 'build', '--help'],
    ['cache', 'ls', '--help'],
    ['cache', 'verify', '--help'],
    ['cache', 'rm', '--help'],
  ]) {
    const result = kdkit(...args);
    assert.equal(result.status, 0, args.join(' '));
    assert.match(result.stdout, /Usage: kdkit cache/);
  }
});
