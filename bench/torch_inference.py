#!/usr/bin/python3
"""PyTorch reference for bench/inference.js: forward-pass latency of the Fashion-MNIST demo's
teacher (CNN 32-64-256) and student (MLP 256-256) in eval mode under torch.no_grad, at batch 1 and
256, with the timing plan of kdkit's eval/latency.ts (3 warm-up calls, then at least 10 timed calls
and until 500 ms are measured, at most 200). Prints p50/p95 in ms as JSON. Debian's python3-torch.

Usage: /usr/bin/python3 bench/torch_inference.py THREADS
"""
import json
import sys
import time

import torch
import torch.nn as nn

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
torch.set_num_threads(threads)
torch.manual_seed(0)


def teacher():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Dropout(0.3), nn.Linear(7 * 7 * 64, 256), nn.ReLU(), nn.Linear(256, 10),
    )


def student():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 10))


def percentile(times, q):
    ordered = sorted(times)
    if q == 0.5:
        middle = len(ordered) // 2
        return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    index = min(len(ordered) - 1, max(0, -(-int(q * len(ordered) * 1000) // 1000) - 1))
    return ordered[index]


def latency(model, batch):
    images = torch.rand(batch, 1, 28, 28)
    with torch.no_grad():
        for _ in range(3):
            model(images)
        times = []
        while len(times) < 10 or (sum(times) < 500 and len(times) < 200):
            started = time.perf_counter()
            model(images)
            times.append((time.perf_counter() - started) * 1000)
    return {"p50Ms": percentile(times, 0.5), "p95Ms": percentile(times, 0.95)}


result = {"torch": torch.__version__, "threads": threads}
for name, build in (("teacher", teacher), ("student", student)):
    model = build().eval()
    result[name] = {"batch1": latency(model, 1), "batch256": latency(model, 256)}
print(json.dumps(result))
