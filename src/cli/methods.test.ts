// Every distillation method from a config, through the CLI: feature taps, adapters, schedules,
// cached teacher features, and the errors a user sees for a bad term.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-methods-'));

/** A digits config whose teacher and student are small CNNs; `terms` is YAML for distill.terms. */
function config(name: string, terms: string, extra = ''): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'dataset: {name: digits}',
      'teacher: {model: {type: cnn, filters: [8], dense: [16]}, epochs: 2, batchSize: 64}',
      'student: {model: {type: cnn, filters: [4], dense: [8]}}',
      'baseline: false',
      `distill: {epochs: 2, batchSize: 64, terms: ${terms.replace(/\s*\n\s*/g, ' ')}}`,
      extra,
    ].join('\n'),
  );
  return path;
}

const allTerms = `[
  {method: kd, weight: {schedule: linear, from: 0.9, to: 0.5}, temperature: {schedule: cosine, from: 6, to: 2}},
  {method: ce, weight: 0.1},
  {method: dkd, weight: {schedule: warmup, to: 1, epochs: 2}},
  {method: hint, weight: 1, student: dense_1, teacher: dense_1},
  {method: attention, weight: 100, student: conv_1, teacher: conv_1},
  {method: rkd, weight: 1, student: penultimate, teacher: penultimate},
  {method: sp, weight: 100, student: pool_1, teacher: pool_1},
  {method: ctkd, weight: 0.5, rampEpochs: 2}
]`;

test('kd, dkd, hint, attention, rkd, sp and ctkd run together from a config, each logged under its name', () => {
  const out = join(directory, 'all');
  const result = kdkit('run', config('all', allTerms), '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /teacher features \(dense_1, conv_1, penultimate, pool_1\): computed/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const student = summary.stages.find((stage: { name: string }) => stage.name === 'student');
  const names = ['kd', 'ce', 'dkd', 'hint', 'attention', 'rkd', 'sp', 'ctkd'];
  assert.deepEqual(
    student.terms.map((term: { method: string }) => term.method),
    names,
  );
  assert.deepEqual(student.terms[0].weight, { schedule: 'linear', from: 0.9, to: 0.5 });
  for (const record of student.history) {
    assert.deepEqual(Object.keys(record.terms), names);
    for (const name of names) assert.ok(Number.isFinite(record.terms[name]) && record.terms[name] >= 0, `${name}: ${record.terms[name]}`);
    // CTKD's learned temperature stays within its range, τ ∈ (1, 21).
    assert.ok(
      record.state['ctkd.temperature'] > 1 && record.state['ctkd.temperature'] < 21,
      `temperature ${record.state['ctkd.temperature']}`,
    );
  }
  // The hint adapter (8 → 16 units) trained with the student but is not part of it.
  const modelJson = readFileSync(join(out, 'student/model.json'), 'utf8');
  assert.doesNotMatch(modelJson, /adapter/);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /linear 0\.9 → 0\.5 × kd \(temperature cosine 6 → 2\)/);

  // The same teacher and data again: logits and features come from the cache.
  const again = kdkit('run', config('all', allTerms), '--out', out);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /soft labels: cached/);
  assert.match(again.stdout, /teacher features \(dense_1, conv_1, penultimate, pool_1\): cached/);
});

test('a bad term exits 2 before training and names the field: method, tap, shapes, adapter, schedule', () => {
  const run = (name: string, terms: string, pattern: RegExp) => {
    const out = join(directory, `bad-${name}`);
    const result = kdkit('run', config(name, terms), '--out', out);
    assertBadInput(result, pattern, out);
    assert.doesNotMatch(result.stdout, /teacher epoch/, 'fails before training the teacher');
  };
  run(
    'method',
    '[{method: fitnet, weight: 1}]',
    /distill\.terms\[0\]\.method: unknown method 'fitnet'; known: kd, ce, dkd, hint, attention, rkd, sp, ctkd/,
  );
  run(
    'tap',
    '[{method: hint, weight: 1, student: dense_9, teacher: dense_1}]',
    /distill\.terms\[0\]\.student: no layer 'dense_9' in model 'check'; its layers are: conv_1, pool_1, flatten, dense_1, logits, penultimate/,
  );
  run(
    'shapes',
    '[{method: ce, weight: 1}, {method: hint, weight: 1, student: conv_1, teacher: dense_1}]',
    /distill\.terms\[1\]: no adapter can map the student's feature onto the teacher's \(student \[8, 8, 4\], teacher \[16\]\)/,
  );
  run(
    'adapter',
    '[{method: hint, weight: 1, student: dense_1, teacher: dense_1, adapter: none}]',
    /distill\.terms\[0\]: the features differ in shape \(student \[8\], teacher \[16\]\) and adapter is 'none'/,
  );
  run(
    'spatial',
    '[{method: attention, weight: 1, student: conv_1, teacher: pool_1}]',
    /distill\.terms\[0\]: the feature maps' heights and widths differ \(student \[8, 8, 4\], teacher \[4, 4, 8\]\)/,
  );
  run('schedule', '[{method: kd, weight: {schedule: linear, from: 1, to: -1}}]', /distill\.terms\[0\]\.weight: the schedule reaches -1/);
  run('missing', '[{method: rkd, weight: 1, student: penultimate}]', /distill\.terms\[0\]\.teacher: expected string, received undefined/);
});

