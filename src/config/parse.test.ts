import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { onlineSoftLabels, parseConfig } from './parse.js';
import { loadConfigFile } from './load.js';

const valid = {
  seed: 1,
  backend: 'wasm',
  dataset: { name: 'fashion-mnist', path: '/usr/share/datasets/fashion-mnist', validation: 5000 },
  teacher: {
    model: { type: 'cnn', filters: [32, 64], dense: [256], dropout: 0.3 },
    epochs: 10,
    batchSize: 128,
    optimizer: { type: 'adam', learningRate: 0.001 },
  },
  student: { model: { type: 'mlp', hidden: [32] } },
  baseline: true,
  distill: {
    epochs: 20,
    batchSize: 128,
    optimizer: { type: 'adam', learningRate: 0.001 },
    terms: [
      { method: 'kd', weight: 0.9, temperature: 4 },
      { method: 'ce', weight: 0.1 },
    ],
  },
};

function rejects(input: unknown, pattern: RegExp): void {
  assert.throws(
    () => parseConfig(input, 'exp.yaml'),
    (error: unknown) => {
      assert.ok(error instanceof InputError, `expected InputError, got ${String(error)}`);
      assert.match(error.message, pattern);
      return true;
    },
  );
}

const withChange = (change: (config: typeof valid & Record<string, unknown>) => void) => {
  const copy = structuredClone(valid) as typeof valid & Record<string, unknown>;
  change(copy);
  return copy;
};

test('the schema example from the issue parses, with defaults filled in', () => {
  const config = parseConfig(valid);
  assert.equal(config.distill.terms[0].method, 'kd');
  assert.deepEqual(config.distill.terms[0].options, { temperature: 4 });
  assert.deepEqual(config.distill.terms[1].options, {});
  const teacher = config.teacher as { model: { type: string; kernelSize?: number; batchNorm?: boolean } };
  assert.equal(teacher.model.kernelSize, 3);
  assert.equal(teacher.model.batchNorm, false);
});

test('a loaded teacher is accepted instead of a trained one', () => {
  const config = parseConfig(withChange((c) => ((c as Record<string, unknown>).teacher = { load: 'runs/x/teacher/model.json' })));
  assert.deepEqual(config.teacher, { load: 'runs/x/teacher/model.json' });
});

test('a loaded student defaults to random initial weights; init names its choices; stages take specs only', () => {
  const config = parseConfig(withChange((c) => ((c as Record<string, unknown>).student = { load: 'students/resnet' })));
  assert.deepEqual(config.student, { load: 'students/resnet', init: 'random' });
  rejects(
    withChange((c) => ((c as Record<string, unknown>).student = { load: 'students/resnet', init: 'pretrained' })),
    /student\.init: .*"random"\|"weights"/,
  );
  rejects(
    withChange((c) => ((c as Record<string, unknown>).student = { load: '' })),
    /student\.load: Too small/,
  );
  rejects(
    withChange((c) => ((c as Record<string, unknown>).student = { load: 'a', model: { type: 'mlp' } })),
    /student\.(load|model): unknown key/,
  );
  rejects(
    withChange((c) => ((c as Record<string, unknown>).stages = [{ model: { load: 'students/resnet' } }])),
    /stages\[0\]\.model/,
  );
});

test('an unknown top-level key is named', () =>
  rejects(
    withChange((c) => (c.epochs = 3)),
    /exp\.yaml[\s\S]*epochs: unknown key/,
  ));
test('an unknown nested key is named with its path', () =>
  rejects(
    withChange((c) => ((c.student.model as Record<string, unknown>).hiden = [3])),
    /student\.model\.hiden: unknown key/,
  ));
test('a value of the wrong type names the field and the expected type', () =>
  rejects(
    withChange((c) => ((c.distill as Record<string, unknown>).epochs = 'twenty')),
    /distill\.epochs: expected number, received string/,
  ));
test('an array element of the wrong type names its index', () =>
  rejects(
    withChange((c) => ((c.teacher.model.filters as unknown[])[1] = 'x')),
    /teacher\.model\.filters\[1\]: expected number/,
  ));
test('an unknown model type lists the known ones', () =>
  rejects(
    withChange((c) => ((c.student.model as Record<string, unknown>).type = 'vit')),
    /student\.model\.type[\s\S]*mlp[\s\S]*cnn/,
  ));
test('an unknown method lists the known ones', () =>
  rejects(
    withChange((c) => (c.distill.terms[0].method = 'kdd')),
    /distill\.terms\[0\]\.method: unknown method 'kdd'; known: kd, ce/,
  ));
test("a method's own options are validated", () =>
  rejects(
    withChange((c) => (c.distill.terms[0].temperature = -1)),
    /distill\.terms\[0\]\.temperature: Too small/,
  ));
test('an option a method does not take is an unknown key', () =>
  rejects(
    withChange((c) => ((c.distill.terms[1] as Record<string, unknown>).temperature = 2)),
    /distill\.terms\[1\]\.temperature: unknown key/,
  ));
test('a missing required field is named', () =>
  rejects(
    withChange((c) => delete (c as Partial<typeof valid>).student),
    /student: expected object, received undefined/,
  ));
