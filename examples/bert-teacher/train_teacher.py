#!/usr/bin/env python3
"""Train a BERT-style teacher from scratch on Banking77 and export it to ONNX as a fine-tuned
Hugging Face BertForSequenceClassification would be exported, with the intermediate outputs that
feature-distillation methods (TinyBERT, MiniLM) read.

    /tmp/venv/bin/python examples/bert-teacher/train_teacher.py [--epochs N] [--lr LR] [--seed S] [--out DIR]

(/tmp/venv: `/usr/bin/python3 -m venv --system-site-packages /tmp/venv`, which sees Debian's
python3-torch 1.13, plus `tokenizers` and, for the check only, `onnxruntime`; see README.md.)

Steps:
  1. Tokenizer. A WordPiece vocabulary learned from the Banking77 TRAIN texts only, as Hugging Face's
     BertWordPieceTokenizer(lowercase=True).train does (BertNormalizer, BertPreTokenizer, WordPiece
     with '##', vocab_size 8000, min_frequency 2, limit_alphabet 1000, special tokens [PAD] [UNK]
     [CLS] [SEP] [MASK] = ids 0-4), with BERT's post-processor ([CLS] ... [SEP], token type 0).
     Saved as tokenizer.json with padding and truncation disabled (kdkit sets its own).
     Hugging Face's trainer is not deterministic (huggingface/tokenizers#1794: the '##' tokens get
     their ids in hash-map order, and ids break ties between equally frequent pairs), so two
     trainings can give vocabularies that differ in a few tokens (2,781 or 2,782 here). An existing
     tokenizer.json in --out is therefore reused, so that the teacher, the baselines and the
     tokenizer.json kdkit reads agree; --new-tokenizer learns it again.
  2. Model. BertForSequenceClassification's arithmetic restated in plain torch.nn (transformers
     needs a newer torch), with the same module names, so state_dict() keys are Hugging Face's
     (bert.embeddings.word_embeddings.weight, bert.encoder.layer.0.attention.self.query.weight,
     ..., classifier.weight):
       - BertEmbeddings: word (padding_idx 0) + token type (2) + absolute position (128)
         embeddings, LayerNorm (eps 1e-12), dropout;
       - BertLayer x 4, post-LN: self-attention (4 heads of 64, scores / sqrt(64) plus the additive
         mask (1 - mask) * -10000.0 of get_extended_attention_mask, softmax, dropout), dense +
         dropout + residual + LayerNorm, then dense 1024 + exact (erf) GELU, dense 256 + dropout
         + residual + LayerNorm;
       - BertPooler: tanh(dense(hidden[:, 0])), on [CLS]; dropout; classifier dense to 77.
     Hidden 256, intermediate 1024, dropout 0.1 everywhere (hidden and attention probabilities).
     BERT's _init_weights: Linear and Embedding weights normal(0, 0.02), biases 0, the padding
     row 0, LayerNorm weight 1 and bias 0.
  3. Training. From scratch on all 10,003 training queries: cross-entropy, AdamW (weight decay
     0.01, none on biases and LayerNorm weights), linear warmup over the first 10 % of steps then
     linear decay to 0, gradient norm clipped at 1, batch 32, one thread. Sequences are truncated
     to 64 tokens as Hugging Face truncates ([CLS] and [SEP] kept). For speed each batch is padded
     only to its longest query, and batches are grouped by length (as Trainer's group_by_length:
     shuffled blocks of 50 batches, sorted by length within a block, then the batches shuffled);
     under the additive mask a padded key's probability is exp(-10000 + ...) = 0 in float32, so
     this computes what padding to 64 computes. The script checks that at the end: the test set
     padded to 64, as kdkit feeds it, gives the same predictions.
     Two options, both off by default: --mask-prob P replaces each of a training query's own
     tokens by [MASK] with probability P (augmentation; 0.15 for 20 epochs measured 90.06 %
     against 88.77 % without), and --mlm-epochs N first pretrains the encoder as a masked language
     model on the training queries themselves (BERT's 15 % / 80-10-10 masking, a tied
     BertOnlyMLMHead that is not exported; 10 MLM epochs + 15 epochs at --mask-prob 0.15
     measured 89.19 %).
  4. Export. torch.onnx.export of the eval-mode model (dropout off), opset 14, weights float32
     inline. Inputs input_ids, attention_mask, token_type_ids: int64 [batch, sequence]. Outputs, in
     this order:
       logits                       [batch, 77]
       embeddings                   [batch, sequence, 256]  the embedding LayerNorm's output
       layer_{i}.hidden             [batch, sequence, 256]  layer i's output, i = 1..4
       layer_{i}.attention_scores   [batch, 4, sequence, sequence]  pre-softmax, mask term included
                                    (what TinyBERT's modified BERT returns), after layer_{i}.hidden
       layer_4.query, layer_4.key, layer_4.value  [batch, sequence, 256]  the last layer's Q/K/V
                                    projections before the heads are split (MiniLM)
     Every batch and sequence axis is dynamic. The file is written to teacher.onnx.tmp, checked
     (onnx.checker; then onnxruntime, when installed, on test batches of several batch sizes and
     lengths against PyTorch, all outputs compared), and only then renamed to teacher.onnx.

Writes into --out (default: this directory), each atomically (to <name>.tmp, then renamed):
  tokenizer.json, teacher.onnx, pytorch-accuracy.json.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import random
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DATA = REPO / 'data' / 'banking77'

SPECIAL_TOKENS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
MASK_ID = 4
FIRST_TEXT_ID = len(SPECIAL_TOKENS)  # ids below are special tokens (never masked or drawn)
MAX_POSITIONS = 128
TYPE_VOCAB = 2
LAYER_NORM_EPS = 1e-12
INITIALIZER_RANGE = 0.02


# ----------------------------------------------------------------------------------------------
# Data and tokenizer


def load_split(name, data=DATA):
    """(texts, labels) of train.csv or test.csv; labels number the classes in categories.json's order."""
    categories = json.loads((data / 'categories.json').read_text(encoding='utf-8'))
    index = {category: i for i, category in enumerate(categories)}
    with open(data / f'{name}.csv', newline='', encoding='utf-8') as f:
        rows = list(csv.DictReader(f))
    unknown = {row['category'] for row in rows} - index.keys()
    if unknown:
        raise SystemExit(f'{name}.csv: categories not in categories.json: {sorted(unknown)}')
    return [row['text'] for row in rows], [index[row['category']] for row in rows], categories


