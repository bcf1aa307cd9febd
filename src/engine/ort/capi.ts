/**
 * ONNX Runtime through its C API (onnxruntime_c_api.h), called with koffi on the libonnxruntime
 * that onnxruntime-node ships. This is the default way the kernels reach ONNX Runtime:
 * onnxruntime-node 1.30's binding copies every output into a fresh ArrayBuffer even when it was
 * given the output's buffer, which for a 128×28×28×32 convolution output cost 9.9 ms against
 * 1.8 ms here (median of 40 runs, 2 threads). The C API is ONNX Runtime's stable ABI: its
 * function table only grows, so the indices below hold for every later version. It also lets all
 * sessions share one thread pool and one memory arena, which the binding does not offer.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { firstLine, type OrtRuntime, type OrtSession, type OrtTensor } from './runtime.js';

/** Positions in the OrtApi function table (append-only since ONNX Runtime 1.0). */
const entry = {
  CreateStatus: 0,
  GetErrorCode: 1,
  GetErrorMessage: 2,
  CreateSessionFromArray: 8,
  Run: 9,
  CreateSessionOptions: 10,
  SetSessionExecutionMode: 13,
  SetSessionLogSeverityLevel: 22,
  SetSessionGraphOptimizationLevel: 23,
  SetIntraOpNumThreads: 24,
  SetInterOpNumThreads: 25,
  CreateTensorWithDataAsOrtValue: 49,
  CreateCpuMemoryInfo: 69,
  ReleaseStatus: 93,
  ReleaseSession: 95,
  ReleaseValue: 96,
  ReleaseSessionOptions: 100,
  CreateEnvWithGlobalThreadPools: 119,
  DisablePerSessionThreads: 120,
  CreateThreadingOptions: 121,
  ReleaseThreadingOptions: 122,
  AddSessionConfigEntry: 130,
  CreateAndRegisterAllocator: 144,
  SetGlobalIntraOpNumThreads: 147,
  SetGlobalInterOpNumThreads: 148,
  SetGlobalSpinControl: 149,
} as const;

/** The OrtApi version asked for: 13 (ONNX Runtime 1.13) has every entry above. */
const apiVersion = 13;
/** ONNXTensorElementDataType FLOAT, OrtLoggingLevel ERROR, GraphOptimizationLevel ORT_ENABLE_ALL. */
const float32Type = 1;
const errorSeverity = 3;
const enableAll = 99;
/** OrtAllocatorType OrtDeviceAllocator and OrtArenaAllocator, OrtMemType OrtMemTypeDefault. */
const deviceAllocator = 0;
const arenaAllocator = 1;
const defaultMemory = 0;

type Pointer = unknown;
type NativeFunction = (...args: unknown[]) => unknown;

interface Koffi {
  load(path: string): { func(signature: string): NativeFunction };
  decode(pointer: Pointer, offset: number, type: string): Pointer;
  decode(pointer: Pointer, type: unknown): NativeFunction;
  proto(signature: string): unknown;
}

/** The library file onnxruntime-node ships for this platform, next to its binding. */
function libraryPath(require: NodeJS.Require): string {
  const root = dirname(require.resolve('onnxruntime-node/package.json'));
  const file = { linux: 'libonnxruntime.so.1', darwin: 'libonnxruntime.1.dylib', win32: 'onnxruntime.dll' }[
    process.platform as 'linux' | 'darwin' | 'win32'
  ];
  if (file === undefined) throw new Error(`no ONNX Runtime library is known for ${process.platform}`);
  return join(root, 'bin', 'napi-v6', process.platform, process.arch, file);
}

interface Api {
  /**
   * The loaded library. koffi unloads a library once nothing references it, and the functions
   * decoded from the API table do not: holding it here keeps their code mapped.
   */
  library: unknown;
  version: string;
  call: Record<keyof typeof entry, NativeFunction>;
  /** Throws the message of a non-null OrtStatus, releasing it. */
  check(status: Pointer): void;
  memoryInfo: Pointer;
  env: Pointer;
  /** Threads of the environment's shared pool. */
  poolThreads: number;
  /**
   * Whether sessions can use that pool. Not when the environment was already made without one
   * (by onnxruntime-node's binding, say): ONNX Runtime has one environment per process.
   */
  sharedPool: boolean;
}

