#!/usr/bin/python3
"""PyTorch reference for bench/zoo-step.js: median ms per KD training step (0.9·kd(T=4) + 0.1·ce
against fixed teacher logits, Adam 1e-3, batch 128) of the same two students, layer for layer,
printed as JSON with their parameter counts. Debian's python3-torch 1.13.

Usage: /usr/bin/python3 bench/torch_zoo_step.py STEPS THREADS
(bench/torch_kd_epoch.py imports the models from here.)
"""
import json
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_step import kd_step_ms


def conv_bn(cin, cout, kernel, stride=1, groups=1):
    # 'same' padding as Keras gives it for these sizes (28 → 14 → 7 → 4 at stride 2).
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]


class InvertedResidual(nn.Module):
    def __init__(self, cin, expansion, cout, stride):
        super().__init__()
        hidden = cin * expansion
        layers = [] if expansion == 1 else [*conv_bn(cin, hidden, 1), nn.ReLU6()]
        layers += [*conv_bn(hidden, hidden, 3, stride, groups=hidden), nn.ReLU6(), *conv_bn(hidden, cout, 1)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet():
    layers = [*conv_bn(1, 16, 3), nn.ReLU6()]
    cin = 16
    for t, c, n, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 2, 2)]:
        for i in range(n):
            layers.append(InvertedResidual(cin, t, c, s if i == 0 else 1))
            cin = c
    layers += [*conv_bn(cin, 128, 1), nn.ReLU6(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(*conv_bn(cin, cout, 3, stride), nn.ReLU(), *conv_bn(cout, cout, 3))
        self.shortcut = nn.Sequential(*conv_bn(cin, cout, 1, stride)) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


def resnet():
    layers = [*conv_bn(1, 16, 3), nn.ReLU()]
    cin = 16
    for stage, cout in enumerate([16, 32, 64]):
        for i in range(2):
            layers.append(BasicBlock(cin, cout, 2 if stage > 0 and i == 0 else 1))
            cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, 10)]
    return nn.Sequential(*layers)


if __name__ == "__main__":
    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    models = {"mobilenet": mobilenet(), "resnet": resnet()}
    # Trainable parameters (kdkit reports the same count).
    params = {name: sum(p.numel() for p in model.parameters()) for name, model in models.items()}
    print(json.dumps({"torch": torch.__version__, "threads": threads, "params": params, **{name: kd_step_ms(model, (1, 28, 28), steps) for name, model in models.items()}}))