def train_tokenizer(texts):
    """BertWordPieceTokenizer(lowercase=True).train(...) with BERT's post-processor attached.

    BertWordPieceTokenizer only attaches its BertProcessing post-processor when it is built from an
    existing vocabulary (it needs the ids of [CLS] and [SEP]); after training it has none, so it is
    attached here, as the tokenizer that from_file(vocab) would build has it.
    """
    from tokenizers import BertWordPieceTokenizer
    from tokenizers.processors import BertProcessing

    wrapper = BertWordPieceTokenizer(lowercase=True)  # clean_text, handle_chinese_chars, strip_accents=None
    wrapper.train_from_iterator(texts, vocab_size=8000, min_frequency=2, limit_alphabet=1000,
                                special_tokens=SPECIAL_TOKENS, show_progress=False)
    tokenizer = wrapper._tokenizer  # the tokenizers.Tokenizer inside the wrapper
    ids = [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS]
    assert ids == list(range(len(SPECIAL_TOKENS))), ids
    tokenizer.post_processor = BertProcessing(('[SEP]', ids[3]), ('[CLS]', ids[2]))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def save_tokenizer(tokenizer, path):
    """tokenizer.json, padding and truncation disabled; re-read with Tokenizer.from_file to be sure."""
    from tokenizers import Tokenizer

    tmp = f'{path}.tmp'
    tokenizer.save(tmp)
    saved = json.loads(Path(tmp).read_text(encoding='utf-8'))
    assert saved['padding'] is None and saved['truncation'] is None, 'padding/truncation must be off in the file'
    assert saved['post_processor']['type'] == 'BertProcessing'
    check = Tokenizer.from_file(tmp).encode('I am still waiting on my card?')
    assert check.tokens[0] == '[CLS]' and check.tokens[-1] == '[SEP]', check.tokens
    os.replace(tmp, path)


