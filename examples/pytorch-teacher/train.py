#!/usr/bin/env python3
"""Train a small PyTorch CNN on Fashion-MNIST and export it as teacher.onnx for kdkit.

    /usr/bin/python3 examples/pytorch-teacher/train.py [--data DIR] [--epochs N]

Reads the four gzipped IDX files itself (gzip + numpy; no torchvision), trains on all 60,000
training images, scores all 10,000 test images and writes, next to this script:

  teacher.onnx               input 'image' float32 [N, 1, 28, 28] (NCHW, dynamic N), output 'logits'
                             [N, 10]. The input is expected already normalized,
                             (pixel / 255 - MEAN) / STD: normalization is NOT in the graph;
                             distill.yaml asks kdkit to apply it.
  pytorch-accuracy.json      {"accuracy", "test", "torch", ...}
  pytorch-logits-head.json   PyTorch's logits for the first 64 test images (for a parity check
                             against ONNX Runtime).
"""
import argparse
import gzip
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
# Training-set statistics of pixel / 255 (printed below, recomputed on every run); the same
# constants are in distill.yaml's teacher.normalize.
MEAN = 0.2860
STD = 0.3530


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (gzipped or not) as a numpy array of its declared shape."""
    opener = gzip.open if path.suffix == '.gz' else open
    with opener(path, 'rb') as f:
        data = f.read()
    zero, dtype_code, ndim = data[0] * 256 + data[1], data[2], data[3]
    if zero != 0 or dtype_code != 0x08:
        raise ValueError(f'{path}: not an unsigned-byte IDX file')
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir: Path, stem: str) -> Path:
    for name in (stem + '.gz', stem):
        if (data_dir / name).exists():
            return data_dir / name
    raise FileNotFoundError(f'{data_dir}: no {stem}[.gz]')


def load_split(data_dir: Path, prefix: str):
    images = read_idx(find(data_dir, f'{prefix}-images-idx3-ubyte'))
    labels = read_idx(find(data_dir, f'{prefix}-labels-idx1-ubyte'))
    return images, labels


def to_input(images_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> normalized float32 NCHW [N, 1, 28, 28]."""
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path('/usr/share/datasets/fashion-mnist'))
    parser.add_argument('--epochs', type=int, default=5)
    parser.add_argument('--out', type=Path, default=HERE)
    args = parser.parse_args()

    torch.manual_seed(0)
    torch.set_num_threads(2)
    started = time.time()

    train_images, train_labels = load_split(args.data, 'train')
    test_images, test_labels = load_split(args.data, 't10k')
    pixels = train_images.astype(np.float64) / 255.0
    print(f'train {train_images.shape}, test {test_images.shape}; training-set pixel mean '
          f'{pixels.mean():.4f}, std {pixels.std():.4f} (using {MEAN}, {STD})')

    x_train, y_train = to_input(train_images), torch.from_numpy(train_labels.astype(np.int64))
    x_test, y_test = to_input(test_images), torch.from_numpy(test_labels.astype(np.int64))

    model = Net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    batch_size = 128
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train))
        total, seen, t0 = 0.0, 0, time.time()
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
            seen += len(idx)
        acc = (predict(model, x_test).argmax(1) == y_test).float().mean().item()
        print(f'epoch {epoch}/{args.epochs}: loss {total / seen:.4f}, test accuracy {acc:.4f} '
              f'({time.time() - t0:.1f} s)', flush=True)

    train_seconds = time.time() - started
    logits = predict(model, x_test)
    correct = int((logits.argmax(1) == y_test).sum().item())
    accuracy = correct / len(y_test)
    print(f'test accuracy {accuracy:.4f} ({correct} of {len(y_test)}); {train_seconds:.0f} s')

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'pytorch-accuracy.json').write_text(json.dumps({
        'accuracy': accuracy,
        'test': int(len(y_test)),
        'correct': correct,
        'torch': torch.__version__,
        'epochs': args.epochs,
        'seconds': round(train_seconds, 1),
        'normalize': {'mean': [MEAN], 'std': [STD]},
    }, indent=2) + '\n')
    (args.out / 'pytorch-logits-head.json').write_text(json.dumps({
        'description': 'PyTorch logits for the first 64 Fashion-MNIST test images; input NCHW, '
                       '(pixel / 255 - mean) / std',
        'normalize': {'mean': [MEAN], 'std': [STD]},
        'labels': test_labels[:64].tolist(),
        'logits': logits[:64].tolist(),
    }) + '\n')

    model.eval()
    onnx_path = args.out / 'teacher.onnx'
    torch.onnx.export(
        model, torch.zeros(1, 1, 28, 28), str(onnx_path),
        opset_version=17, input_names=['image'], output_names=['logits'],
        dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
    print(f'wrote {onnx_path} ({onnx_path.stat().st_size} bytes), pytorch-accuracy.json, '
          f'pytorch-logits-head.json')


if __name__ == '__main__':
    main()
