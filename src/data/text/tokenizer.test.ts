import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { readFileSync } from 'node:fs';
import { InputError } from '../../errors.js';
import { TextTokenizer } from './tokenizer.js';

// Ids, masks and type ids from Hugging Face's Python tokenizers (scripts/make_tokenizer_fixture.py).
const fixtures = fileURLToPath(new URL('../../../test/fixtures/text/', import.meta.url));
interface Encoding {
  ids: number[];
  attention_mask: number[];
  type_ids: number[];
}
const expected = JSON.parse(readFileSync(join(fixtures, 'tokenizer-ids.json'), 'utf8')) as {
  maxLength: number;
  sentences: string[];
  wordpiece: Encoding[];
  bpe: Encoding[];
};

describe('TextTokenizer matches Hugging Face tokenizers (truncation and padding at 16)', () => {
  for (const kind of ['wordpiece', 'bpe'] as const) {
    it(`${kind}: every sentence's ids, attention mask and type ids`, () => {
      const tokenizer = TextTokenizer.load(join(fixtures, `${kind}-tokenizer.json`), 'dataset.tokenizer');
      const { maxLength, sentences } = expected;
      const encoded = tokenizer.encode(sentences, maxLength);
      sentences.forEach((sentence, i) => {
        const row = (values: Int32Array) => Array.from(values.subarray(i * maxLength, (i + 1) * maxLength));
        assert.deepEqual(row(encoded.input_ids), expected[kind][i].ids, `ids of ${JSON.stringify(sentence)}`);
        assert.deepEqual(row(encoded.attention_mask), expected[kind][i].attention_mask, `mask of ${JSON.stringify(sentence)}`);
        if (kind === 'wordpiece') assert.deepEqual(row(encoded.token_type_ids!), expected[kind][i].type_ids);
      });
      // BERT's template makes segment ids, RoBERTa's model takes none.
      assert.equal(encoded.token_type_ids !== undefined, kind === 'wordpiece');
      assert.deepEqual(
        tokenizer.fields(maxLength).map((field) => field.name),
        kind === 'wordpiece' ? ['input_ids', 'attention_mask', 'token_type_ids'] : ['input_ids', 'attention_mask'],
      );
    });
  }

  it('keeps the special tokens when maxLength cuts the text to one token', () => {
    const tokenizer = TextTokenizer.load(join(fixtures, 'wordpiece-tokenizer.json'), 'dataset.tokenizer');
    const cls = tokenizer.tokenToId('[CLS]')!;
    const sep = tokenizer.tokenToId('[SEP]')!;
    const { ids } = tokenizer.ids('I am still waiting on my card?', 3);
    assert.deepEqual(ids, [cls, expected.wordpiece[0].ids[1], sep]);
    assert.throws(
      () => tokenizer.ids('I am still waiting on my card?', 2),
      /maxLength 2 leaves no room for text beside the 2 special tokens/,
    );
  });

  it('names the file for what is not a tokenizer.json', () => {
    const directory = mkdtempSync(join(tmpdir(), 'kdkit-tokenizer-'));
    const cases: [string, string, RegExp][] = [
      ['broken.json', '{"model": ', /dataset\.tokenizer: .*broken\.json is not JSON/],
      ['other.json', '{"vocab": []}', /other\.json is not a tokenizer\.json \(no 'model' section\)/],
      [
        'nopad.json',
        JSON.stringify({
          ...{ normalizer: null, pre_tokenizer: { type: 'Whitespace' }, post_processor: null, decoder: null, added_tokens: [] },
          model: { type: 'WordLevel', vocab: { a: 0, '[UNK]': 1 }, unk_token: '[UNK]' },
        }),
        /dataset\.tokenizer: .*nopad\.json: no padding token/,
      ],
    ];
    cases.push(
      [
        'bigid.json',
        JSON.stringify({ model: { type: 'WordPiece', vocab: { a: 2 ** 53 } } }),
        /bigid\.json: a token id 9007199254740992 is not an integer in 0 … 16777215/,
      ],
      [
        'pairs.json',
        JSON.stringify({
          model: {
            type: 'Unigram',
            vocab: [
              ['a', 0],
              [5, -1],
            ],
          },
        }),
        /pairs\.json: model\.vocab\[1\] is not a \[token, score\] pair/,
      ],
    );
    for (const [name, content, message] of cases) {
      writeFileSync(join(directory, name), content);
      assert.throws(
        () => TextTokenizer.load(join(directory, name), 'dataset.tokenizer'),
        (error: unknown) => error instanceof InputError && message.test(error.message),
      );
    }
    assert.throws(
      () => TextTokenizer.load(join(directory, 'missing.json'), 'dataset.tokenizer'),
      /dataset\.tokenizer: cannot read .*missing\.json: no such file/,
    );
  });
});
