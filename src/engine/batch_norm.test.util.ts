/**
 * Test support for the fused batch norm (batch_norm.test.ts, batch_norm_layer.test.ts): the setups
 * it runs on, and a comparison relative to each tensor's scale.
 */
import assert from 'node:assert/strict';
import type { BackendName, EngineOptions, tf } from './index.js';
import { type Output, outputsOn } from './parity.test.util.js';
import { setSimdKernelsEnabled } from './simd/module.js';

/** Where the fused op runs; the reference is always the stock ops on cpu. */
export const setups: Array<{ label: string; backend: BackendName; simd: boolean; engine: EngineOptions }> = [
  { label: 'cpu', backend: 'cpu', simd: true, engine: {} },
  { label: 'wasm, SIMD kernels, accelerate none', backend: 'wasm', simd: true, engine: { accelerate: 'none' } },
  { label: 'wasm, SIMD kernels, accelerate ort', backend: 'wasm', simd: true, engine: { accelerate: 'ort' } },
  { label: 'wasm, JavaScript loops', backend: 'wasm', simd: false, engine: { accelerate: 'none' } },
];

/** Runs `compute` on `setup` (see outputsOn, which checks for leaks). */
export async function outputsOnSetup(setup: (typeof setups)[number], compute: () => tf.Tensor[]): Promise<Output[]> {
  setSimdKernelsEnabled(setup.simd);
  try {
    return await outputsOn(setup.backend, compute, setup.engine);
  } finally {
    setSimdKernelsEnabled(true);
  }
}

/**
 * |actual − expected| ≤ tolerance · the largest |expected|: relative to the tensor's scale, which
 * small values (1e-3) get too, and elements that cancel to near zero are held to.
 */
export function assertRelative(actual: Output, expected: Output, tolerance: number, label: string): void {
  assert.deepEqual(actual.shape, expected.shape, `${label}: shape`);
  const largest = expected.values.reduce((max, value) => Math.max(max, Math.abs(value)), 0);
  for (let i = 0; i < expected.values.length; i++) {
    const error = Math.abs(actual.values[i] - expected.values[i]);
    if (!(error <= tolerance * largest)) {
      assert.fail(`${label}: element ${i} is ${actual.values[i]}, expected ${expected.values[i]} (largest ${largest})`);
    }
  }
}

export function assertAllRelative(actual: Output[], expected: Output[], tolerance: number, label: (output: number) => string): void {
  assert.equal(actual.length, expected.length, `${label(0)}: number of outputs`);
  for (const [i, output] of actual.entries()) assertRelative(output, expected[i], tolerance, label(i));
}