def load_tokenizer(path):
    """A tokenizer.json written by save_tokenizer (BERT's post-processor, no padding or truncation)."""
    from tokenizers import Tokenizer

    saved = json.loads(Path(path).read_text(encoding='utf-8'))
    if saved['padding'] is not None or saved['truncation'] is not None or (saved['post_processor'] or {}).get('type') != 'BertProcessing':
        raise SystemExit(f'{path}: not a tokenizer.json this script wrote; use --new-tokenizer to replace it')
    tokenizer = Tokenizer.from_file(str(path))
    assert [tokenizer.token_to_id(token) for token in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    return tokenizer


def encode(tokenizer, texts, max_length):
    """Token ids per text (lists, unpadded), truncated to max_length as Hugging Face truncates."""
    tokenizer.enable_truncation(max_length)  # in memory only; the saved file has it off
    try:
        encodings = tokenizer.encode_batch(texts)
    finally:
        tokenizer.no_truncation()
    for e in encodings:  # single sequences: every token type is 0
        assert not any(e.type_ids)
    return [e.ids for e in encodings]


def pad(sequences, length=None):
    """int64 input_ids, attention_mask, token_type_ids [len(sequences), length] padded with [PAD] (id 0)
    on the right; length defaults to the longest sequence."""
    length = length or max(len(s) for s in sequences)
    input_ids = torch.zeros(len(sequences), length, dtype=torch.int64)
    attention_mask = torch.zeros(len(sequences), length, dtype=torch.int64)
    for row, ids in enumerate(sequences):
        input_ids[row, :len(ids)] = torch.tensor(ids, dtype=torch.int64)
        attention_mask[row, :len(ids)] = 1
    return input_ids, attention_mask, torch.zeros_like(input_ids)


def length_grouped_batches(lengths, batch_size, generator, block=50):
    """One epoch's batches (lists of indices): a random permutation cut into blocks of `block`
    batches, each block sorted by length (longest first) and cut into batches, the batches shuffled.
    Like transformers' LengthGroupedSampler; it keeps padding small without fixing batch contents."""
    order = torch.randperm(len(lengths), generator=generator).tolist()
    batches = []
    size = block * batch_size
    for start in range(0, len(order), size):
        chunk = sorted(order[start:start + size], key=lambda i: -lengths[i])
        batches += [chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size)]
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


# ----------------------------------------------------------------------------------------------
# BertForSequenceClassification in torch.nn (module names as in transformers' modeling_bert.py)


class BertEmbeddings(nn.Module):
    def __init__(self, vocab_size, hidden, dropout):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab_size, hidden, padding_idx=0)
        self.position_embeddings = nn.Embedding(MAX_POSITIONS, hidden)
        self.token_type_embeddings = nn.Embedding(TYPE_VOCAB, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)
        # As in BertEmbeddings (non-persistent, so state_dict() holds only weights).
        self.register_buffer('position_ids', torch.arange(MAX_POSITIONS).expand((1, -1)), persistent=False)

    def forward(self, input_ids, token_type_ids):
        position_ids = self.position_ids[:, :input_ids.size(1)]
        embeddings = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        embeddings = embeddings + self.position_embeddings(position_ids)
        normed = self.LayerNorm(embeddings)
        return normed, self.dropout(normed)  # the LayerNorm output is the 'embeddings' output


class BertSelfAttention(nn.Module):
    def __init__(self, hidden, heads, dropout):
        super().__init__()
        self.num_attention_heads = heads
        self.attention_head_size = hidden // heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def transpose_for_scores(self, x):
        return x.view(x.size()[:-1] + (self.num_attention_heads, self.attention_head_size)).permute(0, 2, 1, 3)

    def forward(self, hidden_states, extended_mask):
        query, key, value = self.query(hidden_states), self.key(hidden_states), self.value(hidden_states)
        q, k, v = self.transpose_for_scores(query), self.transpose_for_scores(key), self.transpose_for_scores(value)
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size)
        scores = scores + extended_mask  # TinyBERT's 'attention': pre-softmax, mask included
        probs = self.dropout(F.softmax(scores, dim=-1))
        context = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        context = context.view(context.size()[:-2] + (query.size(-1),))
        return context, scores, (query, key, value)


class BertSelfOutput(nn.Module):
    """Also BertOutput's arithmetic: dense, dropout, residual, LayerNorm."""

    def __init__(self, units_in, hidden, dropout):
        super().__init__()
        self.dense = nn.Linear(units_in, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.dropout = nn.Dropout(dropout)

    def forward(self, hidden_states, input_tensor):
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    def __init__(self, hidden, heads, dropout):
        super().__init__()
        setattr(self, 'self', BertSelfAttention(hidden, heads, dropout))  # the module is named 'self' in BERT
        self.output = BertSelfOutput(hidden, hidden, dropout)

    def forward(self, hidden_states, extended_mask):
        context, scores, qkv = getattr(self, 'self')(hidden_states, extended_mask)
        return self.output(context, hidden_states), scores, qkv


class BertIntermediate(nn.Module):
    def __init__(self, hidden, intermediate):
        super().__init__()
        self.dense = nn.Linear(hidden, intermediate)

    def forward(self, hidden_states):
        return F.gelu(self.dense(hidden_states))  # exact erf GELU ('gelu' in BertConfig)


class BertLayer(nn.Module):
    def __init__(self, hidden, heads, intermediate, dropout):
        super().__init__()
        self.attention = BertAttention(hidden, heads, dropout)
        self.intermediate = BertIntermediate(hidden, intermediate)
        self.output = BertSelfOutput(intermediate, hidden, dropout)

    def forward(self, hidden_states, extended_mask):
        attention, scores, qkv = self.attention(hidden_states, extended_mask)
        return self.output(self.intermediate(attention), attention), scores, qkv


class BertEncoder(nn.Module):
    def __init__(self, layers, hidden, heads, intermediate, dropout):
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(hidden, heads, intermediate, dropout) for _ in range(layers)])