const signatures: Record<keyof typeof entry, string> = {
  CreateStatus: 'void *CreateStatus(int code, const char *message)',
  GetErrorCode: 'int GetErrorCode(void *status)',
  GetErrorMessage: 'const char *GetErrorMessage(void *status)',
  CreateSessionFromArray: 'void *CreateSessionFromArray(void *env, const void *model, size_t length, void *options, _Out_ void **session)',
  Run:
    'void *Run(void *session, void *runOptions, const char **inputNames, void **inputs, size_t inputCount, ' +
    'const char **outputNames, size_t outputCount, void **outputs)',
  CreateSessionOptions: 'void *CreateSessionOptions(_Out_ void **options)',
  SetSessionExecutionMode: 'void *SetSessionExecutionMode(void *options, int mode)',
  SetSessionLogSeverityLevel: 'void *SetSessionLogSeverityLevel(void *options, int severity)',
  SetSessionGraphOptimizationLevel: 'void *SetSessionGraphOptimizationLevel(void *options, int level)',
  SetIntraOpNumThreads: 'void *SetIntraOpNumThreads(void *options, int threads)',
  SetInterOpNumThreads: 'void *SetInterOpNumThreads(void *options, int threads)',
  CreateTensorWithDataAsOrtValue:
    'void *CreateTensorWithDataAsOrtValue(void *memoryInfo, void *data, size_t byteLength, const int64_t *shape, ' +
    'size_t rank, int type, _Out_ void **value)',
  CreateCpuMemoryInfo: 'void *CreateCpuMemoryInfo(int allocator, int memoryType, _Out_ void **info)',
  ReleaseStatus: 'void ReleaseStatus(void *status)',
  ReleaseSession: 'void ReleaseSession(void *session)',
  ReleaseValue: 'void ReleaseValue(void *value)',
  ReleaseSessionOptions: 'void ReleaseSessionOptions(void *options)',
  AddSessionConfigEntry: 'void *AddSessionConfigEntry(void *options, const char *key, const char *value)',
  CreateAndRegisterAllocator: 'void *CreateAndRegisterAllocator(void *env, void *memoryInfo, void *arenaConfig)',
  CreateEnvWithGlobalThreadPools:
    'void *CreateEnvWithGlobalThreadPools(int severity, const char *logId, void *threading, _Out_ void **env)',
  DisablePerSessionThreads: 'void *DisablePerSessionThreads(void *options)',
  CreateThreadingOptions: 'void *CreateThreadingOptions(_Out_ void **threading)',
  ReleaseThreadingOptions: 'void ReleaseThreadingOptions(void *threading)',
  SetGlobalIntraOpNumThreads: 'void *SetGlobalIntraOpNumThreads(void *threading, int threads)',
  SetGlobalInterOpNumThreads: 'void *SetGlobalInterOpNumThreads(void *threading, int threads)',
  SetGlobalSpinControl: 'void *SetGlobalSpinControl(void *threading, int spin)',
};

function bindApi(koffi: Koffi, libraryFile: string): Api {
  const library = koffi.load(libraryFile);
  const base = library.func('void *OrtGetApiBase()')();
  const member = (table: Pointer, index: number, signature: string): NativeFunction =>
    koffi.decode(koffi.decode(table, index * 8, 'void *'), koffi.proto(signature));
  const version = member(base, 1, 'const char *GetVersionString()')() as string;
  const table = member(base, 0, 'void *GetApi(uint32_t version)')(apiVersion);
  if (table === null) throw new Error(`ONNX Runtime ${version} does not offer C API version ${apiVersion}`);
  const call = {} as Api['call'];
  for (const name of Object.keys(entry) as Array<keyof typeof entry>) call[name] = member(table, entry[name], signatures[name]);
  const check = (status: Pointer): void => {
    if (status === null) return;
    const message = call.GetErrorMessage(status) as string;
    call.ReleaseStatus(status);
    throw new Error(message);
  };
  const out = (create: (slot: Pointer[]) => Pointer): Pointer => {
    const slot: Pointer[] = [null];
    check(create(slot));
    return slot[0];
  };
  // A status made and read back: the first entries of the table are where they should be.
  const probe = call.CreateStatus(2, 'kdkit probe');
  const probed = [call.GetErrorCode(probe), call.GetErrorMessage(probe)];
  call.ReleaseStatus(probe);
  if (probed[0] !== 2 || probed[1] !== 'kdkit probe') throw new Error(`ONNX Runtime ${version}'s C API table is not as expected`);
  // One thread pool, of all cores, for every session that computes with all cores (the
  // default), rather than a pool per session: 256 cached sessions had a worker thread each, and
  // the CNN step measured about 72 ms against 86 ms (medians of 5 noisy runs). Its workers do not
  // spin, so that they leave the cores to TensorFlow.js between runs.
  const threading = out((slot) => call.CreateThreadingOptions(slot));
  const poolThreads = availableParallelism();
  check(call.SetGlobalIntraOpNumThreads(threading, poolThreads));
  check(call.SetGlobalInterOpNumThreads(threading, 1));
  check(call.SetGlobalSpinControl(threading, 0));
  const env = out((slot) => call.CreateEnvWithGlobalThreadPools(errorSeverity, 'kdkit', threading, slot));
  call.ReleaseThreadingOptions(threading);
  const memoryInfo = out((slot) => call.CreateCpuMemoryInfo(deviceAllocator, defaultMemory, slot));
  // One arena for every session (they opt in below) rather than one per session, each keeping
  // its own peak. An environment that already has one (registered by someone else) is fine too.
  const arenaInfo = out((slot) => call.CreateCpuMemoryInfo(arenaAllocator, defaultMemory, slot));
  try {
    check(call.CreateAndRegisterAllocator(env, arenaInfo, null));
  } catch (error) {
    if (!/already/i.test(firstLine(error))) throw error;
  }
  return { library, version, call, check, memoryInfo, env, poolThreads, sharedPool: true };
}

