#!/usr/bin/python3
"""Reference values for kdkit's model zoo (src/models/zoo/), computed with PyTorch and torchvision.

Run with Debian's interpreter, which has python3-torch and python3-torchvision:
    /usr/bin/python3 scripts/make_zoo_fixture.py
It writes test/fixtures/zoo.json atomically (to <path>.tmp, then renamed).

The networks are assembled from torchvision's own blocks: torchvision.models.resnet.BasicBlock and
Bottleneck, and torchvision.models.mobilenetv2.InvertedResidual, with the stems and heads kdkit's
zoo builds around them (a 3x3 stem without max pooling, global average pooling, a linear layer).
For each spec the fixture has:
  - parameters: the trainable weights' count, and the batch-norm running statistics' count;
  - for small cases, every weight in kdkit's layout keyed by kdkit's layer names, an NHWC input, the
    logits in train() mode (batch statistics) and in eval() mode (running statistics), and each
    batch norm's moving statistics after that one train() forward pass.

Inputs are odd-sized (9x9): a stride-2 3x3 conv with padding 1 (torchvision) then pads exactly as
TensorFlow's 'same' does (one on each side), so the two frameworks compute the same thing.

Moving variance: PyTorch's running_var moves towards the batch's unbiased variance, Keras' and
TensorFlow.js' towards the biased one. The fixture records the Keras rule, computed here from the
same batch: 0.9 * initial + 0.1 * var(unbiased=False). The moving mean is the same in both.
"""
import json
import os

import torch
import torch.nn as nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock, Bottleneck

torch.set_default_dtype(torch.float64)
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test", "fixtures", "zoo.json")


def make_divisible(value, divisor=8):
    # torchvision.models._utils._make_divisible
    new_value = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if new_value < 0.9 * value:
        new_value += divisor
    return new_value


def bn(channels):
    return nn.BatchNorm2d(channels, eps=1e-5, momentum=0.1)


class ResNet(nn.Module):
    """kdkit's `resnet` spec: 3x3 stem + BN + ReLU, torchvision blocks, global average pooling, linear."""

    def __init__(self, in_channels, num_classes, blocks, filters, bottleneck, stem=None):
        super().__init__()
        block_class = Bottleneck if bottleneck else BasicBlock
        channels = stem or filters[0]
        self.names = []  # (module, kdkit layer name) pairs, in build order
        self.stem_conv = nn.Conv2d(in_channels, channels, 3, 1, 1, bias=False)
        self.stem_bn = bn(channels)
        self.names += [(self.stem_conv, "stem_conv"), (self.stem_bn, "stem_bn")]
        layers = []
        k = 0
        for stage, (count, width) in enumerate(zip(blocks, filters)):
            out = width * block_class.expansion
            for index in range(count):
                k += 1
                stride = 2 if index == 0 and stage > 0 else 1
                downsample = None
                if stride != 1 or channels != out:
                    downsample = nn.Sequential(nn.Conv2d(channels, out, 1, stride, bias=False), bn(out))
                block = block_class(channels, width, stride, downsample)
                name = f"block_{k}"
                if bottleneck:
                    for i in (1, 2, 3):
                        self.names += [(getattr(block, f"conv{i}"), f"{name}_conv{i}"), (getattr(block, f"bn{i}"), f"{name}_bn{i}")]
                else:
                    for i in (1, 2):
                        self.names += [(getattr(block, f"conv{i}"), f"{name}_conv{i}"), (getattr(block, f"bn{i}"), f"{name}_bn{i}")]
                if downsample is not None:
                    self.names += [(downsample[0], f"{name}_shortcut_conv"), (downsample[1], f"{name}_shortcut_bn")]
                layers.append(block)
                channels = out
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(channels, num_classes)
        self.names.append((self.fc, "logits"))

    def forward(self, x):
        x = torch.relu(self.stem_bn(self.stem_conv(x)))
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


