import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOrt, type BindingRuntime } from './binding.js';
import { encodeModel } from './onnx_model.js';

function runtime(): BindingRuntime {
  const loaded = loadOrt();
  if (typeof loaded === 'string') assert.fail(`ONNX Runtime did not load: ${loaded}`);
  return loaded;
}

// Y = 2·A·Bᵀ with A 2×3 and B 2×3 (Gemm, transB = 1, alpha = 2).
const gemmModel = encodeModel({
  inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 3] }],
  outputs: [{ name: 'y', shape: [2, 2] }],
  nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes: { transB: { int: 1 }, alpha: { float: 2 } } }],
});

test('the onnxruntime-node binding loads, runs a Gemm synchronously and writes the preallocated output', () => {
  const ort = runtime();
  assert.match(ort.version, /^\d+\.\d+\.\d+/);
  const session = ort.createSession(gemmModel, { intraOpThreads: 1 });
  assert.deepEqual(session.inputNames, ['a', 'b']);
  assert.deepEqual(session.outputNames, ['y']);
  // Operands and output live in one buffer at offsets, as tensors do on the wasm heap.
  const heap = new Float32Array(2 + 6 + 6 + 4 + 2).fill(-99);
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
  session.dispose();
  session.dispose();
});

test('the binding reports a wrong input shape as an error instead of computing garbage', () => {
  const session = runtime().createSession(gemmModel, { intraOpThreads: 2 });
  const a = new Float32Array(6);
  assert.throws(() =>
    session.run({ a: { data: a, dims: [3, 2] }, b: { data: a, dims: [2, 3] } }, { y: { data: new Float32Array(4), dims: [2, 2] } }),
  );
  session.dispose();
});

test('the binding rejects a malformed model', () => {
  assert.throws(() => runtime().createSession(Uint8Array.of(1, 2, 3), { intraOpThreads: 1 }));
});
