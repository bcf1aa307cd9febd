import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countMacs, probedValues, probeModel } from './onnx_macs.js';

/** A decoded graph as protobufjs gives it: x → Conv(W) → y → MatMul(B) → Gemm(A, C, transA) → logits, and one Relu. */
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
      { opType: 'Conv', domain: 'com.microsoft.nchwc', input: ['x', 'W'], output: ['ignored'] },
    ],
  },
};

test('the values probed are the counted nodes’ inputs and outputs that are neither weights nor graph inputs or outputs', () => {
  assert.deepEqual(probedValues(model), ['y', 'flat', 'm', 'mt']);
  const probe = probeModel(model, ['y']) as { graph: { output: { name: string }[] } };
  assert.deepEqual(
    probe.graph.output.map((output) => output.name),
    ['logits', 'y'],
  );
  assert.equal(model.graph.output.length, 1, 'the model itself is untouched');
});

test('multiply-accumulates by hand for Conv (grouped), MatMul and Gemm with transA; other ops and domains are free', () => {
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
