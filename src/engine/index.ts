/**
 * The compute engine: TensorFlow.js on the wasm backend (SIMD) by default, or the pure-JS cpu
 * backend, with kdkit's wasm kernels registered so that convolutions train on wasm, and its
 * matrix products and convolutions accelerated by ONNX Runtime when it loads.
 */
import { availableParallelism } from 'node:os';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { InputError } from '../errors.js';
import { plainWasmKernel, registerWasmKernels, swapWasmKernels } from './kernels/register.js';
import { ortInterface, ortKernelNames, ortKernels } from './ort/index.js';

export * as tf from './tf.js';

export type BackendName = 'wasm' | 'cpu';
export type AcceleratorChoice = 'ort' | 'none';

const backendNames: readonly BackendName[] = ['wasm', 'cpu'];
const acceleratorChoices: readonly AcceleratorChoice[] = ['ort', 'none'];

export interface EngineInfo {
  /** The active TensorFlow.js backend. */
  backend: BackendName;
  /** Whether the wasm backend runs its SIMD build; false on cpu. */
  simd: boolean;
  /** Threads the backend computes with. */
  threads: number;
  /** Kernels kdkit registered for the active backend, added or replacing stock ones. */
  customKernels: string[];
  /** What computes matrix products and convolutions on wasm: ONNX Runtime, or none (plain wasm). */
  accelerator: 'onnxruntime' | 'none';
  /** Threads the accelerator computes with; 0 without one. */
  acceleratorThreads: number;
  /** How ONNX Runtime is reached: its C API, or onnxruntime-node's binding (the fallback); null without it. */
  acceleratorInterface: 'c-api' | 'node-binding' | null;
}

export interface EngineOptions {
  /** Backend to run on; 'wasm' unless given. */
  backend?: BackendName;
  /**
   * On wasm, run matrix products and convolutions with ONNX Runtime ('ort', the default) or keep
   * the plain wasm kernels ('none'). If ONNX Runtime cannot load, the engine says so once on
   * stderr and uses wasm.
   */
  accelerate?: AcceleratorChoice;
  /** Threads ONNX Runtime computes with; all cores (os.availableParallelism()) unless given. */
  acceleratorThreads?: number;
}

let reportedReason: string | undefined;

/** Swaps in the accelerated or the plain wasm kernels; returns the threads used, 0 for none. */
function accelerate(choice: AcceleratorChoice, threads: number): number {
  const kernels = choice === 'ort' ? ortKernels(threads, plainWasmKernel) : undefined;
  if (typeof kernels === 'string' && reportedReason !== kernels) {
    reportedReason = kernels;
    console.warn(`kdkit engine: ONNX Runtime acceleration unavailable (${kernels}); using the plain wasm kernels.`);
  }
  if (Array.isArray(kernels)) {
    swapWasmKernels(kernels);
    return threads;
  }
  swapWasmKernels(ortKernelNames.map(plainWasmKernel));
  return 0;
}

/**
 * Selects the backend and makes it ready. Safe to call repeatedly; calling it with another
 * backend or accelerator switches to it.
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const backend = options.backend ?? 'wasm';
  const choice = options.accelerate ?? 'ort';
  const requestedThreads = options.acceleratorThreads ?? availableParallelism();
  if (!backendNames.includes(backend)) {
    throw new InputError(`Unknown backend "${String(backend)}"; expected one of: ${backendNames.join(', ')}.`);
  }
  if (!acceleratorChoices.includes(choice)) {
    throw new InputError(`Unknown accelerator "${String(choice)}"; expected one of: ${acceleratorChoices.join(', ')}.`);
  }
  if (!Number.isInteger(requestedThreads) || requestedThreads < 1) {
    throw new InputError(`acceleratorThreads must be a positive integer, got ${String(requestedThreads)}.`);
  }
  const customKernels = registerWasmKernels();
  const acceleratorThreads = backend === 'wasm' ? accelerate(choice, requestedThreads) : 0;
  if (tfc.getBackend() !== backend && !(await tfc.setBackend(backend))) {
    throw new Error(`kdkit engine: TensorFlow.js could not initialize the ${backend} backend.`);
  }
  await tfc.ready();
  if (backend === 'cpu') {
    return {
      backend, simd: false, threads: 1, customKernels: [], accelerator: 'none', acceleratorThreads: 0, acceleratorInterface: null,
    };
  }
  return {
    backend,
    simd: Boolean(await tfc.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: getThreadsCount(),
    customKernels: [...customKernels],
    accelerator: acceleratorThreads > 0 ? 'onnxruntime' : 'none',
    acceleratorThreads,
    acceleratorInterface: acceleratorThreads > 0 ? (ortInterface() ?? null) : null,
  };
}
