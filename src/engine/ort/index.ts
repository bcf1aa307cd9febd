/**
 * ONNX Runtime-backed kernels for the wasm backend: matrix products, convolutions, pooling, large
 * elementwise ops and optimizer updates run on ONNX Runtime's multithreaded kernels, on the wasm
 * heap's data, through its C API (capi.ts) or else onnxruntime-node's binding (binding.ts).
 */
import { _FusedMatMul, BatchMatMul, type KernelConfig } from '@tensorflow/tfjs-core';
import { loadOrt } from './binding.js';
import { loadOrtCApi } from './capi.js';
import type { OrtRuntime } from './runtime.js';
import { ortBatchMatMul } from './kernels/batch_mat_mul.js';
import { ortConvKernelNames, ortConvKernels } from './kernels/conv2d.js';
import { ortDepthwiseKernelNames, ortDepthwiseKernels } from './kernels/depthwise.js';
import { ortElementwiseKernelNames, ortElementwiseKernels } from './kernels/elementwise.js';
import { ortGeluKernelNames, ortGeluKernels } from './kernels/gelu.js';
import { ortPoolKernelNames, ortPoolKernels } from './kernels/pool.js';
import { ortFusedMatMul } from './kernels/fused_mat_mul.js';
import { SessionCache } from './session_cache.js';

/** Kernels ONNX Runtime takes over; each falls back to the plain wasm kernel of the same name. */
export const ortKernelNames: readonly string[] = [
  BatchMatMul,
  _FusedMatMul,
  ...ortConvKernelNames,
  ...ortDepthwiseKernelNames,
  ...ortPoolKernelNames,
  ...ortElementwiseKernelNames,
  ...ortGeluKernelNames,
];

/** Enough for every layer's shapes in training and evaluation, with room for odd last batches. */
const sessionCapacity = 256;

let active: { threads: number; runtime: OrtRuntime; cache: SessionCache; kernels: KernelConfig[] } | undefined;

/** Runs a 1×2·2×1 product, so that a binding that loads but cannot run is caught at startup. */
function smokeTest(runtime: OrtRuntime): string | undefined {
  const cache = new SessionCache(runtime, { intraOpThreads: 1, capacity: 1 });
  try {
    const session = cache.session({
      inputs: [
        { name: 'a', shape: [1, 2] },
        { name: 'b', shape: [2, 1] },
      ],
      outputs: [{ name: 'y', shape: [1, 1] }],
      nodes: [{ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    });
    const y = new Float32Array(1);
    session.run(
      { a: { data: Float32Array.of(2, 3), dims: [1, 2] }, b: { data: Float32Array.of(5, 7), dims: [2, 1] } },
      {
        y: { data: y, dims: [1, 1] },
      },
    );
    return y[0] === 2 * 5 + 3 * 7 ? undefined : `a test product gave ${y[0]} instead of 31`;
  } catch (error) {
    return `a test product failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
  } finally {
    cache.clear();
  }
}

let smokeTestResult: string | undefined | null = null;

/** ONNX Runtime through its C API, or else through onnxruntime-node's binding, or why neither loads. */
function loadRuntime(): OrtRuntime | string {
  const capi = loadOrtCApi();
  if (typeof capi !== 'string') return capi;
  const binding = loadOrt();
  return typeof binding === 'string' ? `${capi}; ${binding}` : binding;
}

/**
 * The ONNX Runtime kernels computing with `threads` threads, built on `fallback(kernelName)`,
 * or the reason they are unavailable. Sessions of a previous thread count are disposed.
 */
export function ortKernels(threads: number, fallback: (kernelName: string) => KernelConfig): KernelConfig[] | string {
  const runtime = loadRuntime();
  if (typeof runtime === 'string') return runtime;
  if (smokeTestResult === null) smokeTestResult = smokeTest(runtime);
  if (smokeTestResult !== undefined) return `ONNX Runtime ${runtime.version} (${runtime.kind}): ${smokeTestResult}`;
  if (active?.threads !== threads) {
    active?.cache.clear();
    const cache = new SessionCache(runtime, { intraOpThreads: threads, capacity: sessionCapacity });
    active = {
      threads,
      runtime,
      cache,
      kernels: [
        ortBatchMatMul(fallback(BatchMatMul), cache),
        ortFusedMatMul(fallback(_FusedMatMul), cache),
        ...ortConvKernels(fallback, cache),
        ...ortDepthwiseKernels(fallback, cache),
        ...ortPoolKernels(fallback, cache),
        ...ortElementwiseKernels(fallback, cache),
        ...ortGeluKernels(fallback, cache),
      ],
    };
  }
  return active.kernels;
}

/** How the active kernels reach ONNX Runtime; undefined before they are built. */
export function ortInterface(): OrtRuntime['kind'] | undefined {
  return active?.runtime.kind;
}

/** Sessions the active kernels hold; tests use it to check that ONNX Runtime did the work. */
export function ortSessionCount(): number {
  return active?.cache.size ?? 0;
}

/** The cache keys of those sessions (a convolution's start with 'conv2d'). */
export function ortSessionKeys(): string[] {
  return active?.cache.keys() ?? [];
}
