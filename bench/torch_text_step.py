#!/usr/bin/python3
"""PyTorch reference for bench/text-step.js: median ms per KD training step (0.9·kd(T=4) + 0.1·ce
against fixed teacher logits, Adam 1e-3) of a BERT-style encoder classifier: token, position and
segment embeddings + LayerNorm; 4 post-LN encoder layers (d 256, 4 heads, feed-forward 1024, GELU,
dropout 0.1; PyTorch's own nn.TransformerEncoderLayer, whose fused attention is what a PyTorch user
trains with); the [CLS] token through a tanh pooler; 77 logits. Batch 64 of 32 tokens from a
vocabulary of 8,000, rows padded to random lengths. Prints JSON with the parameter count.

Usage: /usr/bin/python3 bench/torch_text_step.py STEPS THREADS
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH, SEQUENCE, VOCAB, HIDDEN, HEADS, INTERMEDIATE, LAYERS, CLASSES = 64, 32, 8000, 256, 4, 1024, 4, 77
WARMUP = 3


class Bert(nn.Module):
    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(VOCAB, HIDDEN)
        self.position = nn.Embedding(SEQUENCE, HIDDEN)
        self.segment = nn.Embedding(2, HIDDEN)
        self.norm = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.dropout = nn.Dropout(0.1)
        layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, INTERMEDIATE, 0.1, activation="gelu", layer_norm_eps=1e-12, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.pooler = nn.Linear(HIDDEN, HIDDEN)
        self.logits = nn.Linear(HIDDEN, CLASSES)

    def forward(self, input_ids, attention_mask, token_type_ids):
        positions = torch.arange(input_ids.shape[1])
        x = self.dropout(self.norm(self.word(input_ids) + self.position(positions) + self.segment(token_type_ids)))
        x = self.encoder(x, src_key_padding_mask=attention_mask == 0)
        return self.logits(self.dropout(torch.tanh(self.pooler(x[:, 0]))))


def step_ms(steps):
    model = Bert()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    input_ids = torch.randint(0, VOCAB, (BATCH, SEQUENCE))
    lengths = torch.randint(8, SEQUENCE + 1, (BATCH,))
    attention_mask = (torch.arange(SEQUENCE)[None, :] < lengths[:, None]).long()
    token_type_ids = torch.zeros(BATCH, SEQUENCE, dtype=torch.long)
    labels = torch.randint(0, CLASSES, (BATCH,))
    teacher_logits = torch.randn(BATCH, CLASSES) * 4
    times = []
    for step in range(WARMUP + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = model(input_ids, attention_mask, token_type_ids)
        kd = F.kl_div(F.log_softmax(logits / 4, 1), F.softmax(teacher_logits / 4, 1), reduction="batchmean") * 16
        loss = 0.9 * kd + 0.1 * F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        loss.item()
        if step >= WARMUP:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), sum(p.numel() for p in model.parameters())


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    ms, params = step_ms(steps)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "params": params, "transformer": ms}))
