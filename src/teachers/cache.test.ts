import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Dataset } from '../data/dataset.js';
import { decodeNpy } from '../util/npy.js';
import { softLabels } from './cache.js';

const dataset: Dataset = {
  name: 'tiny', images: new Float32Array([0, 0.5, 1, 0.25]), labels: new Int32Array([0, 1]),
  sampleShape: [1, 2, 1], numClasses: 3, classNames: ['a', 'b', 'c'],
};
const logits = new Float32Array([1, 2, 3, -1, 0, 1]);

test('soft labels are computed once, stored as .npy, and reused for the same teacher and data', () => {
  const cacheRoot = mkdtempSync(join(tmpdir(), 'kdkit-cache-'));
  let calls = 0;
  const compute = () => (calls++, logits);
  const first = softLabels({ cacheRoot, teacherFingerprint: 'teacher-a', dataset, compute });
  assert.equal(first.cached, false);
  const stored = decodeNpy(readFileSync(join(first.directory, 'teacher-logits.npy')), 'x');
  assert.deepEqual(stored.shape, [2, 3]);
  assert.deepEqual([...stored.data], [...logits]);
  const second = softLabels({ cacheRoot, teacherFingerprint: 'teacher-a', dataset, compute });
  assert.equal(second.cached, true);
  assert.equal(calls, 1);
  assert.deepEqual([...second.logits], [...logits]);
  const otherTeacher = softLabels({ cacheRoot, teacherFingerprint: 'teacher-b', dataset, compute });
  assert.equal(otherTeacher.cached, false);
  assert.notEqual(otherTeacher.directory, first.directory);
});

test('a damaged cache entry is regenerated, not trusted', () => {
  const cacheRoot = mkdtempSync(join(tmpdir(), 'kdkit-cache-'));
  const first = softLabels({ cacheRoot, teacherFingerprint: 't', dataset, compute: () => logits });
  const path = join(first.directory, 'teacher-logits.npy');
  const bytes = readFileSync(path);
  bytes[bytes.length - 1] ^= 0xff;
  writeFileSync(path, bytes);
  const again = softLabels({ cacheRoot, teacherFingerprint: 't', dataset, compute: () => logits });
  assert.equal(again.cached, false);
  assert.deepEqual([...again.logits], [...logits]);
});
