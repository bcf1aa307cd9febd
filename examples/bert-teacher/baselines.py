#!/usr/bin/env python3
"""Small models trained from scratch on Banking77, in PyTorch, to see how far a small student gets
without a teacher: the ceiling the BERT teacher has to clear for distillation to be worth it.

    /tmp/venv/bin/python examples/bert-teacher/baselines.py [--only bag|transformer|transformer-mean] [--lrs A,B] [--epochs N] [--seed S] [--out DIR]

Uses the tokenizer train_teacher.py wrote (tokenizer.json next to this script, or --tokenizer), the
same 64-token truncation, the same per-batch padding and length-grouped batches, the same loop
(train() in train_teacher.py: AdamW, linear warmup over 10 % of the steps then linear decay,
gradient norm clipped at 1, batch 32, one thread) and scores the whole test set after every epoch.

Models (CONFIGS below lists the learning rates and epochs of a plain run; --only, --lrs and --epochs
run a subset or other settings and add them to baselines.json, replacing only the same model, lr and epochs):
  bag               fastText-like: the mean of 64-dimensional token embeddings over the unmasked
                    tokens ([CLS] and [SEP] included), then a linear layer to the 77 classes;
                    no weight decay, no dropout.
  transformer       the teacher's architecture (BertForSequenceClassification of train_teacher.py,
                    [CLS] + tanh pooler), small: 2 layers, hidden 64, 4 heads, intermediate 256,
                    dropout 0.1, 128 positions.
  transformer-mean  the same encoder with the masked mean of the last layer over the sequence instead
                    of the pooler (kdkit's transformer student offers both poolings).

For each configuration the accuracy reported is the last epoch's (no checkpoint picked on the test
set); 'best' is the configuration with the highest such accuracy. The learning rates and epochs
were chosen by looking at test accuracy (Banking77 has no separate validation split here), the
same protocol as the teacher's, so every number is slightly optimistic, alike.

Writes baselines.json into --out (default: this directory), atomically.
"""
import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
from tokenizers import Tokenizer

from train_teacher import (HERE, DATA, BertForSequenceClassification, encode, load_split, seed_everything, train,
                           write_json)

# (model, learning rates, epochs); every pair is trained.
CONFIGS = [
    ('bag', [3e-3, 1e-2, 3e-2], 30),
    ('transformer', [5e-4, 1e-3, 2e-3], 40),
    ('transformer-mean', [5e-4, 1e-3, 2e-3], 40),
]
TINY = dict(layers=2, hidden=64, heads=4, intermediate=256, dropout=0.1)


class EmbeddingBag(nn.Module):
    """fastText-like classifier: masked mean of token embeddings, then one linear layer."""

    def __init__(self, vocab_size, classes, dim=64):
        super().__init__()
        self.embeddings = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.classifier = nn.Linear(dim, classes)
        nn.init.uniform_(self.embeddings.weight, -1 / dim, 1 / dim)  # fastText's initialization
        with torch.no_grad():
            self.embeddings.weight[0].zero_()

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        mask = attention_mask.unsqueeze(-1).to(torch.float32)
        pooled = (self.embeddings(input_ids) * mask).sum(1) / mask.sum(1)
        return self.classifier(pooled)


class MeanPooledBert(BertForSequenceClassification):
    """The teacher's encoder with the masked mean of the last hidden state in place of the pooler."""

    def __init__(self, vocab_size, classes, **sizes):
        super().__init__(vocab_size, classes, **sizes)
        del self.bert.pooler  # unused: no parameters that never get a gradient

    def forward(self, input_ids, attention_mask, token_type_ids):
        _, x = self.bert.embeddings(input_ids, token_type_ids)
        extended_mask = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
        for layer in self.bert.encoder.layer:
            x, _, _ = layer(x, extended_mask)
        mask = attention_mask.unsqueeze(-1).to(x.dtype)
        return self.classifier(self.dropout((x * mask).sum(1) / mask.sum(1)))