test('a teacher-assistant chain and a born-again generation: every model is trained, evaluated, saved and reported', () => {
  const out = join(directory, 'chain');
  const path = config(
    'chain',
    '[{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]',
    [
      'stages:',
      '  - {model: teacher, epochs: 1}',
      '  - {model: {type: cnn, filters: [6], dense: [12]}, terms: [{method: kd, weight: 1}, {method: hint, weight: 1, student: dense_1, teacher: dense_1}]}',
    ].join('\n'),
  );
  const result = kdkit('run', path, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /soft labels of assistant-1: computed/);
  assert.match(result.stdout, /soft labels of assistant-2: computed/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(Object.keys(summary.models), ['teacher', 'assistant-1', 'assistant-2', 'student']);
  assert.deepEqual(
    summary.stages.map((stage: { name: string }) => stage.name),
    ['teacher', 'assistant-1', 'assistant-2', 'student'],
  );
  const [, born, assistant] = summary.stages;
  // Born-again: the teacher's architecture, one epoch, distill's terms.
  assert.equal(summary.models['assistant-1'].params, summary.models.teacher.params);
  assert.equal(born.epochs, 1);
  assert.deepEqual(
    born.terms.map((term: { method: string }) => term.method),
    ['kd', 'ce'],
  );
  assert.deepEqual(
    assistant.terms.map((term: { method: string }) => term.method),
    ['kd', 'hint'],
  );
  for (const name of ['assistant-1', 'assistant-2']) {
    assert.ok(existsSync(join(out, name, 'model.json')), `${name} saved`);
    assert.ok(summary.models[name].agreementWithTeacher > 0, `${name} agreement`);
  }
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /assistant-2/);
});

test('a chain term tapping a layer its own teacher lacks exits 2 and names the stage', () => {
  const out = join(directory, 'bad-chain');
  const path = config(
    'bad-chain',
    '[{method: kd, weight: 1}]',
    'stages:\n  - {model: {type: mlp, hidden: [6]}, terms: [{method: kd, weight: 1}]}\n',
  );
  writeFileSync(
    path,
    readFileSync(path, 'utf8').replace(
      'batchSize: 64, terms: [{method: kd, weight: 1}]',
      'batchSize: 64, terms: [{method: hint, weight: 1, student: dense_1, teacher: conv_1}]',
    ),
  );
  const result = kdkit('run', path, '--out', out);
  // The student's teacher is assistant-1, an MLP with no conv_1.
  assertBadInput(
    result,
    /distill\.terms\[0\]\.teacher: no layer 'conv_1' in model 'check'; its layers are: flatten, dense_1, logits, penultimate/,
    out,
  );
  const loaded = join(directory, 'loaded-born-again.yaml');
  writeFileSync(
    loaded,
    'dataset: {name: digits}\nteacher: {load: /nowhere}\nstudent: {model: {type: mlp, hidden: [4]}}\ndistill: {epochs: 1, terms: [{method: kd, weight: 1}]}\nstages: [{model: teacher}]\n',
  );
  assertBadInput(
    kdkit('run', loaded, '--out', join(directory, 'loaded')),
    /stages\[0\]\.model: 'teacher' repeats the teacher's architecture, which needs a teacher built from a model spec/,
    join(directory, 'loaded'),
  );
});
