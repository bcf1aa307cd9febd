import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TextTokenizer } from '../data/text/tokenizer.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-text-run-'));

/** A small intent set: 3 classes, 60 training and 12 test queries. */
function files(): { train: string; test: string } {
  const intents = {
    card: ['where is my card', 'my card has not arrived', 'when will my new card come', 'card still not here'],
    refund: ['i want a refund', 'how do i get my money back', 'refund my payment please', 'can you return my money'],
    pin: ['i forgot my pin', 'how to change my pin', 'reset the pin code', 'my pin is blocked'],
  };
  const rows = (count: number) =>
    Array.from({ length: count }, (_, i) => {
      const [label, texts] = Object.entries(intents)[i % 3];
      return `"${texts[i % 4]}${i % 2 ? ', please' : ''}",${label}`;
    });
  const train = join(directory, 'train.csv');
  const test = join(directory, 'test.csv');
  writeFileSync(train, ['text,intent', ...rows(60)].join('\n'));
  writeFileSync(test, ['text,intent', ...rows(12)].join('\n'));
  return { train, test };
}

test('a text run: a transformer teacher distilled into an embedding bag, with the learned tokenizer written beside the student', () => {
  const { train, test: testFile } = files();
  const config = join(directory, 'text.yaml');
  writeFileSync(
    config,
    [
      'seed: 2',
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, validation: 6, maxLength: 12, tokenizer: {train: wordpiece, vocabSize: 60, minFrequency: 1}}`,
      'teacher: {model: {type: transformer, layers: 1, hidden: 16, heads: 2, intermediate: 32}, epochs: 2, batchSize: 16}',
      'student: {model: {type: embeddingbag, dimensions: 8}}',
      'distill: {epochs: 2, batchSize: 16, preset: hinton}',
      'export: {onnx: false}',
    ].join('\n'),
  );
  const out = join(directory, 'run');
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /input_ids, attention_mask, token_type_ids \[12\] \(\d+ tokens, WordPiece learned from the training split\)/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.dataset.classNames, ['card', 'pin', 'refund']);
  assert.equal(summary.dataset.sampleShape, undefined);
  assert.equal(summary.artifacts.tokenizer, 'tokenizer.json');
  assert.deepEqual(Object.keys(summary.models).sort(), ['scratch', 'student', 'teacher']);
  // The written tokenizer is the one the run encoded with.
  const tokenizer = TextTokenizer.load(join(out, 'tokenizer.json'), 'test');
  assert.equal(tokenizer.decode(tokenizer.ids('Where is my CARD', 12).ids), 'where is my card');
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /input_ids, attention_mask, token_type_ids: int32 tensors \[batch, 12\]/);
});

test('a text dataset with a label the training split lacks is exit 2 naming the file and line', () => {
  const { train } = files();
  const test = join(directory, 'stray.csv');
  writeFileSync(test, 'text,intent\nwhere is my card,card\nclose my account,closing\n');
  const config = join(directory, 'stray.yaml');
  writeFileSync(
    config,
    `dataset: {name: text, train: ${train}, test: ${test}, labelField: intent}\nteacher: {model: {type: embeddingbag}, epochs: 1}\nstudent: {model: {type: embeddingbag}}\ndistill: {epochs: 1, preset: hinton}\n`,
  );
  assertBadInput(
    kdkit('run', config, '--out', join(directory, 'stray')),
    /stray\.csv line 3: label 'closing' is not one of the training split's labels/,
  );
});
