/**
 * Test support: run the same computation on the cpu backend (the reference) and on wasm with
 * kdkit's kernels, and compare. Named *.test.util.ts so it is neither run as a test nor packaged.
 */
import assert from 'node:assert/strict';
import { Rng } from '../util/rng.js';
import { initEngine, tf, type BackendName, type EngineOptions } from './index.js';

/** Values uniform in [-1, 1) from a fixed seed, so that both backends see the same inputs. */
export function randomValues(size: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: size }, () => rng.next() * 2 - 1);
}

/** A tensor of `shape` filled by randomValues. */
export function randomTensor(shape: number[], seed: number): tf.Tensor {
  return tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);
}

/** An output read back from a backend. */
export interface Output {
  shape: number[];
  values: Float32Array;
}

/**
 * Runs `compute` inside tidy on `backend` and returns its outputs. Asserts that
 * no tensor and no backend buffer outlives the call, which catches kernels that forget to
 * dispose an intermediate.
 */
export async function outputsOn(backend: BackendName, compute: () => tf.Tensor[], engine: EngineOptions = {}): Promise<Output[]> {
  await initEngine({ ...engine, backend });
  // Leave NaNs in freed memory, so that a kernel reading memory it never wrote fails the test.
  tf.dispose([1 << 12, 1 << 16, 1 << 20].map((size) => tf.fill([size], NaN)));
  const tensorsBefore = tf.memory().numTensors;
  const buffersBefore = tf.engine().backend.numDataIds();
  const outputs = tf.tidy(compute);
  const read = outputs.map((output) => ({ shape: output.shape, values: Float32Array.from(output.dataSync()) }));
  tf.dispose(outputs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `tensors leaked on ${backend}`);
  assert.equal(tf.engine().backend.numDataIds(), buffersBefore, `backend buffers leaked on ${backend}`);
  return read;
}

/** Asserts |actual - expected| <= tolerance * max(1, |expected|) elementwise; NaN matches NaN. */
export function assertClose(actual: Float32Array, expected: Float32Array, tolerance: number, label: string): void {
  assert.equal(actual.length, expected.length, `${label}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (Number.isNaN(actual[i]) && Number.isNaN(expected[i])) continue;
    const error = Math.abs(actual[i] - expected[i]);
    if (!(error <= tolerance * Math.max(1, Math.abs(expected[i])))) {
      assert.fail(`${label}: element ${i} is ${actual[i]} on wasm, ${expected[i]} on cpu`);
    }
  }
}

/** Computes the outputs on cpu and on wasm (set up with `engine`) and asserts they agree. */
export async function assertWasmMatchesCpu(
  label: string,
  compute: () => tf.Tensor[],
  tolerance = 1e-4,
  engine: EngineOptions = {},
): Promise<void> {
  const expected = await outputsOn('cpu', compute);
  const actual = await outputsOn('wasm', compute, engine);
  assert.equal(actual.length, expected.length, `${label}: number of outputs`);
  actual.forEach((output, i) => {
    assert.deepEqual(output.shape, expected[i].shape, `${label}, output ${i}: shape`);
    assertClose(output.values, expected[i].values, tolerance, `${label}, output ${i}`);
  });
}