class BertPooler(nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, hidden_states):
        return torch.tanh(self.dense(hidden_states[:, 0]))  # the [CLS] token


class BertModel(nn.Module):
    def __init__(self, vocab_size, layers, hidden, heads, intermediate, dropout):
        super().__init__()
        self.embeddings = BertEmbeddings(vocab_size, hidden, dropout)
        self.encoder = BertEncoder(layers, hidden, heads, intermediate, dropout)
        self.pooler = BertPooler(hidden)


class BertForSequenceClassification(nn.Module):
    """BERT with a classifier on the pooled [CLS]. forward() returns the logits and, with
    features=True, a dict of every exported output (see OUTPUT_NAMES)."""

    def __init__(self, vocab_size, classes, layers=4, hidden=256, heads=4, intermediate=1024, dropout=0.1):
        super().__init__()
        assert hidden % heads == 0
        self.config = dict(vocab_size=vocab_size, num_labels=classes, num_hidden_layers=layers, hidden_size=hidden,
                           num_attention_heads=heads, intermediate_size=intermediate, hidden_dropout_prob=dropout,
                           attention_probs_dropout_prob=dropout, max_position_embeddings=MAX_POSITIONS,
                           type_vocab_size=TYPE_VOCAB, layer_norm_eps=LAYER_NORM_EPS, hidden_act='gelu',
                           initializer_range=INITIALIZER_RANGE, pad_token_id=0)
        self.bert = BertModel(vocab_size, layers, hidden, heads, intermediate, dropout)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden, classes)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module):
        """BertPreTrainedModel._init_weights."""
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=INITIALIZER_RANGE)
            module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=INITIALIZER_RANGE)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):
            module.bias.data.zero_()
            module.weight.data.fill_(1.0)

    def forward(self, input_ids, attention_mask, token_type_ids, features=False):
        normed, x = self.bert.embeddings(input_ids, token_type_ids)
        # BertModel.get_extended_attention_mask (the -10000.0 of transformers before 4.21)
        extended_mask = (1.0 - attention_mask[:, None, None, :].to(normed.dtype)) * -10000.0
        out = {'embeddings': normed}
        layers = self.bert.encoder.layer
        for i, layer in enumerate(layers, 1):
            x, scores, (query, key, value) = layer(x, extended_mask)
            out[f'layer_{i}.hidden'] = x
            out[f'layer_{i}.attention_scores'] = scores
            if i == len(layers):
                out[f'layer_{i}.query'], out[f'layer_{i}.key'], out[f'layer_{i}.value'] = query, key, value
        logits = self.classifier(self.dropout(self.bert.pooler(x)))
        return {'logits': logits, **out} if features else logits


def output_names(layers):
    names = ['logits', 'embeddings']
    for i in range(1, layers + 1):
        names += [f'layer_{i}.hidden', f'layer_{i}.attention_scores']
    return names + [f'layer_{layers}.{part}' for part in ('query', 'key', 'value')]


class ExportWrapper(nn.Module):
    """The model with its outputs as a tuple in OUTPUT_NAMES' order, for torch.onnx.export."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.names = output_names(len(model.bert.encoder.layer))

    def forward(self, input_ids, attention_mask, token_type_ids):
        out = self.model(input_ids, attention_mask, token_type_ids, features=True)
        return tuple(out[name] for name in self.names)


# ----------------------------------------------------------------------------------------------
# Training and evaluation


def linear_warmup_decay(optimizer, warmup_steps, total_steps):
    """transformers' get_linear_schedule_with_warmup."""
    def factor(step):
        if step < warmup_steps:
            return step / max(1, warmup_steps)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def adamw(model, lr, weight_decay):
    """AdamW without weight decay on biases and LayerNorm weights, as BERT is fine-tuned."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        (no_decay if name.endswith('bias') or 'LayerNorm' in name else decay).append(parameter)
    groups = [{'params': decay, 'weight_decay': weight_decay}, {'params': no_decay, 'weight_decay': 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)


@torch.no_grad()
def predict(model, sequences, batch_size=128, length=None):
    """Logits [len(sequences), classes] in eval mode. Sequences are batched by length and padded to
    each batch's longest, or all to `length` when given."""
    model.eval()
    order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
    logits = [None] * len(sequences)
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        batch = model(*pad([sequences[i] for i in rows], length))
        for row, value in zip(rows, batch):
            logits[row] = value
    return torch.stack(logits)


