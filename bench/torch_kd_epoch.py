#!/usr/bin/python3
"""PyTorch reference for bench/kd-epoch.js: one KD epoch (Adam 1e-3, batch 128, loss
0.9·kd(T=4) + 0.1·ce) over the images of a .npy file with cached teacher logits read from
another, of the Fashion-MNIST demo student (MODEL mlp: 784-256-256-10) or of the MobileNetV2-style
student of bench/torch_zoo_step.py (MODEL mobilenet, in training mode: batch statistics). Prints
JSON with the epoch's wall time.

Usage: /usr/bin/python3 bench/torch_kd_epoch.py IMAGES.npy LABELS.npy LOGITS.npy THREADS [mlp|mobilenet]
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_zoo_step import mobilenet

images_path, labels_path, logits_path, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kind = sys.argv[5] if len(sys.argv) > 5 else "mlp"
torch.set_num_threads(threads)
torch.manual_seed(0)
labels = torch.from_numpy(np.load(labels_path)).long()
teacher_logits = torch.from_numpy(np.load(logits_path))
if kind == "mlp":
    images = torch.from_numpy(np.load(images_path)).reshape(-1, 784)
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))
elif kind == "mobilenet":
    images = torch.from_numpy(np.load(images_path)).reshape(-1, 1, 28, 28)
    model = mobilenet()
else:
    sys.exit(f"unknown model {kind!r}; expected mlp or mobilenet")
model.train()
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
temperature = 4.0


def kd_step(batch):
    optimizer.zero_grad()
    logits = model(images[batch])
    kd = F.kl_div(F.log_softmax(logits / temperature, 1), F.softmax(teacher_logits[batch] / temperature, 1), reduction="batchmean") * temperature**2
    loss = 0.9 * kd + 0.1 * F.cross_entropy(logits, labels[batch])
    loss.backward()
    optimizer.step()
    return loss.item()


order = torch.randperm(len(labels))
for start in range(0, 128 * 5, 128):  # warm-up
    kd_step(order[start:start + 128])
started = time.perf_counter()
steps = 0
for start in range(0, len(labels), 128):
    kd_step(order[start:start + 128])
    steps += 1
seconds = time.perf_counter() - started
print(json.dumps({"torch": torch.__version__, "model": kind, "threads": threads, "steps": steps, "epochSeconds": seconds}))
