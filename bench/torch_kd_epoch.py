#!/usr/bin/python3
"""PyTorch reference for bench/kd-epoch.js: one KD epoch (Adam at LR, batches of BATCH, loss
0.9·kd(T=4) + 0.1·ce) over the samples of .npy files with cached teacher logits read from another,
of the Fashion-MNIST demo student (MODEL mlp: 784-256-256-10; INPUTS: images [n, 784]), of the
MobileNetV2-style student of bench/torch_zoo_step.py (MODEL mobilenet, in training mode: batch
statistics; INPUTS: images), or of the BERT-style Banking77 student (MODEL banking77; INPUTS:
input_ids, attention_mask, token_type_ids [n, sequence]), the same model as kdkit's
`{type: transformer, layers: 2, hidden: 64, heads: 4, intermediate: 256, pooling: mean,
dropout: 0.1}`. Prints JSON with the epoch's wall time, the parameter count and the first losses.

Usage: /usr/bin/python3 bench/torch_kd_epoch.py --threads T --model MODEL --batch BATCH --lr LR
           [--vocab V] LABELS.npy LOGITS.npy INPUTS.npy...
(--vocab: banking77's embedding rows, the tokenizer's vocabulary size.)
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_zoo_step import mobilenet

REPORTED_LOSSES = 5
WARMUP_STEPS = 5


class TextStudent(nn.Module):
    """kdkit's src/models/text/transformer.ts in PyTorch: word + segment + position embeddings,
    LayerNorm (ε 1e-12), dropout; post-LN encoder layers (PyTorch's nn.TransformerEncoderLayer:
    self-attention with dropout on the probabilities and on its output, an exact-erf GELU
    feed-forward block with dropout on its output); the mean over the tokens the mask keeps, dropout,
    the logits. Padded keys get −10000 added to their scores as in kdkit (a float key padding mask),
    not −inf. Weights start as kdkit's (BERT's): truncated normal σ 0.02 (cut at 2σ), zero biases."""

    def __init__(self, vocab, sequence, classes, hidden=64, heads=4, intermediate=256, layers=2, dropout=0.1):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.segment = nn.Embedding(2, hidden)
        self.position = nn.Embedding(sequence, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)
        self.dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(
            hidden, heads, intermediate, dropout, activation="gelu", layer_norm_eps=1e-12, batch_first=True
        )
        # BERT (and kdkit) has no dropout between the GELU and the second feed-forward matrix.
        layer.dropout = nn.Identity()
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.logits = nn.Linear(hidden, classes)
        for name, parameter in self.named_parameters():
            if parameter.dim() > 1:
                nn.init.trunc_normal_(parameter, std=0.02, a=-0.04, b=0.04)
            elif name.endswith("bias"):
                nn.init.zeros_(parameter)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1])
        x = self.word(input_ids) + self.segment(token_type_ids) + self.position(positions)
        x = self.dropout(self.norm(x))
        keep = attention_mask.float()
        x = self.encoder(x, src_key_padding_mask=(1 - keep) * -10000.0)
        keep = keep.unsqueeze(2)
        pooled = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.logits(self.dropout(pooled))


parser = argparse.ArgumentParser()
parser.add_argument("--threads", type=int, required=True)
parser.add_argument("--model", choices=["mlp", "mobilenet", "banking77"], required=True)
parser.add_argument("--batch", type=int, required=True)
parser.add_argument("--lr", type=float, required=True)
parser.add_argument("--vocab", type=int)
parser.add_argument("labels")
parser.add_argument("logits")
parser.add_argument("inputs", nargs="+")
args = parser.parse_args()
threads, kind, batch_size, learning_rate = args.threads, args.model, args.batch, args.lr
labels_path, logits_path, input_paths = args.labels, args.logits, args.inputs
torch.set_num_threads(threads)
torch.manual_seed(0)
labels = torch.from_numpy(np.load(labels_path)).long()
teacher_logits = torch.from_numpy(np.load(logits_path))
classes = teacher_logits.shape[1]
if kind == "mlp":
    inputs = [torch.from_numpy(np.load(input_paths[0])).reshape(-1, 784)]
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, classes))
elif kind == "mobilenet":
    inputs = [torch.from_numpy(np.load(input_paths[0])).reshape(-1, 1, 28, 28)]
    model = mobilenet()
elif kind == "banking77":
    # input_ids, attention_mask, token_type_ids, as int64 (what nn.Embedding takes).
    inputs = [torch.from_numpy(np.load(path)).long() for path in input_paths]
    if args.vocab is None or len(inputs) != 3:
        parser.error("banking77 needs --vocab and three inputs: input_ids, attention_mask, token_type_ids")
    model = TextStudent(args.vocab, inputs[0].shape[1], classes)
model.train()
optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
temperature = 4.0
losses = []


def kd_step(batch):
    optimizer.zero_grad()
    logits = model(*(values[batch] for values in inputs))
    kd = F.kl_div(F.log_softmax(logits / temperature, 1), F.softmax(teacher_logits[batch] / temperature, 1), reduction="batchmean") * temperature**2
    loss = 0.9 * kd + 0.1 * F.cross_entropy(logits, labels[batch])
    loss.backward()
    optimizer.step()
    value = loss.item()
    if len(losses) < REPORTED_LOSSES:
        losses.append(value)
    return value


order = torch.randperm(len(labels))
for start in range(0, batch_size * WARMUP_STEPS, batch_size):  # warm-up
    kd_step(order[start:start + batch_size])
started = time.perf_counter()
steps = 0
for start in range(0, len(labels), batch_size):
    kd_step(order[start:start + batch_size])
    steps += 1
seconds = time.perf_counter() - started
print(
    json.dumps(
        {
            "torch": torch.__version__,
            "model": kind,
            "threads": threads,
            "params": sum(p.numel() for p in model.parameters()),
            "steps": steps,
            "losses": losses,
            "epochSeconds": seconds,
        }
    )
)
