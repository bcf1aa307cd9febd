// Fuzzes the experiment config's edge: damaged YAML text, hostile values in a parsed config, and
// YAML built to exhaust memory or stack. See mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { InputError } from '../errors.js';
import { parseConfig, parseConfigText } from '../config/parse.js';
import { loadConfigFile } from '../config/load.js';
import {
  applyByteMutations,
  applyValueMutations,
  byteMutations,
  expectParsedOrInputError,
  fuzzOptions,
  valueMutations,
} from './mutate.test.util.js';

const seeds: unknown[] = [
  {
    seed: 1,
    backend: 'wasm',
    dataset: { name: 'fashion-mnist', path: '/data/fashion-mnist', validation: 5000 },
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
      terms: [
        { method: 'kd', weight: 0.9, temperature: 4 },
        { method: 'ce', weight: 0.1 },
      ],
    },
  },
  {
    dataset: { name: 'digits' },
    teacher: { onnx: 'teacher.onnx', preprocessing: { inputLayout: 'nchw', normalize: { mean: [0.5], std: [0.25] } } },
    student: { model: { type: 'mlp', hidden: [16] } },
    distill: { epochs: 3, preset: 'adaptive' },
  },
];
const seedTexts = seeds.map((seed) => new TextEncoder().encode(stringify(seed)));

test('parseConfig: hostile values anywhere in a config are InputErrors naming the source', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat(), valueMutations, async (seedIndex, mutations) => {
      inputs++;
      const input = applyValueMutations(seeds[seedIndex % seeds.length], mutations);
      await expectParsedOrInputError('fuzz.yaml', 0, () => parseConfig(input, 'fuzz.yaml'));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`parseConfig (values): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('parseConfigText: truncated, bit-flipped and spliced YAML is an InputError naming the file', async (t) => {
  let inputs = 0;
  // Short duplicated slices: a config is small, and a 256 KiB one only spends time in the YAML parser.
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations([], 64), async (seedIndex, mutations) => {
      inputs++;
      const text = new TextDecoder().decode(applyByteMutations(seedTexts[seedIndex % seedTexts.length], mutations));
      await expectParsedOrInputError('fuzz.yaml', text.length, () => parseConfigText(text, 'fuzz.yaml'));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`parseConfigText (YAML bytes): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

const rejects = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseConfigText(text, 'bomb.yaml'),
    (error: unknown) => {
      assert.ok(error instanceof InputError, String(error));
      assert.match(error.message, pattern);
      return true;
    },
  );

test('a billion-laughs alias bomb is an InputError, not a ReferenceError or a memory blow-up', () => {
  const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
  for (let level = 1; level < 9; level++) {
    const previous = String.fromCharCode(96 + level);
    levels.push(`${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(9).fill(`*${previous}`).join(', ')}]`);
  }
  rejects(levels.join('\n'), /bomb\.yaml: not a usable YAML document \(Excessive alias count/);
});

test('YAML nested 5000 deep is an InputError', () => {
  rejects(`seed: ${'['.repeat(5000)}${']'.repeat(5000)}`, /bomb\.yaml: not valid YAML/);
  rejects(Array.from({ length: 5000 }, (_, depth) => `${' '.repeat(depth)}k${depth}:`).join('\n'), /bomb\.yaml/);
});

test('a config file over 1 MiB is refused before it is parsed', () => {
  const path = join(mkdtempSync(join(tmpdir(), 'kdkit-fuzz-config-')), 'huge.yaml');
  writeFileSync(path, `seed: 1\n# ${'x'.repeat(2 * 1024 * 1024)}\n`);
  assert.throws(
    () => loadConfigFile(path),
    (error: unknown) =>
      error instanceof InputError &&
      /huge\.yaml: cannot read config file: it has \d+ bytes, more than the 1048576 kdkit reads for it/.test(error.message),
  );
});
