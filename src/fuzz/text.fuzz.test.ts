// Fuzzes the text edge: damaged CSV, TSV and JSONL files of labelled texts (readTextRecords) and
// damaged tokenizer.json files, loaded and then used to encode (TextTokenizer). See
// mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { readTextRecords } from '../data/text/read.js';
import { TextTokenizer } from '../data/text/tokenizer.js';
import { bertTokenizerJson, trainWordPiece, WORDPIECE_DEFAULTS } from '../data/text/wordpiece.js';
import {
  applyByteMutations,
  applyValueMutations,
  byteMutations,
  expectParsedOrInputError,
  fuzzOptions,
  valueMutations,
} from './mutate.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-fuzz-text-'));
const encoder = new TextEncoder();
const seeds: [extension: string, text: string][] = [
  ['csv', 'id,text,label\n1,"Hello, world",greeting\n2,"She said ""hi""\nand left",story\n3,café crème,other\n'],
  ['tsv', 'label\ttext\nx\tmy card is lost\ny\t我的卡在哪里\n'],
  ['jsonl', '{"text": "one", "label": 3}\n\n{"label": "b", "text": "two 💳"}\n'],
];

test('readTextRecords: truncated, bit-flipped and spliced CSV, TSV and JSONL files are InputErrors naming the file', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations([], 256), async (seedIndex, mutations) => {
      inputs++;
      const [extension, text] = seeds[seedIndex % seeds.length];
      const bytes = applyByteMutations(encoder.encode(text), mutations);
      const path = join(directory, `fuzz.${extension}`);
      writeFileSync(path, bytes);
      await expectParsedOrInputError(path, bytes.length, () =>
        readTextRecords(path, { textField: 'text', labelField: 'label' }, 'dataset.train'),
      );
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`readTextRecords: ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

const sentences = ['where is my card?', 'Café crème — €20!', '我的卡', ''];
const tokenizerJson = bertTokenizerJson(
  trainWordPiece(['where is my card', 'my card is lost', 'café crème costs twenty euros'], {
    ...WORDPIECE_DEFAULTS,
    minFrequency: 0,
    vocabSize: 60,
  }),
  true,
);

/** Loads the file and encodes every sentence, as a text run does. */
function loadAndEncode(path: string): void {
  const tokenizer = TextTokenizer.load(path, 'dataset.tokenizer');
  tokenizer.encode(sentences, 8);
}

test('TextTokenizer: hostile values in a tokenizer.json are InputErrors naming the file, at load or at encoding', async (t) => {
  let inputs = 0;
  const path = join(directory, 'values-tokenizer.json');
  await fc.assert(
    fc.asyncProperty(valueMutations, async (mutations) => {
      inputs++;
      const text = JSON.stringify(applyValueMutations(tokenizerJson, mutations)) ?? 'null';
      writeFileSync(path, text);
      await expectParsedOrInputError(path, text.length, () => loadAndEncode(path));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`TextTokenizer (values): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('TextTokenizer: truncated and bit-flipped tokenizer.json bytes are InputErrors naming the file', async (t) => {
  let inputs = 0;
  const path = join(directory, 'bytes-tokenizer.json');
  const seed = encoder.encode(JSON.stringify(tokenizerJson));
  await fc.assert(
    fc.asyncProperty(byteMutations([], 256), async (mutations) => {
      inputs++;
      const bytes = applyByteMutations(seed, mutations);
      writeFileSync(path, bytes);
      await expectParsedOrInputError(path, bytes.length, () => loadAndEncode(path));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`TextTokenizer (bytes): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});