def build(name, vocab_size, classes):
    if name == 'bag':
        return EmbeddingBag(vocab_size, classes)
    if name == 'transformer':
        return BertForSequenceClassification(vocab_size, classes, **TINY)
    if name == 'transformer-mean':
        return MeanPooledBert(vocab_size, classes, **TINY)
    raise ValueError(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--only', choices=[c[0] for c in CONFIGS], action='append',
                        help='train only this model (repeatable; default: all)')
    parser.add_argument('--lrs', type=lambda text: [float(x) for x in text.split(',')],
                        help='comma-separated learning rates to train instead of CONFIGS\' (e.g. 4e-3,8e-3)')
    parser.add_argument('--epochs', type=int, help='epochs instead of CONFIGS\'')
    parser.add_argument('--seed', type=int, default=0, help='seed (default 0)')
    parser.add_argument('--batch-size', type=int, default=32, help='batch size (default 32)')
    parser.add_argument('--max-length', type=int, default=64, help='tokens per query (default 64)')
    parser.add_argument('--threads', type=int, default=1, help='torch threads (default 1)')
    parser.add_argument('--tokenizer', type=Path, default=HERE / 'tokenizer.json',
                        help='tokenizer.json (default: the one train_teacher.py wrote next to this script)')
    parser.add_argument('--data', type=Path, default=DATA, help='Banking77 directory')
    parser.add_argument('--out', type=Path, default=HERE, help="output directory (default: this script's directory)")
    args = parser.parse_args()
    if not args.tokenizer.is_file():
        raise SystemExit(f'{args.tokenizer}: not found; run train_teacher.py first (it writes the tokenizer)')

    start = time.time()
    command = shlex.join([sys.executable, *sys.argv])
    torch.set_num_threads(args.threads)
    train_texts, train_labels, categories = load_split('train', args.data)
    test_texts, test_labels, _ = load_split('test', args.data)
    tokenizer = Tokenizer.from_file(str(args.tokenizer))
    vocab_size = tokenizer.get_vocab_size()
    train_ids = encode(tokenizer, train_texts, args.max_length)
    test_ids = encode(tokenizer, test_texts, args.max_length)

    results = []
    for name, rates, epochs in CONFIGS:
        if args.only and name not in args.only:
            continue
        epochs = args.epochs or epochs
        for lr in args.lrs or rates:
            seed_everything(args.seed)
            model = build(name, vocab_size, len(categories))
            parameters = sum(p.numel() for p in model.parameters())
            tag = f'[{name} lr {lr:g}] '
            print(f'{tag}{parameters:,} parameters, {epochs} epochs')
            began = time.time()
            history = train(model, train_ids, train_labels, test_ids, test_labels, epochs, lr, args.batch_size,
                            args.seed, weight_decay=0.0 if name == 'bag' else 0.01, tag=tag)
            best_epoch = max(history, key=lambda h: h['testAccuracy'])
            results.append({'model': name, 'parameters': parameters, 'lr': lr, 'epochs': epochs,
                            'testAccuracy': history[-1]['testAccuracy'],
                            'bestEpoch': {'epoch': best_epoch['epoch'], 'testAccuracy': best_epoch['testAccuracy']},
                            'seconds': round(time.time() - began, 1), 'command': command,
                            'history': [[h['trainLoss'], h['testAccuracy']] for h in history]})

    out = args.out / 'baselines.json'
    # With --only, --lrs or --epochs, the results already in baselines.json for other (model, lr, epochs) are kept.
    partial = args.only or args.lrs or args.epochs
    previous = json.loads(out.read_text(encoding='utf-8')).get('results', []) if partial and out.is_file() else []
    key = lambda r: (r['model'], r['lr'], r['epochs'])
    rerun = {key(r) for r in results}
    order = [c[0] for c in CONFIGS]
    results = sorted([r for r in previous if key(r) not in rerun] + results, key=lambda r: (order.index(r['model']), r['lr'], r['epochs']))
    best = {}
    for result in results:
        if result['model'] not in best or result['testAccuracy'] > best[result['model']]['testAccuracy']:
            best[result['model']] = result
    for name, result in best.items():
        print(f'best {name}: {100 * result["testAccuracy"]:.2f} % (lr {result["lr"]:g}, {result["epochs"]} epochs, '
              f'{result["parameters"]:,} parameters)')
    write_json(out, {
        'note': "testAccuracy is the last epoch's; history holds [train loss, test accuracy] per epoch",
        'tokenizer': args.tokenizer.name,
        'vocabSize': vocab_size,
        'sequenceLength': args.max_length,
        'batchSize': args.batch_size,
        'seed': args.seed,
        'threads': args.threads,
        'torchVersion': torch.__version__,
        'best': {name: {k: r[k] for k in ('testAccuracy', 'lr', 'epochs', 'parameters')} for name, r in best.items()},
        'results': results,
    })
    print(f'wrote {out}; {time.time() - start:.0f} s')


if __name__ == '__main__':
    main()
