import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadOrt, type BindingRuntime } from './binding.js';
import { assertGemmRunsInPlace, gemmModel } from './gemm.test.util.js';

function runtime(): BindingRuntime {
  const loaded = loadOrt();
  if (typeof loaded === 'string') assert.fail(`ONNX Runtime did not load: ${loaded}`);
  return loaded;
}

test('the onnxruntime-node binding loads, runs a Gemm synchronously and writes the preallocated output', () => {
  const ort = runtime();
  assert.match(ort.version, /^\d+\.\d+\.\d+/);
  const session = ort.createSession(gemmModel, { intraOpThreads: 1 });
  assert.deepEqual(session.inputNames, ['a', 'b']);
  assert.deepEqual(session.outputNames, ['y']);
  assertGemmRunsInPlace(session);
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
