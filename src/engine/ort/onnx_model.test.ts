import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeModel, encodeModel, opsetVersion } from './onnx_model.js';

test('encodeModel writes a typed one-node graph that decodes back field for field', () => {
  const bytes = encodeModel({
    inputs: [
      { name: 'a', shape: [7, 13] },
      { name: 'b', shape: [13, 5] },
    ],
    outputs: [{ name: 'y', shape: [7, 5] }],
    nodes: [
      {
        opType: 'Gemm',
        inputs: ['a', 'b'],
        outputs: ['y'],
        attributes: { alpha: { float: 1 }, transB: { int: 0 }, perm: { ints: [1, 0] }, scales: { floats: [0.5] }, mode: { string: 'x' } },
      },
    ],
  });
  const shape = (dims: number[]) => ({ tensorType: { elemType: 1, shape: { dim: dims.map((dimValue) => ({ dimValue })) } } });
  assert.deepEqual(decodeModel(bytes), {
    irVersion: 8,
    producerName: 'kdkit',
    opsetImport: [{ version: opsetVersion }],
    graph: {
      name: 'kdkit',
      input: [
        { name: 'a', type: shape([7, 13]) },
        { name: 'b', type: shape([13, 5]) },
      ],
      output: [{ name: 'y', type: shape([7, 5]) }],
      node: [
        {
          name: 'Gemm_0',
          opType: 'Gemm',
          input: ['a', 'b'],
          output: ['y'],
          // AttributeType: FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7. Zero values are proto3 defaults, so absent.
          attribute: [
            { name: 'alpha', type: 1, f: 1 },
            { name: 'transB', type: 2 },
            { name: 'perm', type: 7, ints: [1, 0] },
            { name: 'scales', type: 6, floats: [0.5] },
            { name: 'mode', type: 3, s: Buffer.from('x') },
          ],
        },
      ],
    },
  });
});

test('encodeModel imports version 1 of each extra operator domain a node uses', () => {
  const bytes = encodeModel({
    inputs: [{ name: 'a', shape: [2, 2] }],
    outputs: [{ name: 'y', shape: [2, 2] }],
    nodes: [{ opType: 'FusedMatMul', domain: 'com.microsoft', inputs: ['a', 'a'], outputs: ['y'] }],
  });
  const decoded = decodeModel(bytes) as { opsetImport: unknown[] };
  assert.deepEqual(decoded.opsetImport, [{ version: opsetVersion }, { domain: 'com.microsoft', version: 1 }]);
});
