#!/usr/bin/python3
"""A tiny PyTorch-exported ONNX teacher and its expected outputs, for kdkit's ONNX-teacher tests.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/make_onnx_teacher_fixture.py
It rewrites three files, each atomically (written to <path>.tmp, then renamed):
  test/fixtures/torch-teacher.onnx  an untrained CNN for 8x8x1 images (kdkit's digits):
                                    conv 1->4 3x3 (padding 1) -> relu -> maxpool 2 -> flatten
                                    -> linear 64->10. Opset 17, input 'image' float32
                                    [N, 1, 8, 8] (NCHW, dynamic N), two outputs:
                                      'logits'    [N, 10]
                                      'features'  [N, 64], the pooled map [N, 4, 4, 4] flattened
                                                  in PyTorch (C, H, W) order
                                    Normalization is NOT in the graph.
  test/fixtures/torch-teacher-batch1.onnx  the same model exported without dynamic_axes, so
                                    its batch axis is fixed at 1 (torch.onnx.export's default)
  test/fixtures/torch-teacher.json  the inputs as kdkit feeds a teacher (NHWC float32 in [0, 1],
                                    flat row-major list + shape [6, 8, 8, 1]), the normalization
                                    kdkit's adapter must apply ((x - 0.3) / 0.2, after the
                                    transpose to NCHW), and PyTorch's float32 outputs for those
                                    inputs (flat row-major lists + shapes)
Deterministic: weights from torch.manual_seed(20261130); inputs are multiples of 1/16 (as the
digits dataset's 0..16 pixels scaled to [0, 1]) from a torch.Generator seeded with 20261131.
"""
import io
import json
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
MEAN, STD = 0.3, 0.2
SAMPLES = 6

torch.manual_seed(20261130)


class TinyCnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, image):
        features = torch.flatten(F.max_pool2d(F.relu(self.conv(image)), 2), 1)
        return self.fc(features), features


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main():
    model = TinyCnn().eval()
    generator = torch.Generator().manual_seed(20261131)
    nhwc = torch.randint(0, 17, (SAMPLES, 8, 8, 1), generator=generator).to(torch.float32) / 16
    nchw = ((nhwc.permute(0, 3, 1, 2).contiguous() - MEAN) / STD).to(torch.float32)
    with torch.no_grad():
        logits, features = model(nchw)

    buffer = io.BytesIO()
    torch.onnx.export(
        model, torch.zeros(1, 1, 8, 8), buffer, opset_version=17,
        input_names=['image'], output_names=['logits', 'features'],
        dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}, 'features': {0: 'batch'}})
    onnx_bytes = buffer.getvalue()
    # The same model exported without dynamic_axes, as torch.onnx.export does by default: its batch
    # axis is fixed at 1, which kdkit must refuse with advice rather than fail on its first batch.
    fixed = io.BytesIO()
    torch.onnx.export(model, torch.zeros(1, 1, 8, 8), fixed, opset_version=17,
                      input_names=['image'], output_names=['logits', 'features'])

    fixture = {
        'generator': 'scripts/make_onnx_teacher_fixture.py',
        'torch': torch.__version__,
        'onnx': 'torch-teacher.onnx',
        'inputName': 'image',
        'inputLayout': 'nchw',
        'outputNames': ['logits', 'features'],
        'normalize': {'mean': [MEAN], 'std': [STD]},
        'input': {'layout': 'nhwc', 'shape': list(nhwc.shape), 'data': flat(nhwc)},
        'outputs': {
            'logits': {'shape': list(logits.shape), 'data': flat(logits)},
            'features': {'shape': list(features.shape), 'order': 'NCHW-flattened (c, h, w)',
                         'data': flat(features)},
        },
    }
    os.makedirs(FIXTURES, exist_ok=True)
    write_atomic(os.path.join(FIXTURES, 'torch-teacher.onnx'), onnx_bytes)
    write_atomic(os.path.join(FIXTURES, 'torch-teacher-batch1.onnx'), fixed.getvalue())
    write_atomic(os.path.join(FIXTURES, 'torch-teacher.json'),
                 (json.dumps(fixture, indent=1) + '\n').encode())
    print(f'wrote test/fixtures/torch-teacher.onnx ({len(onnx_bytes)} bytes) and '
          f'test/fixtures/torch-teacher.json (logits {list(logits.shape)}, '
          f'features {list(features.shape)})')


if __name__ == '__main__':
    main()