test('an unknown dataset and backend are named', () => {
  rejects(
    withChange((c) => ((c.dataset as Record<string, unknown>).name = 'cifar')),
    /dataset\.name/,
  );
  rejects(
    withChange((c) => (c.backend = 'webgl')),
    /backend/,
  );
});

test('YAML files: invalid syntax, duplicate keys and unreadable files are InputErrors naming the file', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-config-'));
  const broken = join(directory, 'broken.yaml');
  writeFileSync(broken, 'seed: 1\ndataset: {name: digits\n');
  assert.throws(
    () => loadConfigFile(broken),
    (error: unknown) => error instanceof InputError && error.message.startsWith(`${broken}: not valid YAML`),
  );
  const duplicate = join(directory, 'dup.yaml');
  writeFileSync(duplicate, 'seed: 1\nseed: 2\n');
  assert.throws(
    () => loadConfigFile(duplicate),
    (error: unknown) => error instanceof InputError && /dup\.yaml: not valid YAML[\s\S]*unique/i.test(error.message),
  );
  assert.throws(
    () => loadConfigFile(join(directory, 'missing.yaml')),
    (error: unknown) => error instanceof InputError && /missing\.yaml: cannot read config file: no such file/.test(error.message),
  );
});

test('YAML tags that would construct objects are refused', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-config-'));
  const tagged = join(directory, 'tagged.yaml');
  writeFileSync(tagged, 'seed: !!js/function "function () { return 1 }"\n');
  assert.throws(() => loadConfigFile(tagged), InputError);
});

test('distill.preset expands into terms; it and terms exclude each other; an unknown preset lists the known ones', () => {
  const { terms: _terms, ...withoutTerms } = valid.distill;
  const adaptive = parseConfig({ ...valid, distill: { ...withoutTerms, preset: 'adaptive' } });
  assert.deepEqual(adaptive.distill.terms, [
    { method: 'kd', weight: { schedule: 'cosine', from: 0.9, to: 0.1 }, options: { temperature: 4 } },
    { method: 'ce', weight: { schedule: 'cosine', from: 0.1, to: 0.9 }, options: {} },
  ]);
  rejects(
    { ...valid, distill: { ...valid.distill, preset: 'adaptive' } },
    /distill\.terms: give either terms or preset, not both and not neither/,
  );
  rejects({ ...valid, distill: withoutTerms }, /distill\.terms: give either terms or preset/);
  rejects(
    { ...valid, distill: { ...withoutTerms, preset: 'magic' } },
    /exp\.yaml: distill\.preset: unknown preset 'magic'; known: adaptive, hinton/,
  );
});

test("stages inherit distill's training fields and terms unless they give their own", () => {
  const config = parseConfig({
    ...valid,
    stages: [{ model: 'teacher' }, { model: { type: 'mlp', hidden: [64] }, epochs: 3, terms: [{ method: 'dkd', weight: 1 }] }],
  });
  assert.equal(config.stages[0].epochs, 20);
  assert.deepEqual(config.stages[0].terms, config.distill.terms);
  assert.equal(config.stages[1].epochs, 3);
  assert.deepEqual(config.stages[1].terms, [{ method: 'dkd', weight: 1, options: { alpha: 1, beta: 8, temperature: 4 } }]);
  rejects(
    { ...valid, stages: [{ model: { type: 'mlp' }, terms: [{ method: 'kd', weight: 1, temperature: -1 }] }] },
    /stages\[0\]\.terms\[0\]\.temperature/,
  );
});

test('softLabels: online is short for {mode: online}; without a mode, augmentation makes labels online', () => {
  assert.equal(parseConfig(withChange((c) => ((c as Record<string, unknown>).softLabels = 'online'))).softLabels.mode, 'online');
  const augmented = parseConfig(withChange((c) => Object.assign(c.dataset, { augment: { flip: 'horizontal' } })));
  assert.equal(augmented.softLabels.mode, undefined);
  assert.equal(onlineSoftLabels(augmented), true);
  assert.equal(onlineSoftLabels(parseConfig(valid)), false);
  rejects(
    withChange((c) => ((c as Record<string, unknown>).softLabels = 'sometimes')),
    /softLabels/,
  );
});

test('an optimizer takes weight decay and a learning-rate schedule; bad ones name their field', () => {
  const recipe = {
    type: 'momentum',
    momentum: 0.9,
    weightDecay: 5e-4,
    learningRate: { schedule: 'step', values: [0.05, 0.005, 0.0005, 0.00005], at: [0.625, 0.75, 0.875] },
  };
  const parsed = parseConfig(
    withChange((c) => ((c.distill as Record<string, unknown>).optimizer = recipe)),
    'exp.yaml',
  );
  assert.deepEqual(parsed.distill.optimizer, recipe);
  rejects(
    withChange((c) => ((c.distill as Record<string, unknown>).optimizer = { type: 'adamw', weightDecay: 1.5 })),
    /distill\.optimizer\.weightDecay/,
  );
  rejects(
    withChange((c) => ((c.distill as Record<string, unknown>).optimizer = { learningRate: { schedule: 'cosine', from: 0.1, to: -0.1 } })),
    /distill\.optimizer\.learningRate: the schedule reaches -0\.1/,
  );
  rejects(
    withChange((c) => ((c.distill as Record<string, unknown>).optimizer = { type: 'lion' })),
    /distill\.optimizer\.type/,
  );
});
