import assert from 'node:assert/strict';
import { test } from 'node:test';
import { planMatMul, type MatMulSpec } from './mat_mul_graph.js';

const spec = (overrides: Partial<MatMulSpec>): MatMulSpec => ({
  aShape: [7, 13],
  bShape: [13, 5],
  transposeA: false,
  transposeB: false,
  activation: 'linear',
  ...overrides,
});

test('single matrices become one Gemm carrying the transposes and a rank-1 bias', () => {
  const plan = planMatMul(spec({ aShape: [13, 7], bShape: [5, 13], transposeA: true, transposeB: true, biasShape: [5] }));
  assert.deepEqual(plan, {
    outputShape: [7, 5],
    graph: {
      inputs: [
        { name: 'a', shape: [13, 7] },
        { name: 'b', shape: [5, 13] },
        { name: 'bias', shape: [5] },
      ],
      outputs: [{ name: 'y', shape: [7, 5] }],
      nodes: [{ opType: 'Gemm', inputs: ['a', 'b', 'bias'], outputs: ['y'], attributes: { transA: { int: 1 }, transB: { int: 1 } } }],
    },
  });
});

test('a batch of one is a single matrix: Gemm on the inner dims, reported with the batch dim', () => {
  const plan = planMatMul(spec({ aShape: [1, 7, 13], bShape: [1, 13, 5], biasShape: [1, 1, 5], activation: 'relu' }));
  assert.deepEqual(plan?.outputShape, [1, 7, 5]);
  assert.deepEqual(plan?.graph.inputs, [
    { name: 'a', shape: [7, 13] },
    { name: 'b', shape: [13, 5] },
    { name: 'bias', shape: [5] },
  ]);
  assert.deepEqual(
    plan?.graph.nodes.map((node) => [node.opType, node.inputs, node.outputs]),
    [
      ['Gemm', ['a', 'b', 'bias'], ['preActivation']],
      ['Relu', ['preActivation'], ['y']],
    ],
  );
});

test('a real batch becomes Transpose + MatMul + Add, broadcasting batch dims', () => {
  const plan = planMatMul(
    spec({ aShape: [3, 13, 7], bShape: [1, 13, 5], transposeA: true, biasShape: [5], activation: 'leakyrelu', leakyreluAlpha: 0.1 }),
  );
  assert.deepEqual(plan?.outputShape, [3, 7, 5]);
  assert.deepEqual(plan?.graph.outputs, [{ name: 'y', shape: [3, 7, 5] }]);
  assert.deepEqual(plan?.graph.nodes, [
    { opType: 'Transpose', inputs: ['a'], outputs: ['aT'], attributes: { perm: { ints: [0, 2, 1] } } },
    { opType: 'MatMul', inputs: ['aT', 'b'], outputs: ['product'] },
    { opType: 'Add', inputs: ['product', 'bias'], outputs: ['preActivation'] },
    { opType: 'LeakyRelu', inputs: ['preActivation'], outputs: ['y'], attributes: { alpha: { float: 0.1 } } },
  ]);
});

test('planMatMul declines empty operands, mismatched inner dims, unbroadcastable batches and enlarging biases', () => {
  assert.equal(planMatMul(spec({ aShape: [0, 13] })), undefined);
  assert.equal(planMatMul(spec({ bShape: [12, 5] })), undefined);
  assert.equal(planMatMul(spec({ aShape: [2, 7, 13], bShape: [3, 13, 5] })), undefined);
  assert.equal(planMatMul(spec({ biasShape: [2, 7, 5] })), undefined);
  assert.equal(planMatMul(spec({ biasShape: [4] })), undefined);
});