class MobileNetV2(nn.Module):
    """kdkit's `mobilenetv2` spec with torchvision's InvertedResidual blocks."""

    def __init__(self, in_channels, num_classes, stages, width=1.0, stem=16, stem_stride=1, last=128):
        super().__init__()
        self.names = []
        channels = make_divisible(stem * width)
        self.stem_conv = nn.Conv2d(in_channels, channels, 3, stem_stride, 1, bias=False)
        self.stem_bn = bn(channels)
        self.names += [(self.stem_conv, "stem_conv"), (self.stem_bn, "stem_bn")]
        layers = []
        k = 0
        for t, c, n, s in stages:
            out = make_divisible(int(c * width))
            for index in range(n):
                k += 1
                stride = s if index == 0 else 1
                block = InvertedResidual(channels, out, stride, t, norm_layer=bn)
                name = f"block_{k}"
                modules = list(block.conv)
                residual = stride == 1 and channels == out
                if t != 1:
                    expand = modules.pop(0)  # Conv2dNormActivation: conv, BN, ReLU6
                    self.names += [(expand[0], f"{name}_expand"), (expand[1], f"{name}_expand_bn")]
                depthwise, project, project_bn = modules
                self.names += [(depthwise[0], f"{name}_depthwise"), (depthwise[1], f"{name}_depthwise_bn")]
                self.names += [(project, f"{name}_project"), (project_bn, f"{name}_project_bn" if residual else name)]
                layers.append(block)
                channels = out
        self.blocks = nn.Sequential(*layers)
        last_channels = make_divisible(last * width) if width > 1 else last
        self.head_conv = nn.Conv2d(channels, last_channels, 1, bias=False)
        self.head_bn = bn(last_channels)
        self.fc = nn.Linear(last_channels, num_classes)
        self.names += [(self.head_conv, "head_conv"), (self.head_bn, "head_bn"), (self.fc, "logits")]

    def forward(self, x):
        x = nn.functional.relu6(self.stem_bn(self.stem_conv(x)))
        x = self.blocks(x)
        x = nn.functional.relu6(self.head_bn(self.head_conv(x)))
        return self.fc(x.mean(dim=(2, 3)))


