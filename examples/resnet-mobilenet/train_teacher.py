#!/usr/bin/env python3
"""Train a ResNet teacher in PyTorch on Fashion-MNIST and export it as teacher.onnx for kdkit.

    /usr/bin/python3 examples/resnet-mobilenet/train_teacher.py [--data DIR] [--epochs N] [--blocks 2,2,2] [--filters 32,64,128]

The network is the CIFAR ResNet of He et al. (2016) built from torchvision's own BasicBlock
(python3-torchvision): a 3x3 stem without max pooling, stages of BasicBlocks (stride 2 and a 1x1 conv + batch norm
shortcut at the start of the second and third), global average pooling, a linear layer. The
default is twice the CIFAR ResNet's width (filters 32, 64, 128; 696,042 parameters), so that the
teacher is heavy enough for a MobileNetV2 student to be worth deploying;
`--blocks 3,3,3 --filters 16,32,64` is ResNet-20.

Training: SGD with momentum 0.9, weight decay 5e-4, learning rate 0.1 with cosine decay, batch
128, RandomCrop(28, padding=2) and RandomHorizontalFlip done on the tensors, torch.manual_seed(0),
2 threads. Inputs are pixels / 255 normalized with the training set's mean and std, NCHW.

Writes, next to itself:
  teacher.onnx            input 'image' float32 [N, 1, 28, 28] (dynamic N), output 'logits' [N, 10],
                          and for feature methods the outputs of the three stages ('stage_1',
                          'stage_2', 'stage_3': NCHW maps after each stage's last block) and
                          'embedding' (the pooled [N, 128] vector the linear layer reads);
                          torch.onnx.export, opset 17, eval mode (batch norm uses its running
                          statistics). The normalization is NOT in the graph: distill.yaml asks
                          kdkit to apply it.
  teacher.pt              the state_dict, for re-exporting
  pytorch-accuracy.json   {"accuracy", "test", "torch", "epochs", "seconds", "parameters", ...}
"""
import argparse
import importlib.util
import json
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

HERE = Path(__file__).resolve().parent
# The IDX reader and the normalization constants of the other example, loaded by path.
_spec = importlib.util.spec_from_file_location('pytorch_teacher_train', HERE.parent / 'pytorch-teacher' / 'train.py')
_other = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_other)
MEAN, STD, load_split, to_input = _other.MEAN, _other.STD, _other.load_split, _other.to_input


class ResNet(nn.Module):
    def __init__(self, blocks=(2, 2, 2), filters=(16, 32, 64), classes=10):
        super().__init__()
        channels = filters[0]
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, 1, 1, bias=False), nn.BatchNorm2d(channels), nn.ReLU(inplace=True))
        layers = []
        for stage, (count, width) in enumerate(zip(blocks, filters)):
            for index in range(count):
                stride = 2 if index == 0 and stage > 0 else 1
                downsample = None
                if stride != 1 or channels != width:
                    downsample = nn.Sequential(nn.Conv2d(channels, width, 1, stride, bias=False), nn.BatchNorm2d(width))
                layers.append(BasicBlock(channels, width, stride, downsample))
                channels = width
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

        self.stage_ends = [sum(blocks[:i + 1]) - 1 for i in range(len(blocks))]

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def forward_features(self, x):
        """The logits, each stage's output and the pooled embedding: what teacher.onnx outputs."""
        x = self.stem(x)
        stages = []
        for index, block in enumerate(self.blocks):
            x = block(x)
            if index in self.stage_ends:
                stages.append(x)
        embedding = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return (self.fc(embedding), *stages, embedding)


class WithFeatures(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.forward_features(x)


def augment(x: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """RandomCrop(h, padding) and RandomHorizontalFlip on a batch, per sample."""
    n, _, h, w = x.shape
    # Zero padding of the raw pixels is the normalized value of a black pixel.
    padded = F.pad(x, (padding,) * 4, value=-MEAN / STD)
    tops = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    lefts = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        crop = padded[i, :, tops[i]:tops[i] + h, lefts[i]:lefts[i] + w]
        out[i] = crop.flip(-1) if flips[i] else crop
    return out


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data', type=Path, default=Path('/usr/share/datasets/fashion-mnist'))
    parser.add_argument('--epochs', type=int, default=15)
    parser.add_argument('--blocks', default='2,2,2')
    parser.add_argument('--filters', default='32,64,128')
    parser.add_argument('--out', type=Path, default=HERE)
    args = parser.parse_args()
    blocks = tuple(int(b) for b in args.blocks.split(','))
    filters = tuple(int(f) for f in args.filters.split(','))
    if len(filters) != len(blocks):
        parser.error(f'--filters needs one width per stage of --blocks ({len(blocks)}), got {args.filters}')

    torch.manual_seed(0)
    torch.set_num_threads(2)
    generator = torch.Generator().manual_seed(0)
    started = time.time()
    train_images, train_labels = load_split(args.data, 'train')
    test_images, test_labels = load_split(args.data, 't10k')
    x_train, y_train = to_input(train_images), torch.from_numpy(train_labels.astype('int64'))
    x_test, y_test = to_input(test_images), torch.from_numpy(test_labels.astype('int64'))

    model = ResNet(blocks, filters)
    parameters = sum(p.numel() for p in model.parameters())
    print(f'ResNet blocks {list(blocks)}, filters {list(filters)}: {parameters:,} parameters')
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    batch_size = 128
    steps = args.epochs * math.ceil(len(x_train) / batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for epoch in range(1, args.epochs + 1):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        total, t0 = 0.0, time.time()
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(augment(x_train[idx], 2, generator)), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += loss.item() * len(idx)
        accuracy = (predict(model, x_test).argmax(1) == y_test).float().mean().item()
        print(f'epoch {epoch}/{args.epochs}: loss {total / len(x_train):.4f}, test accuracy {accuracy:.4f}, {time.time() - t0:.0f} s', flush=True)

    logits = predict(model, x_test)
    accuracy = (logits.argmax(1) == y_test).float().mean().item()
    args.out.mkdir(parents=True, exist_ok=True)
    onnx_path = args.out / 'teacher.onnx'
    tmp = onnx_path.with_suffix('.onnx.tmp')
    model.eval()
    outputs = ['logits', *[f'stage_{i + 1}' for i in range(len(blocks))], 'embedding']
    torch.onnx.export(WithFeatures(model), torch.zeros(1, 1, 28, 28), str(tmp), input_names=['image'], output_names=outputs,
                      dynamic_axes={name: {0: 'batch'} for name in ['image', *outputs]}, opset_version=17)
    tmp.replace(onnx_path)
    torch.save(model.state_dict(), args.out / 'teacher.pt.tmp')
    (args.out / 'teacher.pt.tmp').replace(args.out / 'teacher.pt')
    record = {
        'accuracy': accuracy, 'test': len(y_test), 'torch': torch.__version__, 'epochs': args.epochs,
        'blocks': list(blocks), 'filters': list(filters), 'parameters': parameters, 'seconds': round(time.time() - started, 1),
        'mean': MEAN, 'std': STD,
    }
    (args.out / 'pytorch-accuracy.json').write_text(json.dumps(record, indent=2) + '\n')
    print(json.dumps(record))


if __name__ == '__main__':
    main()
