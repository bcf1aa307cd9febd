#!/usr/bin/python3
"""Tiny PyTorch-exported ONNX teachers whose inputs are not one float image, and their expected
outputs, for kdkit's tests of named, typed inputs.

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 scripts/make_onnx_named_inputs_fixture.py
It rewrites four files, each atomically (written to <path>.tmp, then renamed):
  test/fixtures/text-teacher.onnx  an untrained text classifier with Hugging Face input names:
                                   'input_ids' and 'attention_mask', both int64 [N, 6] (dynamic N),
                                   embedding 20 -> 8, each token's vector multiplied by its mask,
                                   mean over the unmasked tokens (sum / max(mask sum, 1)), linear
                                   8 -> 3. Opset 17, two outputs:
                                     'logits'  [N, 3]
                                     'pooled'  [N, 8], the masked mean
  test/fixtures/text-teacher.json  the inputs as kdkit holds them (int32 token ids and masks, flat
                                   row-major lists + shape [5, 6]; padding ids are 0 where the
                                   mask is 0, and one row's padding holds other ids, which the
                                   mask must hide) and PyTorch's float32 outputs for them
  test/fixtures/half-teacher.onnx  a linear 4 -> 3 whose input 'x' [N, 4] and output 'logits'
                                   [N, 3] are float16 (cast to float32 and back inside the graph)
  test/fixtures/half-teacher.json  float32 inputs exactly representable in float16 (multiples of
                                   1/8) and PyTorch's float16 outputs, as float values
Deterministic: weights from torch.manual_seed(20260314); inputs from a torch.Generator seeded
with 20260315.
"""
import io
import json
import os

import torch
import torch.nn as nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, 'test', 'fixtures')
VOCAB, DIM, CLASSES, LENGTH, SAMPLES = 20, 8, 3, 6, 5

torch.manual_seed(20260314)


class TinyText(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        self.fc = nn.Linear(DIM, CLASSES)

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.to(torch.float32).unsqueeze(-1)
        summed = (self.embed(input_ids) * mask).sum(dim=1)
        pooled = summed / mask.sum(dim=1).clamp(min=1.0)
        return self.fc(pooled), pooled


class HalfLinear(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(x.to(torch.float32)).to(torch.float16)


def write_atomic(path, data):
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(data)
    os.replace(tmp, path)


def flat(t):
    return [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]


def ints(t):
    return [int(v) for v in t.reshape(-1).tolist()]


def export(model, args, input_names, output_names):
    buffer = io.BytesIO()
    torch.onnx.export(
        model, args, buffer, opset_version=17, input_names=input_names, output_names=output_names,
        dynamic_axes={name: {0: 'batch'} for name in input_names + output_names})
    return buffer.getvalue()


def text_fixture(generator):
    model = TinyText().eval()
    lengths = torch.tensor([6, 1, 3, 4, 2])
    positions = torch.arange(LENGTH).unsqueeze(0)
    attention_mask = (positions < lengths.unsqueeze(1)).to(torch.int64)
    input_ids = torch.randint(1, VOCAB, (SAMPLES, LENGTH), generator=generator) * attention_mask
    # Row 3's padding holds real ids: only the mask keeps them out of the mean.
    input_ids[3, 4:] = torch.tensor([7, 9])
    with torch.no_grad():
        logits, pooled = model(input_ids, attention_mask)
    onnx_bytes = export(model, (input_ids[:1], attention_mask[:1]), ['input_ids', 'attention_mask'], ['logits', 'pooled'])
    fixture = {
        'generator': 'scripts/make_onnx_named_inputs_fixture.py',
        'torch': torch.__version__,
        'onnx': 'text-teacher.onnx',
        'inputNames': ['input_ids', 'attention_mask'],
        'inputType': 'int64',
        'outputNames': ['logits', 'pooled'],
        'inputs': {
            'input_ids': {'shape': list(input_ids.shape), 'data': ints(input_ids)},
            'attention_mask': {'shape': list(attention_mask.shape), 'data': ints(attention_mask)},
        },
        'outputs': {
            'logits': {'shape': list(logits.shape), 'data': flat(logits)},
            'pooled': {'shape': list(pooled.shape), 'data': flat(pooled)},
        },
    }
    return onnx_bytes, fixture


def half_fixture(generator):
    model = HalfLinear().eval()
    x = (torch.randint(-16, 17, (SAMPLES, 4), generator=generator).to(torch.float32) / 8).to(torch.float16)
    with torch.no_grad():
        logits = model(x)
    onnx_bytes = export(model, (x[:1],), ['x'], ['logits'])
    fixture = {
        'generator': 'scripts/make_onnx_named_inputs_fixture.py',
        'torch': torch.__version__,
        'onnx': 'half-teacher.onnx',
        'inputType': 'float16',
        'input': {'shape': list(x.shape), 'data': flat(x)},
        'outputs': {'logits': {'shape': list(logits.shape), 'type': 'float16', 'data': flat(logits)}},
    }
    return onnx_bytes, fixture


def main():
    generator = torch.Generator().manual_seed(20260315)
    os.makedirs(FIXTURES, exist_ok=True)
    for name, make in [('text-teacher', text_fixture), ('half-teacher', half_fixture)]:
        onnx_bytes, fixture = make(generator)
        write_atomic(os.path.join(FIXTURES, f'{name}.onnx'), onnx_bytes)
        write_atomic(os.path.join(FIXTURES, f'{name}.json'), (json.dumps(fixture, indent=1) + '\n').encode())
        print(f'wrote test/fixtures/{name}.onnx ({len(onnx_bytes)} bytes) and test/fixtures/{name}.json')


if __name__ == '__main__':
    main()
