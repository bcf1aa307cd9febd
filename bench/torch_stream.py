#!/usr/bin/python3
"""PyTorch's side of bench/stream.js: one shuffled epoch of batches read from .npy shards on disk
(numpy memory maps, as PyTorch users stream data larger than memory), each batch made a float32
tensor scaled to [0, 1]; then one sequential pass. Two readers:
  - batched: a Dataset whose __getitems__ takes a whole batch of indices and reads them from the
    memory maps with one fancy-indexing call per shard (sorted), the fast idiom;
  - per-sample: the textbook Dataset.__getitem__ + DataLoader default collate.
Prints JSON with samples per second for each. Args: ORDER.npy BATCH SHARD.npy...
"""
import json
import sys
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

torch.set_num_threads(1)
order = np.load(sys.argv[1])
batch = int(sys.argv[2])
shards = [np.load(path, mmap_mode='r') for path in sys.argv[3:]]
starts = np.cumsum([0] + [len(shard) for shard in shards])
count = int(starts[-1])


def read(indices):
    indices = np.asarray(indices)
    out = np.empty((len(indices),) + shards[0].shape[1:], dtype=np.float32)
    shard_of = np.searchsorted(starts, indices, side='right') - 1
    for s, shard in enumerate(shards):
        picked = np.nonzero(shard_of == s)[0]
        if len(picked) == 0:
            continue
        local = indices[picked] - starts[s]
        sort = np.argsort(local)
        out[picked[sort]] = shard[local[sort]]
    return torch.from_numpy(out) / 255


class Batched(Dataset):
    def __len__(self):
        return count

    def __getitems__(self, indices):
        return read(indices)


class PerSample(Dataset):
    def __len__(self):
        return count

    def __getitem__(self, index):
        s = int(np.searchsorted(starts, index, side='right') - 1)
        return torch.from_numpy(np.array(shards[s][index - starts[s]], dtype=np.float32)) / 255


def epoch(dataset, indices):
    sampler = [indices[i:i + batch].tolist() for i in range(0, len(indices), batch)]
    collate = (lambda x: x) if isinstance(dataset, Batched) else None
    loader = DataLoader(dataset, batch_sampler=sampler, num_workers=0, collate_fn=collate)
    started = time.perf_counter()
    checksum = 0.0
    for images in loader:
        checksum += float(images[0].sum())
    return len(indices) / (time.perf_counter() - started)


sequential = np.arange(count)
print(json.dumps({
    'batchedShuffled': epoch(Batched(), order),
    'batchedSequential': epoch(Batched(), sequential),
    'perSampleShuffled': epoch(PerSample(), order[:min(count, 50000)]),
}))