function createSession(api: Api, model: Uint8Array, intraOpThreads: number): OrtSession {
  const usePool = api.sharedPool && intraOpThreads === api.poolThreads;
  try {
    return wrapSession(api, loadSession(api, model, intraOpThreads, usePool));
  } catch (error) {
    // An environment without a shared pool rejects sessions that ask for it; anything else is
    // the model's fault.
    if (!usePool || !/thread/i.test(firstLine(error))) throw error;
    const session = wrapSession(api, loadSession(api, model, intraOpThreads, false));
    api.sharedPool = false;
    return session;
  }
}

function loadSession(api: Api, model: Uint8Array, intraOpThreads: number, usePool: boolean): Pointer {
  const { call, check } = api;
  const slot: Pointer[] = [null];
  check(call.CreateSessionOptions(slot));
  const options = slot[0];
  try {
    if (usePool) {
      check(call.DisablePerSessionThreads(options));
    } else {
      check(call.SetIntraOpNumThreads(options, intraOpThreads));
      check(call.SetInterOpNumThreads(options, 1));
      // Spinning workers of the sessions just run would keep the cores busy while TensorFlow.js
      // computes the rest of the step (MLP step on 2 cores: 154 ms spinning, 39 ms without).
      check(call.AddSessionConfigEntry(options, 'session.intra_op.allow_spinning', '0'));
    }
    check(call.SetSessionExecutionMode(options, 0));
    check(call.SetSessionGraphOptimizationLevel(options, enableAll));
    check(call.SetSessionLogSeverityLevel(options, errorSeverity));
    check(call.AddSessionConfigEntry(options, 'session.use_env_allocators', '1'));
    check(call.CreateSessionFromArray(api.env, model, model.byteLength, options, slot));
    return slot[0];
  } finally {
    call.ReleaseSessionOptions(options);
  }
}

/** Shapes as ONNX Runtime's int64 arrays, kept per shape array: graphs hand the same arrays every run. */
const int64Shapes = new WeakMap<readonly number[], BigInt64Array>();

function int64Shape(dims: readonly number[]): BigInt64Array {
  let shape = int64Shapes.get(dims);
  if (shape === undefined) {
    shape = BigInt64Array.from(dims, BigInt);
    int64Shapes.set(dims, shape);
  }
  return shape;
}

function wrapSession(api: Api, session: Pointer): OrtSession {
  const { call, check } = api;
  const slot: Pointer[] = [null];
  let disposed = false;
  return {
    run(inputs, outputs) {
      if (disposed) throw new Error('kdkit engine: an ONNX Runtime session was used after it was disposed.');
      const values: Pointer[] = [];
      const value = ({ data, dims }: OrtTensor): Pointer => {
        check(call.CreateTensorWithDataAsOrtValue(api.memoryInfo, data, data.byteLength, int64Shape(dims), dims.length, float32Type, slot));
        values.push(slot[0]);
        return slot[0];
      };
      try {
        const inputNames = Object.keys(inputs);
        const outputNames = Object.keys(outputs);
        const inputValues = inputNames.map((name) => value(inputs[name]));
        const outputValues = outputNames.map((name) => value(outputs[name]));
        check(call.Run(session, null, inputNames, inputValues, inputNames.length, outputNames, outputNames.length, outputValues));
      } finally {
        for (const created of values) call.ReleaseValue(created);
      }
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      call.ReleaseSession(session);
    },
  };
}

let loaded: OrtRuntime | string | undefined;

/**
 * ONNX Runtime's C API, bound once. Returns the reason as a string, rather than throwing, when
 * it cannot be reached (koffi or the library missing, an unsupported platform, a changed table).
 */
export function loadOrtCApi(): OrtRuntime | string {
  loaded ??= tryLoad();
  return loaded;
}

function tryLoad(): OrtRuntime | string {
  const require = createRequire(import.meta.url);
  let api: Api;
  try {
    const koffi = require('koffi') as Koffi;
    api = bindApi(koffi, libraryPath(require));
  } catch (error) {
    return `ONNX Runtime's C API could not be reached: ${firstLine(error)}`;
  }
  return {
    kind: 'c-api',
    version: api.version,
    createSession: (model, options) => createSession(api, model, options.intraOpThreads),
  };
}
