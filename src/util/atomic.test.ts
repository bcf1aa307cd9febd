import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileWriteError, temporaryPath, temporaryWriter, writeFileAtomic } from './atomic.js';

const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-atomic-'));

test('a link at the target is replaced by the file; its target is untouched', () => {
  const directory = temporaryDirectory();
  const target = join(directory, 'theirs.json');
  writeFileSync(target, 'theirs');
  symlinkSync(target, join(directory, 'summary.json'));
  writeFileAtomic(join(directory, 'summary.json'), 'ours');
  assert.equal(readFileSync(target, 'utf8'), 'theirs');
  assert.ok(lstatSync(join(directory, 'summary.json')).isFile());
  assert.equal(readFileSync(join(directory, 'summary.json'), 'utf8'), 'ours');
  assert.deepEqual(readdirSync(directory).sort(), ['summary.json', 'theirs.json'], 'no temporary left');
});

test('temporary names carry the pid and 48 random bits, so they cannot be planted ahead', () => {
  const names = new Set(Array.from({ length: 100 }, () => temporaryPath('/run/summary.json')));
  assert.equal(names.size, 100);
  for (const name of names) {
    assert.match(name, new RegExp(`^/run/\\.summary\\.json\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
    assert.equal(temporaryWriter(name.slice('/run/'.length)), process.pid);
  }
  assert.equal(temporaryWriter('.summary.json.123.tmp'), 123, 'the older name, from runs before');
  assert.equal(temporaryWriter('summary.json'), null);
  assert.equal(temporaryWriter('.notes.txt'), null);
});

test('a failed write names the file and the reason', () => {
  const directory = temporaryDirectory();
  writeFileSync(join(directory, 'student'), 'a file where a directory should be');
  const path = join(directory, 'student', 'model.json');
  assert.throws(
    () => writeFileAtomic(path, '{}'),
    (error: unknown) => error instanceof FileWriteError && error.message === `cannot write ${path}: EEXIST (a file is in the way)`,
  );
});