def accuracy(logits, labels):
    return (logits.argmax(1) == torch.tensor(labels)).float().mean().item()


def train(model, train_ids, train_labels, test_ids, test_labels, epochs, lr, batch_size, seed,
          weight_decay=0.01, warmup=0.1, clip=1.0, mask_prob=0.0, log=print, tag=''):
    """Trains in place; returns the per-epoch history [{epoch, trainLoss, testAccuracy, seconds}].
    mask_prob > 0 replaces each of a training query's own tokens by [MASK] with that probability
    (a fresh draw every time the query is seen), as augmentation."""
    generator = torch.Generator().manual_seed(seed)
    lengths = [len(s) for s in train_ids]
    steps_per_epoch = math.ceil(len(train_ids) / batch_size)
    total = epochs * steps_per_epoch
    optimizer = adamw(model, lr, weight_decay)
    scheduler = linear_warmup_decay(optimizer, round(warmup * total), total)
    labels = torch.tensor(train_labels)
    history = []
    start = time.time()
    for epoch in range(1, epochs + 1):
        model.train()
        loss_sum, count = 0.0, 0
        for rows in length_grouped_batches(lengths, batch_size, generator):
            input_ids, attention_mask, token_type_ids = pad([train_ids[i] for i in rows])
            if mask_prob:
                chosen = (input_ids >= FIRST_TEXT_ID) & (torch.rand(input_ids.shape, generator=generator) < mask_prob)
                input_ids = input_ids.masked_fill(chosen, MASK_ID)
            logits = model(input_ids, attention_mask, token_type_ids)
            loss = F.cross_entropy(logits, labels[rows])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * len(rows)
            count += len(rows)
        test_accuracy = accuracy(predict(model, test_ids), test_labels)
        history.append({'epoch': epoch, 'trainLoss': round(loss_sum / count, 5),
                        'testAccuracy': round(test_accuracy, 5), 'seconds': round(time.time() - start, 1)})
        log(f'{tag}epoch {epoch:3d}/{epochs}  train loss {loss_sum / count:.4f}  test accuracy {100 * test_accuracy:.2f} %  '
            f'({time.time() - start:.0f} s)')
    return history


class BertOnlyMLMHead(nn.Module):
    """BertForMaskedLM's head (cls.predictions): dense + GELU + LayerNorm, then the decoder, whose
    weight is the word embedding matrix (tied), plus a bias. Used only by pretrain_mlm, not exported."""

    def __init__(self, word_embeddings):
        super().__init__()
        hidden = word_embeddings.weight.size(1)
        self.dense = nn.Linear(hidden, hidden)
        self.LayerNorm = nn.LayerNorm(hidden, eps=LAYER_NORM_EPS)
        self.word_embeddings = word_embeddings  # shared, not a copy
        self.bias = nn.Parameter(torch.zeros(word_embeddings.weight.size(0)))
        self.dense.weight.data.normal_(mean=0.0, std=INITIALIZER_RANGE)
        self.dense.bias.data.zero_()

    def forward(self, hidden_states):
        x = self.LayerNorm(F.gelu(self.dense(hidden_states)))
        return F.linear(x, self.word_embeddings.weight, self.bias)


def mask_for_mlm(input_ids, generator, vocab_size, prob=0.15):
    """BERT's masking (DataCollatorForLanguageModeling): each text token is picked with probability
    `prob`; a picked token becomes [MASK] 80 % of the time, a random text token 10 %, stays 10 %.
    Returns (the masked ids, the labels: the original id where picked, -100 elsewhere)."""
    picked = (input_ids >= FIRST_TEXT_ID) & (torch.rand(input_ids.shape, generator=generator) < prob)
    labels = input_ids.masked_fill(~picked, -100)
    draw = torch.rand(input_ids.shape, generator=generator)
    masked = input_ids.masked_fill(picked & (draw < 0.8), MASK_ID)
    randomized = picked & (draw >= 0.8) & (draw < 0.9)
    random_ids = torch.randint(FIRST_TEXT_ID, vocab_size, input_ids.shape, generator=generator)
    return torch.where(randomized, random_ids, masked), labels


