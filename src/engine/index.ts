/**
 * The compute engine: TensorFlow.js on the wasm backend (SIMD) by default, or the pure-JS cpu
 * backend, with kdkit's wasm kernels registered so that convolutions train on wasm, its
 * matrix products and convolutions accelerated by ONNX Runtime when it loads, and
 * tf.layers.batchNormalization training on kdkit's fused batch norm (./batch_norm_layer.ts), and
 * tf.layers.conv2d sparing the gradient of a training step's input batch (./conv_layer.ts).
 */
import { availableParallelism, totalmem } from 'node:os';
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { InputError } from '../errors.js';
import { fuseBatchNormLayers } from './batch_norm_layer.js';
import { setFeatureBudgetBytes } from './budget.js';
import { spareConvInputGradients } from './conv_layer.js';
import { fuseGeluActivation } from './gelu_activation.js';
import { fuseLayerNormLayers } from './layer_norm_layer.js';
import { fuseDropoutLayers } from './dropout_layer.js';
import { plainWasmKernel, registerWasmKernels, swapWasmKernels } from './kernels/register.js';
import { ortInterface, ortKernelNames, ortKernels } from './ort/index.js';

export * as tf from './tf.js';
export { withConstantInputs } from './conv_layer.js';

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

/** What computes the ops: a run on one setup sums floats in another order than on another. */
interface EngineSetup {
  backend: BackendName;
  /** 'none' on cpu. */
  accelerate: AcceleratorChoice;
  /** ONNX Runtime's threads; 0 without it. */
  threads: number;
}

/**
 * The setup of the runs in progress (withEngine) and how many they are. The backend and the kernel
 * registry are the process's, so this is too: it only refuses a switch, and changes no result.
 */
let held: { setup: EngineSetup; runs: number } | undefined;

function engineSetup(options: EngineOptions): EngineSetup {
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
  const accelerate = backend === 'wasm' ? choice : 'none';
  return { backend, accelerate, threads: accelerate === 'ort' ? requestedThreads : 0 };
}

function describeSetup(setup: EngineSetup): string {
  if (setup.accelerate === 'none') return setup.backend;
  return `${setup.backend} with ONNX Runtime on ${setup.threads} thread${setup.threads === 1 ? '' : 's'}`;
}

/** An InputError when runs in progress compute on another setup than `setup`. */
function refuseSwitch(setup: EngineSetup): void {
  if (held === undefined) return;
  const { backend, accelerate, threads } = held.setup;
  if (backend === setup.backend && accelerate === setup.accelerate && threads === setup.threads) return;
  throw new InputError(
    `kdkit engine: ${held.runs === 1 ? 'a run in progress computes' : `${held.runs} runs in progress compute`} on ${describeSetup(held.setup)}; ` +
      `switching to ${describeSetup(setup)} now would change their results. Run them on the same engine, or one after the other.`,
  );
}

/**
 * Selects the backend and makes it ready. Safe to call repeatedly; calling it with another
 * backend or accelerator switches to it, unless a run in progress (withEngine) computes on the
 * present one: that is an InputError.
 */
export async function initEngine(options: EngineOptions = {}): Promise<EngineInfo> {
  const setup = engineSetup(options);
  refuseSwitch(setup);
  return setUp(setup);
}

/**
 * Runs `body` on the engine `options` select, which no other call may switch until `body` ends.
 * Concurrent runs on the same setup share it; one on another setup is refused (an InputError).
 */
export async function withEngine<T>(options: EngineOptions, body: (engine: EngineInfo) => Promise<T>): Promise<T> {
  const setup = engineSetup(options);
  refuseSwitch(setup);
  // Taken before the first await, so that a run starting meanwhile sees it.
  held = { setup, runs: (held?.runs ?? 0) + 1 };
  try {
    return await body(await setUp(setup));
  } finally {
    held = held.runs > 1 ? { setup, runs: held.runs - 1 } : undefined;
  }
}

async function setUp({ backend, accelerate: choice, threads }: EngineSetup): Promise<EngineInfo> {
  setFeatureBudgetBytes(Math.min(4 * 2 ** 30, Math.max(2 ** 30, Math.floor(totalmem() / 4))));
  const customKernels = registerWasmKernels();
  // Wraps BatchNormalization.call once: training calls then take the fused kernels registered above.
  fuseBatchNormLayers();
  // Wraps Conv2D.call once: a call on a step's input batch skips the input's unused gradient.
  spareConvInputGradients();
  // Wraps the 'gelu' activation once: it then takes the one-pass kernels registered above.
  fuseGeluActivation();
  // Wraps LayerNormalization.call once: a last-axis layer norm then takes the fused kernels.
  fuseLayerNormLayers();
  // Wraps Dropout.call once: dropout while training then takes the one-pass kernel.
  fuseDropoutLayers();
  const acceleratorThreads = backend === 'wasm' ? accelerate(choice, threads) : 0;
  if (tfc.getBackend() !== backend && !(await tfc.setBackend(backend))) {
    throw new Error(`kdkit engine: TensorFlow.js could not initialize the ${backend} backend.`);
  }
  await tfc.ready();
  if (backend === 'cpu') {
    // The cpu backend's first write prints "Hi, looks like you are running TensorFlow.js in
    // Node.js … install our node backend" to stderr: advice kdkit's users cannot take (kdkit runs
    // on wasm, or cpu by choice). Its flag is a plain field of the backend.
    (tfc.backend() as { firstUse?: boolean }).firstUse = false;
    return {
      backend,
      simd: false,
      threads: 1,
      customKernels: [],
      accelerator: 'none',
      acceleratorThreads: 0,
      acceleratorInterface: null,
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
