/**
 * The compute engine: TensorFlow.js on the wasm backend (SIMD) by default, or the pure-JS cpu
 * backend, with kdkit's wasm kernels registered so that convolutions train on wasm.
 */
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { InputError } from '../errors.js';
import { registerWasmKernels } from './kernels/register.js';

export * as tf from './tf.js';

export type BackendName = 'wasm' | 'cpu';

const backendNames: readonly BackendName[] = ['wasm', 'cpu'];

export interface EngineInfo {
  /** The active TensorFlow.js backend. */
  backend: BackendName;
  /** Whether the wasm backend runs its SIMD build; false on cpu. */
  simd: boolean;
  /** Threads the backend computes with. */
  threads: number;
  /** Kernels kdkit registered for the active backend, added or replacing stock ones. */
  customKernels: string[];
}

export interface EngineOptions {
  /** Backend to run on; 'wasm' unless given. */
  backend?: BackendName;
}

/**
 * Selects the backend and makes it ready. Safe to call repeatedly; calling it with another
 * backend switches to that backend.
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const backend = options.backend ?? 'wasm';
  if (!backendNames.includes(backend)) {
    throw new InputError(`Unknown backend "${String(backend)}"; expected one of: ${backendNames.join(', ')}.`);
  }
  const customKernels = registerWasmKernels();
  if (tfc.getBackend() !== backend && !(await tfc.setBackend(backend))) {
    throw new Error(`kdkit engine: TensorFlow.js could not initialize the ${backend} backend.`);
  }
  await tfc.ready();
  if (backend === 'cpu') return { backend, simd: false, threads: 1, customKernels: [] };
  return {
    backend,
    simd: Boolean(await tfc.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: getThreadsCount(),
    customKernels: [...customKernels],
  };
}
