import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import { loadOrtCApi } from './capi.js';
import { assertGemmRunsInPlace, gemmModel } from './gemm.test.util.js';
import type { OrtRuntime } from './runtime.js';

function runtime(): OrtRuntime {
  const loaded = loadOrtCApi();
  if (typeof loaded === 'string') assert.fail(`ONNX Runtime's C API did not load: ${loaded}`);
  return loaded;
}

test('the C API is the library onnxruntime-node ships, at its version', () => {
  const ort = runtime();
  assert.equal(ort.kind, 'c-api');
  const { version } = createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string };
  assert.equal(ort.version, version);
});

test('the C API runs a Gemm on tensors at offsets of one buffer, writing only the output', () => {
  const session = runtime().createSession(gemmModel, { intraOpThreads: 2 });
  assertGemmRunsInPlace(session);
  session.dispose();
  session.dispose();
  assert.throws(() => session.run({}, {}), /after it was disposed/);
});

test('the C API reports a wrong shape, a missing input and a malformed model as errors', () => {
  const session = runtime().createSession(gemmModel, { intraOpThreads: 1 });
  const six = new Float32Array(6);
  const output = { y: { data: new Float32Array(4), dims: [2, 2] } };
  assert.throws(
    () => session.run({ a: { data: six, dims: [3, 2] }, b: { data: six, dims: [2, 3] } }, output),
    /dimension|shape|Got invalid/i,
  );
  assert.throws(() => session.run({ a: { data: six, dims: [2, 3] } }, output), /input|missing|b/i);
  assert.throws(() => session.run({ a: { data: six, dims: [2, 3] }, b: { data: new Float32Array(2), dims: [2, 3] } }, output));
  session.dispose();
  assert.throws(() => runtime().createSession(Uint8Array.of(1, 2, 3), { intraOpThreads: 1 }), /protobuf|model|parse/i);
});
