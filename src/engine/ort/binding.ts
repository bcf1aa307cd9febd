/**
 * The fallback way to ONNX Runtime, used when its C API (capi.ts) cannot be reached: the one
 * module that touches onnxruntime-node's private native binding (`onnxruntime-node/dist/binding.js`).
 * Its public API runs sessions asynchronously only; a TensorFlow.js kernel must return
 * synchronously, and the binding's own `run` is synchronous (about 8 µs of overhead per call).
 * It copies every output into a new ArrayBuffer after writing it where asked, which is why it is
 * not the default. If a new onnxruntime-node changes the binding's shape, binding.test.ts fails;
 * fix it here and nowhere else.
 */
import { createRequire } from 'node:module';
import { firstLine, type OrtRuntime, type OrtSession, type OrtSessionOptions, type OrtTensor } from './runtime.js';

/** A session of the binding, which also reports its graph's value names. */
export interface BindingSession extends OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

export interface BindingRuntime extends OrtRuntime {
  createSession(model: Uint8Array, options: OrtSessionOptions): BindingSession;
}

/** What the binding hands tensors as: onnxruntime-common's Tensor fields that it reads. */
interface BindingTensor {
  data: Float32Array;
  dims: readonly number[];
  type: 'float32';
  location: 'cpu';
}

interface BindingValueMetadata {
  name: string;
}

interface NativeSession {
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  readonly inputMetadata: BindingValueMetadata[];
  readonly outputMetadata: BindingValueMetadata[];
  run(feeds: Record<string, BindingTensor>, fetches: Record<string, BindingTensor>, options: object): unknown;
  dispose(): void;
}

interface BindingModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

// Errors only: ONNX Runtime's warnings (e.g. about graph optimizations) are not actionable here.
const errorSeverity = 3;

function asBindingTensor(tensor: OrtTensor): BindingTensor {
  return { data: tensor.data, dims: tensor.dims, type: 'float32', location: 'cpu' };
}

function mapValues<T, U>(record: Record<string, T>, map: (value: T) => U): Record<string, U> {
  const mapped: Record<string, U> = {};
  for (const key in record) mapped[key] = map(record[key]);
  return mapped;
}

function wrapSession(session: NativeSession): BindingSession {
  const runOptions = {};
  let disposed = false;
  return {
    inputNames: session.inputMetadata.map((value) => value.name),
    outputNames: session.outputMetadata.map((value) => value.name),
    run(inputs, outputs) {
      session.run(mapValues(inputs, asBindingTensor), mapValues(outputs, asBindingTensor), runOptions);
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      session.dispose();
    },
  };
}

function missingMethods(module: BindingModule): string[] {
  const prototype = module.binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
  if (typeof module.initOrt !== 'function') return ['initOrt'];
  if (prototype === undefined) return ['binding.InferenceSession'];
  return (['loadModel', 'run', 'dispose'] as const).filter((name) => typeof prototype[name] !== 'function');
}

let loaded: BindingRuntime | string | undefined;

/**
 * Loads ONNX Runtime's native binding once. Returns the reason as a string, rather than
 * throwing, when it cannot be loaded (package missing, unsupported platform, changed binding).
 */
export function loadOrt(): BindingRuntime | string {
  loaded ??= tryLoad();
  return loaded;
}

function tryLoad(): BindingRuntime | string {
  const require = createRequire(import.meta.url);
  let module: BindingModule;
  let version: string;
  try {
    version = (require('onnxruntime-node/package.json') as { version: string }).version;
    module = require('onnxruntime-node/dist/binding.js') as BindingModule;
  } catch (error) {
    return `onnxruntime-node could not be loaded: ${firstLine(error)}`;
  }
  const missing = missingMethods(module);
  if (missing.length > 0) {
    return `onnxruntime-node ${version}'s native binding lacks ${missing.join(', ')}`;
  }
  try {
    module.initOrt();
  } catch (error) {
    return `onnxruntime-node ${version} failed to initialize: ${firstLine(error)}`;
  }
  return {
    kind: 'node-binding',
    version,
    createSession(model, options) {
      const session = new module.binding.InferenceSession();
      session.loadModel(model.buffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: options.intraOpThreads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        logSeverityLevel: errorSeverity,
        // Every session has its own thread pool. Spinning workers of the sessions just run keep
        // the cores busy while TensorFlow.js computes the rest of the step (MLP step on 2 cores:
        // 154 ms spinning, 39 ms without).
        extra: { 'session.intra_op.allow_spinning': '0' },
      });
      return wrapSession(session);
    },
  };
}
