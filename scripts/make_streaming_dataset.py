#!/usr/bin/python3
"""Writes an enlarged Fashion-MNIST as .npy shards, for trying kdkit's streaming on a dataset
larger than a memory limit: each of the 60,000 training images appears COPIES times, shifted by
up to 2 pixels and with seeded uint8 noise (so the copies differ), as uint8 NHWC shards of 60,000
samples; the 10,000 test images are written once, unchanged. Labels are int64, numpy's default.

Usage: /usr/bin/python3 scripts/make_streaming_dataset.py OUT_DIR [COPIES=8] [SOURCE_DIR]
With 8 copies: 480,000 training samples, 376 MB on disk, 1.5 GB once scaled to float32.
"""
import gzip
import os
import sys

import numpy as np

out = sys.argv[1]
copies = int(sys.argv[2]) if len(sys.argv) > 2 else 8
source = sys.argv[3] if len(sys.argv) > 3 else '/usr/share/datasets/fashion-mnist'


def idx(name):
    path = os.path.join(source, name)
    opener = gzip.open if os.path.exists(path + '.gz') else open
    with opener(path + '.gz' if os.path.exists(path + '.gz') else path, 'rb') as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


os.makedirs(out, exist_ok=True)
train_x, train_y = idx('train-images-idx3-ubyte'), idx('train-labels-idx1-ubyte')
rng = np.random.default_rng(20261128)
for copy in range(copies):
    dy, dx = (0, 0) if copy == 0 else tuple(rng.integers(-2, 3, size=2))
    shifted = np.roll(train_x, (dy, dx), axis=(1, 2))
    noise = rng.integers(-8, 9, size=shifted.shape) if copy > 0 else 0
    images = np.clip(shifted.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    np.save(os.path.join(out, f'train-images-{copy + 1}.npy'), images[..., None])
    np.save(os.path.join(out, f'train-labels-{copy + 1}.npy'), train_y.astype(np.int64))
np.save(os.path.join(out, 'test-images.npy'), idx('t10k-images-idx3-ubyte')[..., None])
np.save(os.path.join(out, 'test-labels.npy'), idx('t10k-labels-idx1-ubyte').astype(np.int64))
print(f'{copies * len(train_y)} train and {10000} test samples in {out}')
