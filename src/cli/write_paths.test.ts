// `../` in a store manifest or a `kdkit cache rm` key cannot make kdkit write or delete outside the
// store it was given; a store entry being built cannot be removed under its builder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeDataset, fakeTeacher } from '../teachers/store.test.util.js';
import { verifyEntry } from '../teachers/store.js';
import { lockDirectory } from '../util/lock.js';
import { buildSoftLabels } from './cache_command.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-write-paths-'));
const quiet = () => {};

/** Every path under `directory` with its size and mtime: what a write or a delete would change. */
function snapshot(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const stat = statSync(join(directory, name));
      return `${name} ${stat.size} ${stat.mtimeMs}`;
    });
}

test('a store manifest naming ../ files is rebuilt inside its entry; the files it names are not touched', async () => {
  const base = temporaryDirectory();
  const root = join(base, 'store');
  const teacher = fakeTeacher({ classes: 3 });
  const entry = await buildSoftLabels(teacher, fakeDataset(10, 3), { root, shardSize: 4 }, quiet);
  const manifestPath = join(entry.directory, 'manifest.json');
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  // Decoys where the edited manifest points, with the checksum the manifest claims for them.
  manifest.shards[0].files.logits = '../../escape.npy';
  manifest.shards[1].files.logits = join(base, 'absolute.npy');
  writeFileSync(join(base, 'escape.npy'), readFileSync(join(entry.directory, 'logits-00000.npy')));
  writeFileSync(join(base, 'absolute.npy'), readFileSync(join(entry.directory, 'logits-00001.npy')));
  writeFileSync(manifestPath, JSON.stringify(manifest));
  const outside = snapshot(base).filter((line) => !line.startsWith('store'));

  const lines: string[] = [];
  const rebuilt = await buildSoftLabels(teacher, fakeDataset(10, 3), { root, shardSize: 4 }, (text) => lines.push(text));
  assert.match(lines.join(''), /shard 1\/3: recomputed \(.*manifest\.json: not a kdkit soft-label manifest/);
  assert.equal(rebuilt.directory, entry.directory);
  assert.deepEqual(verifyEntry(entry.directory), { ok: true, problems: [] });
  assert.deepEqual(
    JSON.parse(readFileSync(manifestPath, 'utf8')).shards.map((shard: { files: { logits: string } }) => shard.files.logits),
    ['logits-00000.npy', 'logits-00001.npy', 'logits-00002.npy'],
  );
  assert.deepEqual(
    snapshot(base).filter((line) => !line.startsWith('store')),
    outside,
    'nothing outside the store changed',
  );
});

test('cache rm refuses ../, absolute and symlinked keys; --all removes only entry directories under the root', async () => {
  const base = temporaryDirectory();
  const root = join(base, 'store');
  const entry = await buildSoftLabels(fakeTeacher({ classes: 3 }), fakeDataset(4, 3), { root }, quiet);
  const precious = join(base, 'precious');
  mkdirSync(precious);
  writeFileSync(join(precious, 'keep.txt'), 'keep');
  symlinkSync(precious, join(root, `soft-labels-${'ab'.repeat(12)}`));
  const before = snapshot(precious);

  assertBadInput(kdkit('cache', 'rm', '../precious', '--store', root), /'\.\.\/precious' is not an entry key/);
  assertBadInput(kdkit('cache', 'rm', precious, '--store', root), /is not an entry key/);
  assertBadInput(kdkit('cache', 'rm', `../${'ab'.repeat(12)}`, '--store', root), /is not an entry key/);
  assertBadInput(kdkit('cache', 'rm', 'ab'.repeat(12), '--store', root), /no soft-label entry/);
  const all = kdkit('cache', 'rm', '--all', '--store', root);
  assert.equal(all.status, 0, all.stderr);
  assert.match(all.stdout, new RegExp(`^removed ${entry.key.slice(0, 24)} `));
  assert.deepEqual(readdirSync(root), [`soft-labels-${'ab'.repeat(12)}`], 'the symlink is not an entry');
  assert.deepEqual(snapshot(precious), before, 'its target is untouched');
});

test('cache rm refuses an entry whose lock is held (a build in progress), and removes it once released', async () => {
  const root = join(temporaryDirectory(), 'store');
  const entry = await buildSoftLabels(fakeTeacher({ classes: 3 }), fakeDataset(4, 3), { root }, quiet);
  const id = entry.key.slice(0, 24);
  const building = await lockDirectory(entry.directory, { what: 'soft-label entry', command: 'kdkit cache build test.yaml' });
  try {
    const refused = kdkit('cache', 'rm', id, '--store', root);
    assertBadInput(
      refused,
      new RegExp(
        `soft-label entry ${entry.directory} is in use by another kdkit process: pid ${process.pid} .*\\(kdkit cache build test\\.yaml\\); wait for that build to finish`,
      ),
    );
    assert.deepEqual(verifyEntry(entry.directory), { ok: true, problems: [] }, 'the entry is intact');
  } finally {
    await building.release();
  }
  const removed = kdkit('cache', 'rm', id, '--store', root);
  assert.equal(removed.status, 0, removed.stderr);
  assert.deepEqual(readdirSync(root), [], 'the entry and its lock are gone');
});
