import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { loadOrtCApi } from './capi.js';
import { encodeModel } from './onnx_model.js';
import type { OrtRuntime } from './runtime.js';

function runtime(): OrtRuntime {
  const loaded = loadOrtCApi();
  if (typeof loaded === 'string') assert.fail(`ONNX Runtime's C API did not load: ${loaded}`);
  return loaded;
}

// Y = 2·A·Bᵀ with A 2×3 and B 2×3 (Gemm, transB = 1, alpha = 2).
const gemmModel = encodeModel({
  inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [2, 3] }],
  outputs: [{ name: 'y', shape: [2, 2] }],
  nodes: [{ opType: 'Gemm', inputs: ['a', 'b'], outputs: ['y'], attributes: { transB: { int: 1 }, alpha: { float: 2 } } }],
});

test('the C API is the library onnxruntime-node ships, at its version', () => {
  const ort = runtime();
  assert.equal(ort.kind, 'c-api');
  const { version } = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
  assert.equal(ort.version, version);
});

test('the C API runs a Gemm on tensors at offsets of one buffer, writing only the output', () => {
  const session = runtime().createSession(gemmModel, { intraOpThreads: 2 });
  // Operands and output live in one wasm memory at offsets, as tensors do on the wasm heap.
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
  session.dispose();
  session.dispose();
  assert.throws(() => session.run({}, {}), /after it was disposed/);
});

test('the C API reports a wrong shape, a missing input and a malformed model as errors', () => {
  const session = runtime().createSession(gemmModel, { intraOpThreads: 1 });
  const six = new Float32Array(6);
  const output = { y: { data: new Float32Array(4), dims: [2, 2] } };
  assert.throws(() => session.run({ a: { data: six, dims: [3, 2] }, b: { data: six, dims: [2, 3] } }, output), /dimension|shape|Got invalid/i);
  assert.throws(() => session.run({ a: { data: six, dims: [2, 3] } }, output), /input|missing|b/i);
  assert.throws(() => session.run({ a: { data: six, dims: [2, 3] }, b: { data: new Float32Array(2), dims: [2, 3] } }, output));
  session.dispose();
  assert.throws(() => runtime().createSession(Uint8Array.of(1, 2, 3), { intraOpThreads: 1 }), /protobuf|model|parse/i);
});
