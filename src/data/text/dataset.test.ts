import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { parseConfig } from '../../config/parse.js';
import { InputError } from '../../errors.js';
import { loadDataset } from '../index.js';
import { loadBanking77, loadTextParts, type TextDatasetSpec } from './dataset.js';
import { WORDPIECE_DEFAULTS } from './wordpiece.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-text-dataset-'));
const fixtures = fileURLToPath(new URL('../../../test/fixtures/text/', import.meta.url));

function file(name: string, content: string): string {
  const path = join(directory, name);
  writeFileSync(path, content);
  return path;
}

const spec = (overrides: Partial<TextDatasetSpec>): TextDatasetSpec => ({
  name: 'text',
  train: file('train.csv', 'text,label\nmy card is lost,10\nwhere is my card,2\nlost card again,10\nhello there,2\n'),
  test: file('test.csv', 'text,label\nmy card,2\n'),
  textField: 'text',
  labelField: 'label',
  tokenizer: join(fixtures, 'wordpiece-tokenizer.json'),
  maxLength: 8,
  ...overrides,
});

describe('text datasets', () => {
  it('tokenizes train and test into named int32 inputs, classes from the training labels', () => {
    const parts = loadTextParts(spec({}));
    // Integer labels sort as numbers: 2 before 10.
    assert.deepEqual(parts.train.classNames, ['2', '10']);
    assert.deepEqual(Array.from(parts.train.labels), [1, 0, 1, 0]);
    assert.deepEqual(
      parts.train.inputs.map(({ name, dtype, shape }) => `${name} ${dtype} ${shape}`),
      ['input_ids int32 8', 'attention_mask int32 8', 'token_type_ids int32 8'],
    );
    const sample = parts.test.samples.view!(0, 1);
    const cls = parts.tokenizer.tokenToId('[CLS]');
    const sep = parts.tokenizer.tokenToId('[SEP]');
    assert.deepEqual(Array.from(sample.input_ids), [
      cls,
      parts.tokenizer.tokenToId('my'),
      parts.tokenizer.tokenToId('card'),
      sep,
      0,
      0,
      0,
      0,
    ]);
    assert.deepEqual(Array.from(sample.attention_mask), [1, 1, 1, 1, 0, 0, 0, 0]);
  });

  it('takes the classes a config lists, and names the file and line of a label not among them', () => {
    const parts = loadTextParts(spec({ classes: ['10', '2', '7'] }));
    assert.deepEqual(Array.from(parts.train.labels), [0, 1, 0, 1]);
    assert.equal(parts.test.numClasses, 3);
    const unknown = (overrides: Partial<TextDatasetSpec>, message: RegExp) =>
      assert.throws(
        () => loadTextParts(spec(overrides)),
        (error: unknown) => error instanceof InputError && message.test(error.message),
      );
    unknown({ classes: ['10', '7'] }, /train\.csv line 3: label '2' is not one of the 2 in dataset\.classes/);
    unknown(
      { test: file('stray.csv', 'text,label\nok,2\nfine,2\nodd,3\n') },
      /stray\.csv line 4: label '3' is not one of the training split's labels/,
    );
    unknown({ classes: ['2', '2'] }, /dataset\.classes: '2' is listed twice/);
    unknown({ train: file('one.csv', 'text,label\na,x\nb,x\n') }, /every record has the label 'x'; a classifier needs at least 2 classes/);
  });

  it('learns a WordPiece vocabulary from the training split when told to', () => {
    const parts = loadTextParts(spec({ tokenizer: { train: 'wordpiece', ...WORDPIECE_DEFAULTS, minFrequency: 0, vocabSize: 40 } }));
    assert.ok(parts.tokenizer.vocabSize <= 40);
    assert.equal(parts.tokenizer.decode(Array.from(parts.test.samples.view!(0, 1).input_ids)), 'my card');
  });

  it('embeds Banking77: 10,003 and 3,080 queries in its 77 intents', () => {
    const parts = loadBanking77(join(fixtures, 'wordpiece-tokenizer.json'), 64);
    assert.equal(parts.train.labels.length, 10003);
    assert.equal(parts.test.labels.length, 3080);
    assert.equal(parts.train.numClasses, 77);
    // categories.json's order; the test CSV's first query is "How do I locate my card?" (card_arrival).
    assert.equal(parts.train.classNames[0], 'card_arrival');
    assert.equal(parts.test.labels[0], 0);
    assert.equal(parts.tokenizer.decode(Array.from(parts.test.samples.view!(0, 1).input_ids)), 'how do i locate my card?');
    // Every test intent has 40 queries.
    const counts = new Array<number>(77).fill(0);
    for (const label of parts.test.labels) counts[label]++;
    assert.deepEqual(new Set(counts), new Set([40]));
    const splits = loadDataset({ name: 'banking77', tokenizer: join(fixtures, 'wordpiece-tokenizer.json') }, 1);
    assert.deepEqual([splits.train.labels.length, splits.validation.labels.length], [9003, 1000]);
    assert.equal(splits.tokenizer?.vocabSize, parts.tokenizer.vocabSize);
  });

  it('refuses augmentation on text, naming the field', () => {
    const config = {
      dataset: { name: 'banking77', augment: { flip: 'horizontal' } },
      teacher: { model: { type: 'mlp' } },
      student: { model: { type: 'mlp' } },
      distill: { epochs: 1, terms: [{ method: 'ce' }] },
    };
    assert.throws(() => parseConfig(config), /dataset\.augment: crop and flip change images; a text dataset takes no augment/);
  });
});
