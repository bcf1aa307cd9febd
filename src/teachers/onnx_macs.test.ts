import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { countable, countMacs, probedValues } from './onnx_macs.js';
import { decodeModel, withExtraOutputs } from '../engine/ort/onnx_model.js';

/** A decoded graph as protobufjs gives it: x → Conv(W) → y → MatMul(B) → Gemm(A, C, transA) → logits, with free ops between. */
const model = {
  graph: {
    input: [{ name: 'x' }],
    output: [{ name: 'logits' }],
    initializer: [
      { name: 'W', dims: [8, 2, 3, 3] },
      { name: 'B', dims: [5, 6] },
      { name: 'C', dims: [4, 7] },
    ],
    node: [
      { opType: 'Conv', input: ['x', 'W'], output: ['y'], attribute: [{ name: 'group', i: 2 }] },
      { opType: 'Relu', input: ['y'], output: ['r'] },
      { opType: 'Reshape', input: ['r', 'shape'], output: ['flat'] },
      { opType: 'MatMul', input: ['flat', 'B'], output: ['m'] },
      { opType: 'Transpose', input: ['m'], output: ['mt'] },
      { opType: 'Gemm', input: ['mt', 'C'], output: ['logits'], attribute: [{ name: 'transA', i: 1 }] },
    ],
  },
};

test('the values probed are the counted nodes’ inputs and outputs that are neither weights nor graph inputs or outputs', () => {
  assert.deepEqual(probedValues(model), ['y', 'flat', 'm', 'mt']);
});

test('extra outputs are appended to the bytes as they are: every other field survives', () => {
  // A Constant node's tensor (AttributeProto.t) is outside kdkit's schema; decoding and encoding again would lose it.
  const bytes = readFileSync(join('test', 'fixtures', 'text-teacher.onnx'));
  const merged = decodeModel(withExtraOutputs(bytes, ['extra_1', 'extra_2'])) as { graph: { output: { name: string }[] } };
  const original = decodeModel(bytes) as { graph: { output: { name: string }[] } };
  assert.deepEqual(
    merged.graph.output.map((output) => output.name),
    [...original.graph.output.map((output) => output.name), 'extra_1', 'extra_2'],
  );
  assert.deepEqual(withExtraOutputs(bytes, ['extra_1']).subarray(0, bytes.byteLength), new Uint8Array(bytes));
});

test('multiply-accumulates by hand for Conv (grouped), MatMul and Gemm with transA; elementwise and shape ops are free', () => {
  const shapes = new Map([
    ['x', [1, 4, 10, 10]],
    ['y', [1, 8, 10, 10]],
    ['flat', [1, 5]],
    ['m', [1, 6]],
    ['mt', [6, 1]],
    ['logits', [1, 7]],
  ]);
  // Conv: 8·10·10 outputs × (4/2)·3·3 = 14,400; MatMul: 6 outputs × K 5 = 30; Gemm: 7 outputs × K 6 (transA: A's rows) = 42.
  assert.equal(countMacs(model, shapes), 14_400 + 30 + 42);
  shapes.delete('m');
  assert.equal(countMacs(model, shapes), null, 'a missing shape gives no count rather than a wrong one');
});

test('a MatMul of two computed values (attention) counts from A and the output; unknown heavy operators give no count', () => {
  const attention = {
    graph: {
      input: [{ name: 'q' }, { name: 'k' }],
      output: [{ name: 'scores' }],
      node: [{ opType: 'MatMul', input: ['q', 'k'], output: ['scores'] }],
    },
  };
  // [1, 4, 6, 8] · [1, 4, 8, 6]: 4·6·6 outputs × K 8.
  assert.equal(
    countMacs(
      attention,
      new Map([
        ['q', [1, 4, 6, 8]],
        ['k', [1, 4, 8, 6]],
        ['scores', [1, 4, 6, 6]],
      ]),
    ),
    1152,
  );
  for (const node of [{ opType: 'QLinearConv' }, { opType: 'LSTM' }, { opType: 'FusedConv', domain: 'com.microsoft' }]) {
    const withNode = { graph: { ...attention.graph, node: [...attention.graph.node, node] } };
    assert.equal(countable(withNode), false, JSON.stringify(node));
    assert.equal(countMacs(withNode, new Map()), null);
  }
});
