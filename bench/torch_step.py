#!/usr/bin/python3
"""PyTorch reference for bench/engine-step.js: median ms per KD training step of the same models
(0.9·kd(T=4) + 0.1·ce against fixed teacher logits, Adam 1e-3, batch 128), printed as JSON.
Debian's python3-torch 1.13.

Usage: /usr/bin/python3 bench/torch_step.py STEPS THREADS
(bench/torch_zoo_step.py imports kd_step_ms from here.)
"""
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

batch = 128
warmup = 3


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(7 * 7 * 64, 256), nn.ReLU(), nn.Linear(256, 10),
    )


def mlp():
    return nn.Sequential(nn.Linear(784, 1200), nn.ReLU(), nn.Linear(1200, 1200), nn.ReLU(), nn.Linear(1200, 10))


def kd_step_ms(model, input_shape, steps):
    """Median ms of `steps` KD training steps (after `warmup`) of `model` in training mode on random data."""
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    images = torch.randn(batch, *input_shape)
    labels = torch.randint(0, 10, (batch,))
    teacher_logits = torch.randn(batch, 10) * 4
    temperature = 4.0
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        optimizer.zero_grad()
        logits = model(images)
        kd = F.kl_div(F.log_softmax(logits / temperature, 1), F.softmax(teacher_logits / temperature, 1), reduction="batchmean") * temperature**2
        loss = 0.9 * kd + 0.1 * F.cross_entropy(logits, labels)
        loss.backward()
        optimizer.step()
        loss.item()
        if step >= warmup:
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(json.dumps({"torch": torch.__version__, "threads": threads, "cnn": kd_step_ms(cnn(), (1, 28, 28), steps), "mlp": kd_step_ms(mlp(), (784,), steps)}))
