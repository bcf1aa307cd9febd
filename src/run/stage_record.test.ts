import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { checkStageRecord, differences } from './stage_record.js';

const inputs = { distill: { epochs: 6, terms: [{ method: 'kd', weight: 0.9, temperature: 4 }] }, seed: 1 };

test('differences names each changed leaf by its config path, with both values', () => {
  const changed = {
    distill: {
      epochs: 9,
      terms: [
        { method: 'kd', weight: 0.9, temperature: 2 },
        { method: 'ce', weight: 0.1 },
      ],
    },
    seed: 1,
  };
  assert.deepEqual(differences(inputs, changed), [
    'distill.epochs: 6 → 9',
    'distill.terms[0].temperature: 4 → 2',
    'distill.terms[1].method: (none) → "ce"',
    'distill.terms[1].weight: (none) → 0.1',
  ]);
  assert.deepEqual(differences(inputs, structuredClone(inputs)), []);
});

test('a resumed stage continues only from checkpoints made with the same inputs', () => {
  const directory = join(mkdtempSync(join(tmpdir(), 'kdkit-stage-record-')), 'student');
  const policy = { resume: true, retrainChanged: false };
  assert.equal(checkStageRecord(directory, 'student', inputs, policy), false, 'no checkpoints yet: a fresh start, recorded');
  mkdirSync(join(directory, 'ckpt-000000010'));
  assert.equal(checkStageRecord(directory, 'student', inputs, policy), true);
  assert.throws(
    () => checkStageRecord(directory, 'student', { ...inputs, seed: 2 }, policy),
    (error: unknown) => error instanceof InputError && /were made with another config.*: seed: 1 → 2\./.test(error.message),
  );
  const told: string[] = [];
  assert.equal(
    checkStageRecord(
      directory,
      'student',
      { ...inputs, seed: 2 },
      { ...policy, retrainChanged: true, info: (message) => told.push(message) },
    ),
    false,
  );
  assert.deepEqual(told, ['student: trained again, its config changed since its checkpoints (seed: 1 → 2)']);
  assert.equal(checkStageRecord(directory, 'student', { ...inputs, seed: 2 }, policy), true, 'the new inputs are recorded');
  writeFileSync(join(directory, 'stage.json'), 'not json');
  assert.throws(() => checkStageRecord(directory, 'student', inputs, policy), /no record of the config that made them/);
});
