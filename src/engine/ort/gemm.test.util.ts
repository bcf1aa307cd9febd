/**
 * Test support shared by the two ways to ONNX Runtime (capi.test.ts, binding.test.ts): one Gemm
 * model and a check that it runs on tensors at offsets of one buffer, writing only its output.
 */
import assert from 'node:assert/strict';
import { encodeModel } from './onnx_model.js';
import type { OrtSession } from './runtime.js';

/** Y = 2·A·Bᵀ with A 2×3 and B 2×3 (Gemm, transB = 1, alpha = 2). */
export const gemmModel = encodeModel({
  inputs: [
    { name: 'a', shape: [2, 3] },
    { name: 'b', shape: [2, 3] },
  ],
  outputs: [{ name: 'y', shape: [2, 2] }],
  nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes: { transB: { int: 1 }, alpha: { float: 2 } } }],
});

/** Runs gemmModel's session on operands and output at offsets of one wasm memory and checks it. */
export function assertGemmRunsInPlace(session: OrtSession): void {
  const heap = new Float32Array(new WebAssembly.Memory({ initial: 1 }).buffer, 0, 20).fill(-99);
  const a = heap.subarray(2, 8);
  const b = heap.subarray(8, 14);
  const y = heap.subarray(14, 18);
  a.set([1, 2, 3, 4, 5, 6]);
  b.set([1, 0, -1, 0.5, 0.5, 0.5]);
  session.run({ a: { data: a, dims: [2, 3] }, b: { data: b, dims: [2, 3] } }, { y: { data: y, dims: [2, 2] } });
  // Row·row dot products, doubled: [1-3, 0.5+1+1.5], [4-6, 2+2.5+3].
  assert.deepEqual([...y], [2 * -2, 2 * 3, 2 * -2, 2 * 7.5]);
  assert.deepEqual([...heap.subarray(0, 2)], [-99, -99], 'memory before the output is untouched');
  assert.deepEqual([...heap.subarray(18)], [-99, -99], 'memory after the output is untouched');
}