def pretrain_mlm(model, train_ids, epochs, lr, batch_size, seed, weight_decay=0.01, warmup=0.1, clip=1.0, log=print):
    """Masked-language-model pretraining of model.bert on the training queries themselves (no other
    text), before classification: BERT's recipe without next-sentence prediction, same optimizer and
    schedule as train(). The head is dropped afterwards. Returns the per-epoch history."""
    generator = torch.Generator().manual_seed(seed + 1)
    head = BertOnlyMLMHead(model.bert.embeddings.word_embeddings)
    vocab_size = head.bias.numel()
    modules = nn.ModuleDict({'bert': model.bert, 'head': head})  # named_parameters() lists the tied matrix once
    lengths = [len(s) for s in train_ids]
    total = epochs * math.ceil(len(train_ids) / batch_size)
    optimizer = adamw(modules, lr, weight_decay)
    scheduler = linear_warmup_decay(optimizer, round(warmup * total), total)
    layers = len(model.bert.encoder.layer)
    history = []
    start = time.time()
    modules.train()
    for epoch in range(1, epochs + 1):
        loss_sum, count = 0.0, 0
        for rows in length_grouped_batches(lengths, batch_size, generator):
            input_ids, attention_mask, token_type_ids = pad([train_ids[i] for i in rows])
            masked, labels = mask_for_mlm(input_ids, generator, vocab_size)
            picked = labels != -100
            if not picked.any():
                continue
            hidden = model(masked, attention_mask, token_type_ids, features=True)[f'layer_{layers}.hidden']
            loss = F.cross_entropy(head(hidden[picked]), labels[picked])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(modules.parameters(), clip)
            optimizer.step()
            scheduler.step()
            loss_sum += loss.item() * int(picked.sum())
            count += int(picked.sum())
        history.append({'epoch': epoch, 'mlmLoss': round(loss_sum / count, 5), 'seconds': round(time.time() - start, 1)})
        log(f'MLM epoch {epoch:3d}/{epochs}  masked-token loss {loss_sum / count:.4f}  ({time.time() - start:.0f} s)')
    return history


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------------------------
# Export and check


def export_onnx(model, sample_ids, path, opset):
    """torch.onnx.export to `path` (eval mode, every batch and sequence axis dynamic)."""
    wrapper = ExportWrapper(model).eval()
    names = wrapper.names
    inputs = ['input_ids', 'attention_mask', 'token_type_ids']
    dynamic = {name: {0: 'batch', 1: 'sequence'} for name in inputs}
    for name in names:
        if name == 'logits':
            dynamic[name] = {0: 'batch'}
        elif name.endswith('attention_scores'):
            dynamic[name] = {0: 'batch', 2: 'sequence', 3: 'sequence'}
        else:
            dynamic[name] = {0: 'batch', 1: 'sequence'}
    with torch.no_grad():
        torch.onnx.export(wrapper, pad(sample_ids), path, input_names=inputs, output_names=names,
                          dynamic_axes=dynamic, opset_version=opset, do_constant_folding=True)
    return names


def check_onnx(model, path, names, test_ids, hidden, heads, classes):
    """onnx.checker, the graph's inputs and outputs, then onnxruntime against PyTorch on test batches
    of several batch sizes and lengths (padded to the batch's longest, and to 64). Returns
    {'maxAbsDiffLogits', 'maxAbsDiff': {output: value}, 'maxAbsDiffMaskedScores', 'cases', 'runtime'} or None when
    onnxruntime is not installed."""
    import onnx
    proto = onnx.load(path)
    onnx.checker.check_model(proto)
    assert [i.name for i in proto.graph.input] == ['input_ids', 'attention_mask', 'token_type_ids']
    assert all(i.type.tensor_type.elem_type == onnx.TensorProto.INT64 for i in proto.graph.input)
    assert [o.name for o in proto.graph.output] == names, [o.name for o in proto.graph.output]
    float_types = {t.data_type for t in proto.graph.initializer if t.data_type != onnx.TensorProto.INT64}
    assert float_types <= {onnx.TensorProto.FLOAT}, float_types
    assert not any(t.data_location == onnx.TensorProto.EXTERNAL for t in proto.graph.initializer)
    print(f'onnx.checker: ok (opset {proto.opset_import[0].version}, {len(proto.graph.node)} nodes, '
          f'{len(proto.graph.initializer)} initializers, inline)')
    try:
        import onnxruntime as ort
    except ImportError:
        print('onnxruntime is not installed: skipping the runtime comparison')
        return None
    session = ort.InferenceSession(path, providers=['CPUExecutionProvider'])
    wrapper = ExportWrapper(model).eval()
    by_length = sorted(range(len(test_ids)), key=lambda i: len(test_ids[i]))
    # (rows, pad to): short and long queries, batch sizes 1 to 64, padded to the longest or to 64.
    cases = [(by_length[:1], None), (by_length[:1], 64), (by_length[100:107], None), (by_length[-5:], None),
             (by_length[::97][:32], None), (by_length[::48][:64], 64), (by_length[1500:1517], 40)]
    worst = {name: 0.0 for name in names}
    masked = {}  # attention scores at masked keys
    report = []
    for rows, length in cases:
        tensors = pad([test_ids[i] for i in rows], length)
        with torch.no_grad():
            expected = wrapper(*tensors)
        got = session.run(names, {n: t.numpy() for n, t in zip(['input_ids', 'attention_mask', 'token_type_ids'], tensors)})
        batch, sequence = tensors[0].shape
        shapes = {'logits': (batch, classes), 'embeddings': (batch, sequence, hidden)}
        keys = np.broadcast_to(tensors[1].numpy()[:, None, None, :] == 1, (batch, heads, sequence, sequence))
        for name, value, ref in zip(names, got, expected):
            scores = name.endswith('attention_scores')
            want = shapes.get(name, (batch, heads, sequence, sequence) if scores else (batch, sequence, hidden))
            assert value.shape == want and value.dtype == np.float32, (name, value.shape, want, value.dtype)
            difference = np.abs(value - ref.numpy())
            if scores:  # masked keys score about -10000, where float32's spacing is 1e-3: compared apart
                masked[name] = max(masked.get(name, 0.0), float(difference[~keys].max(initial=0.0)))
                difference = difference[keys]
            worst[name] = max(worst[name], float(difference.max()))
        diff = float(np.abs(got[0] - expected[0].numpy()).max())
        same = bool((got[0].argmax(1) == expected[0].numpy().argmax(1)).all())
        report.append({'batch': batch, 'sequence': sequence, 'maxAbsDiffLogits': diff, 'samePredictions': same})
        print(f'  onnxruntime vs PyTorch, batch {batch:2d} x sequence {sequence:2d}: max |d logits| {diff:.2e}, '
              f'same predictions: {same}')
    print('  max |d| per output (attention scores at unmasked keys): ' + ', '.join(f'{n} {v:.1e}' for n, v in worst.items()))
    print('  max |d| of attention scores at masked keys (about -10000): ' + ', '.join(f'{n} {v:.1e}' for n, v in masked.items()))
    return {'runtime': f'onnxruntime {ort.__version__}', 'maxAbsDiffLogits': worst['logits'], 'maxAbsDiff': worst,
            'maxAbsDiffMaskedScores': masked, 'cases': report}