def counts(model):
    trainable = sum(p.numel() for p in model.parameters())
    running = sum(m.running_mean.numel() + m.running_var.numel() for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    return {"trainable": trainable, "runningStatistics": running}


def flat(tensor):
    return [float(v) for v in tensor.detach().reshape(-1).tolist()]


def kdkit_weights(model):
    """Every weight in kdkit's (TensorFlow.js) layout and order, keyed by kdkit's layer name."""
    weights = {}
    for module, name in model.names:
        if isinstance(module, nn.Conv2d):
            if module.groups == 1:
                kernel = module.weight.permute(2, 3, 1, 0)  # [out, in, kh, kw] -> [kh, kw, in, out]
            else:
                kernel = module.weight.permute(2, 3, 0, 1)  # depthwise [in, 1, kh, kw] -> [kh, kw, in, 1]
            weights[name] = [{"shape": list(kernel.shape), "values": flat(kernel)}]
        elif isinstance(module, nn.BatchNorm2d):
            weights[name] = [
                {"shape": [module.num_features], "values": flat(v)}
                for v in (module.weight, module.bias, module.running_mean, module.running_var)
            ]
        elif isinstance(module, nn.Linear):
            weights[name] = [
                {"shape": list(module.weight.T.shape), "values": flat(module.weight.T)},
                {"shape": list(module.bias.shape), "values": flat(module.bias)},
            ]
    return weights


def randomize_batch_norms(model, generator):
    """Batch norms whose affine weights and running statistics are not the identity, so eval differs from train."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.3 * torch.randn(m.num_features, generator=generator))
                m.bias.copy_(0.2 * torch.randn(m.num_features, generator=generator))
                m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=generator))
                m.running_var.copy_(1 + 0.5 * torch.rand(m.num_features, generator=generator))


def modes_case(model, input_shape, generator):
    randomize_batch_norms(model, generator)
    weights = kdkit_weights(model)
    x = torch.rand(4, input_shape[2], input_shape[0], input_shape[1], generator=generator)
    batch_norms = [(m, name) for m, name in model.names if isinstance(m, nn.BatchNorm2d)]
    initial = {name: (m.running_mean.clone(), m.running_var.clone()) for m, name in batch_norms}
    inputs = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, n=name: inputs.__setitem__(n, args[0].detach())) for m, name in batch_norms]
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    with torch.no_grad():
        train_logits = model(x)
    for hook in hooks:
        hook.remove()
    moving = {}
    for m, name in batch_norms:
        seen = inputs[name]
        mean0, var0 = initial[name]
        moving[name] = {
            # Checked against PyTorch's own update for the mean; the variance by the Keras rule (see above).
            "mean": flat(m.running_mean),
            "variance": flat(0.9 * var0 + 0.1 * seen.var(dim=(0, 2, 3), unbiased=False)),
        }
        assert torch.allclose(m.running_mean, 0.9 * mean0 + 0.1 * seen.mean(dim=(0, 2, 3)))
    return {
        "inputShape": list(input_shape),
        "input": {"shape": [4, *input_shape], "values": flat(x.permute(0, 2, 3, 1))},
        "weights": weights,
        "trainLogits": flat(train_logits),
        "evalLogits": flat(eval_logits),
        "movingAfterTrain": moving,
    }


def main():
    torch.manual_seed(20261205)
    generator = torch.Generator().manual_seed(20261205)
    small = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 2, 2]]
    cases = []
    for spec, build, input_shape, classes in [
        ({"type": "resnet"}, lambda: ResNet(1, 10, [2, 2, 2], [16, 32, 64], False), [28, 28, 1], 10),
        ({"type": "resnet", "blocks": [3, 4, 6, 3], "filters": [64, 128, 256, 512], "bottleneck": True},
         lambda: ResNet(3, 100, [3, 4, 6, 3], [64, 128, 256, 512], True), [32, 32, 3], 100),
        ({"type": "resnet", "blocks": [3, 3, 3], "filters": [16, 32, 64], "stem": 8},
         lambda: ResNet(3, 100, [3, 3, 3], [16, 32, 64], False, stem=8), [32, 32, 3], 100),
        ({"type": "mobilenetv2"}, lambda: MobileNetV2(1, 10, small), [28, 28, 1], 10),
        ({"type": "mobilenetv2", "widthMultiplier": 0.5}, lambda: MobileNetV2(1, 10, small, width=0.5), [28, 28, 1], 10),
        ({"type": "mobilenetv2", "widthMultiplier": 1.4, "lastFilters": 1280, "stem": 32, "stemStride": 2,
          "stages": [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]]},
         lambda: MobileNetV2(3, 1000, [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]],
                             width=1.4, stem=32, stem_stride=2, last=1280), [224, 224, 3], 1000),
    ]:
        cases.append({"spec": spec, "inputShape": input_shape, "classes": classes, **counts(build())})

    modes = [
        {"spec": {"type": "resnet", "blocks": [1, 1], "filters": [4, 8]},
         **modes_case(ResNet(2, 3, [1, 1], [4, 8], False), [9, 9, 2], generator)},
        {"spec": {"type": "resnet", "blocks": [1, 1], "filters": [2, 4], "bottleneck": True},
         **modes_case(ResNet(2, 3, [1, 1], [2, 4], True), [9, 9, 2], generator)},
        {"spec": {"type": "mobilenetv2", "stages": [[1, 8, 1, 1], [6, 16, 2, 2]], "stem": 8, "lastFilters": 16},
         **modes_case(MobileNetV2(2, 3, [[1, 8, 1, 1], [6, 16, 2, 2]], stem=8, last=16), [9, 9, 2], generator)},
    ]
    text = json.dumps({"torch": torch.__version__, "parameters": cases, "modes": modes})
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, OUT)
    print(f"wrote {OUT} ({len(text)} bytes)")


if __name__ == "__main__":
    main()
