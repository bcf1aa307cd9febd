"""Tokenizer fixtures for src/data/text/tokenizer.test.ts, from Hugging Face's own `tokenizers`.

Trains two small tokenizers on Banking77's training split (data/banking77/train.csv), the way a
BERT and a RoBERTa tokenizer are built, saves each as the tokenizer.json Hugging Face tools write,
and encodes a set of sentences with truncation and padding to a fixed length, so that the tests
compare kdkit's ids, attention masks and token type ids with Hugging Face's:

- test/fixtures/text/wordpiece-tokenizer.json: BERT's pipeline (BertNormalizer with lowercasing and
  accent stripping, BertPreTokenizer, WordPiece with '##', [CLS] $A [SEP] with type ids);
- test/fixtures/text/bpe-tokenizer.json: RoBERTa's (byte-level BPE, <s> $A </s>);
- test/fixtures/text/tokenizer-ids.json: per tokenizer, each sentence's ids, attention_mask and
  type ids at max_length 16;
- test/fixtures/text/wordpiece-vocab.json: the tokens WordPieceTrainer learns with
  BertWordPieceTokenizer.train's defaults (min_frequency 2, limit_alphabet 1000) at vocab_size 8000,
  for kdkit's trainer (src/data/text/wordpiece.ts) to match.

Needs the Python package `tokenizers` (0.22.2 was used: pip install tokenizers==0.22.2); run from
the repository root: python3 scripts/make_tokenizer_fixture.py
"""
import csv
import json
import os

import tokenizers
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'text')
MAX_LENGTH = 16

with open(os.path.join(ROOT, 'data', 'banking77', 'train.csv'), encoding='utf-8', newline='') as file:
    texts = [row['text'] for row in csv.DictReader(file)]


def wordpiece():
    tokenizer = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=1500, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'])
    tokenizer.train_from_iterator(texts, trainer)
    cls, sep = tokenizer.token_to_id('[CLS]'), tokenizer.token_to_id('[SEP]')
    tokenizer.post_processor = processors.TemplateProcessing(
        single='[CLS] $A [SEP]', pair='[CLS] $A [SEP] $B:1 [SEP]:1', special_tokens=[('[CLS]', cls), ('[SEP]', sep)]
    )
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id('[PAD]'), pad_token='[PAD]', length=MAX_LENGTH)
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return tokenizer


def bpe():
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1200, special_tokens=['<s>', '<pad>', '</s>', '<unk>'], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.post_processor = processors.RobertaProcessing(('</s>', tokenizer.token_to_id('</s>')), ('<s>', tokenizer.token_to_id('<s>')))
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id('<pad>'), pad_token='<pad>', length=MAX_LENGTH)
    tokenizer.enable_truncation(max_length=MAX_LENGTH)
    return tokenizer


def wordpiece_defaults():
    tokenizer = Tokenizer(models.WordPiece(unk_token='[UNK]'))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(
        vocab_size=8000, min_frequency=2, limit_alphabet=1000, special_tokens=['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    )
    tokenizer.train_from_iterator(texts, trainer)
    # Ids among tokens merged from equally frequent pairs follow a hash map's order in Hugging Face's trainer; the set does not.
    return sorted(tokenizer.get_vocab())


with open(os.path.join(OUT, 'wordpiece-vocab.json'), 'w', encoding='utf-8') as file:
    file.write(json.dumps({'tokenizers': tokenizers.__version__, 'vocabSize': 8000, 'minFrequency': 2, 'limitAlphabet': 1000, 'tokens': wordpiece_defaults()}, ensure_ascii=False) + '\n')

# Short and long (truncated), punctuation, accents, capitals, CJK, emoji and an unseen character,
# digits and money, extra whitespace, a tab.
sentences = texts[:6] + [
    'Why was my card declined at the ATM yesterday, and can you please explain what happened to my account balance?',
    'Café crème: €20, ¥3000 — is that a fee?!',
    'HOW DO I TOP UP BY  CARD?',
    '我的卡在哪里',
    'my card 💳 got stuck ☃',
    "can't\tverify   my identity...",
    'x',
]

fixture = {'tokenizers': tokenizers.__version__, 'maxLength': MAX_LENGTH, 'sentences': sentences}
for name, tokenizer in [('wordpiece', wordpiece()), ('bpe', bpe())]:
    tokenizer.save(os.path.join(OUT, f'{name}-tokenizer.json'))
    encodings = tokenizer.encode_batch(sentences)
    fixture[name] = [{'ids': e.ids, 'attention_mask': e.attention_mask, 'type_ids': e.type_ids, 'tokens': e.tokens} for e in encodings]

with open(os.path.join(OUT, 'tokenizer-ids.json'), 'w', encoding='utf-8') as file:
    # One encoding a line, so that a change shows as the sentences it touches.
    lines = [f' {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}' for key, value in fixture.items() if key not in ('wordpiece', 'bpe')]
    for name in ('wordpiece', 'bpe'):
        rows = ',\n'.join(f'  {json.dumps(each, ensure_ascii=False)}' for each in fixture[name])
        lines.append(f' "{name}": [\n{rows}\n ]')
    file.write('{\n' + ',\n'.join(lines) + '\n}\n')