def write_json(path, value):
    tmp = f'{path}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(value, f, indent=2)
        f.write('\n')
    os.replace(tmp, path)


# ----------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    # The defaults are the committed teacher's settings (--epochs 20 --lr 5e-4).
    parser.add_argument('--epochs', type=int, default=20, help='training epochs (default 20)')
    parser.add_argument('--lr', type=float, default=5e-4, help='peak AdamW learning rate (default 5e-4)')
    parser.add_argument('--batch-size', type=int, default=32, help='batch size (default 32)')
    parser.add_argument('--warmup', type=float, default=0.1, help='fraction of the steps spent warming up (default 0.1)')
    parser.add_argument('--weight-decay', type=float, default=0.01, help='AdamW weight decay (default 0.01)')
    parser.add_argument('--mask-prob', type=float, default=0.0,
                        help='augmentation: replace each text token by [MASK] with this probability while training (default 0)')
    parser.add_argument('--mlm-epochs', type=int, default=0,
                        help='masked-language-model pretraining epochs on the training queries before classification (default 0: none)')
    parser.add_argument('--mlm-lr', type=float, default=None, help='peak learning rate of the MLM pretraining (default: --lr)')
    parser.add_argument('--seed', type=int, default=0, help='seed for the initialization, dropout and batch order (default 0)')
    parser.add_argument('--max-length', type=int, default=64, help='tokens per query, [CLS] and [SEP] included (default 64)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1: leaves a core free)')
    parser.add_argument('--opset', type=int, default=14, help='ONNX opset (default 14)')
    parser.add_argument('--new-tokenizer', action='store_true',
                        help='learn the vocabulary again even if --out already has a tokenizer.json (Hugging Face\'s '
                             'trainer breaks ties in a different order on each run, so the vocabulary may change)')
    parser.add_argument('--data', type=Path, default=DATA, help=f'Banking77 directory (default {DATA.relative_to(REPO)})')
    parser.add_argument('--out', type=Path, default=HERE, help='output directory (default: this script\'s directory)')
    args = parser.parse_args()

    start = time.time()
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    command = shlex.join([sys.executable, *sys.argv])

    train_texts, train_labels, categories = load_split('train', args.data)
    test_texts, test_labels, _ = load_split('test', args.data)
    print(f'Banking77: {len(train_texts)} train, {len(test_texts)} test, {len(categories)} classes')

    tokenizer_path = args.out / 'tokenizer.json'
    if tokenizer_path.is_file() and not args.new_tokenizer:
        tokenizer = load_tokenizer(tokenizer_path)
        tokenizer_source = 'reused'
    else:
        tokenizer = train_tokenizer(train_texts)  # training texts only
        save_tokenizer(tokenizer, tokenizer_path)
        tokenizer_source = 'trained'
    tokenizer_sha256 = hashlib.sha256(tokenizer_path.read_bytes()).hexdigest()
    vocab_size = tokenizer.get_vocab_size()
    train_ids = encode(tokenizer, train_texts, args.max_length)
    test_ids = encode(tokenizer, test_texts, args.max_length)
    lengths = np.array([len(s) for s in train_ids])
    print(f'tokenizer.json ({tokenizer_source}): {vocab_size} tokens; train queries {lengths.mean():.1f} tokens on average, '
          f'99th percentile {np.percentile(lengths, 99):.0f}, {sum(len(t.ids) > args.max_length for t in tokenizer.encode_batch(train_texts))} '
          f'cut at {args.max_length}')

    model = BertForSequenceClassification(vocab_size, len(categories))
    parameters = sum(p.numel() for p in model.parameters())
    print(f'model: {parameters:,} parameters ({model.config["num_hidden_layers"]} layers, hidden {model.config["hidden_size"]}, '
          f'{model.config["num_attention_heads"]} heads, intermediate {model.config["intermediate_size"]})')
    print(f'training: {args.epochs} epochs, lr {args.lr}, batch {args.batch_size}, {args.threads} thread(s), seed {args.seed}')
    train_start = time.time()
    mlm_history = []
    if args.mlm_epochs:
        print(f'MLM pretraining: {args.mlm_epochs} epochs, lr {args.mlm_lr or args.lr}')
        mlm_history = pretrain_mlm(model, train_ids, args.mlm_epochs, args.mlm_lr or args.lr, args.batch_size, args.seed,
                                   weight_decay=args.weight_decay, warmup=args.warmup)
    history = train(model, train_ids, train_labels, test_ids, test_labels, args.epochs, args.lr, args.batch_size,
                    args.seed, weight_decay=args.weight_decay, warmup=args.warmup, mask_prob=args.mask_prob)
    train_seconds = time.time() - train_start

    train_accuracy = accuracy(predict(model, train_ids), train_labels)
    dynamic_logits = predict(model, test_ids)
    fixed_logits = predict(model, test_ids, length=args.max_length)  # as kdkit feeds it: every query padded to 64
    test_accuracy = accuracy(fixed_logits, test_labels)
    padding_diff = (fixed_logits - dynamic_logits).abs().max().item()
    assert (fixed_logits.argmax(1) == dynamic_logits.argmax(1)).all(), 'padding to 64 changed a prediction'
    print(f'final: train accuracy {100 * train_accuracy:.2f} %, test accuracy {100 * test_accuracy:.2f} % '
          f'(padded to {args.max_length}; max |d logits| against per-batch padding {padding_diff:.1e})')

    onnx_path = args.out / 'teacher.onnx'
    tmp = f'{onnx_path}.tmp'
    names = export_onnx(model, test_ids[:2], tmp, args.opset)
    check = check_onnx(model, tmp, names, test_ids, model.config['hidden_size'], model.config['num_attention_heads'],
                       len(categories))
    os.replace(tmp, onnx_path)
    size = onnx_path.stat().st_size
    print(f'wrote {onnx_path} ({size:,} bytes)')

    write_json(args.out / 'pytorch-accuracy.json', {
        'testAccuracy': round(test_accuracy, 5),
        'trainAccuracy': round(train_accuracy, 5),
        'test': len(test_labels),
        'train': len(train_labels),
        'epochs': args.epochs,
        'lr': args.lr,
        'batchSize': args.batch_size,
        'warmup': args.warmup,
        'weightDecay': args.weight_decay,
        'maskProb': args.mask_prob,
        'mlmEpochs': args.mlm_epochs,
        'mlmLr': (args.mlm_lr or args.lr) if args.mlm_epochs else None,
        'seed': args.seed,
        'parameters': parameters,
        'vocabSize': vocab_size,
        'tokenizer': {'file': tokenizer_path.name, 'sha256': tokenizer_sha256, 'source': tokenizer_source},
        'sequenceLength': args.max_length,
        'config': model.config,
        'seconds': round(time.time() - start, 1),
        'trainSeconds': round(train_seconds, 1),
        'threads': args.threads,
        'torchVersion': torch.__version__,
        'onnx': {'file': onnx_path.name, 'bytes': size, 'opset': args.opset, 'outputs': names,
                 'check': check},
        'history': history,
        'mlmHistory': mlm_history,
        'command': command,
    })
    print(f'wrote {args.out / "pytorch-accuracy.json"}; {time.time() - start:.0f} s in all')


if __name__ == '__main__':
    main()
