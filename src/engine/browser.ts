/**
 * The engine in a page (kdkit/browser): TensorFlow.js's webgpu, webgl, wasm or cpu backend, with
 * kdkit's wasm kernels and fused layers registered as in Node (./index.ts), where the backend has
 * them. On webgl and webgpu the losses and optimizer updates stay on the device (./placement.ts).
 */
import * as tfc from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { getThreadsCount, setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { InputError } from '../errors.js';
import { fuseBatchNormLayers } from './batch_norm_layer.js';
import { spareConvInputGradients } from './conv_layer.js';
import { fuseDropoutLayers } from './dropout_layer.js';
import { fuseGeluActivation } from './gelu_activation.js';
import { registerWasmKernels } from './kernels/register.js';
import { fuseLayerNormLayers } from './layer_norm_layer.js';

export type BrowserBackend = 'webgpu' | 'webgl' | 'wasm' | 'cpu';

const browserBackends: readonly BrowserBackend[] = ['webgpu', 'webgl', 'wasm', 'cpu'];

export interface BrowserEngineOptions {
  /**
   * The backend; unless given, the first of webgpu, webgl and wasm that starts in this browser.
   * A backend named here that cannot start is an error.
   */
  backend?: BrowserBackend;
  /**
   * Where the wasm backend's .wasm files are served, ending in '/': by default beside the bundle
   * (`npm run build` copies them into dist/browser/; an app that re-bundles kdkit/browser serves
   * them itself). TensorFlow.js starts wasm once per page: give it on the first call that does.
   */
  wasmPaths?: string;
}

export interface BrowserEngineInfo {
  backend: BrowserBackend;
  /** Whether the wasm backend runs its SIMD build; false on the others. */
  simd: boolean;
  /** The wasm backend's threads (more than 1 only on a cross-origin-isolated page); 1 on the others. */
  threads: number;
}

/** Where the wasm backend looks for its files, once set; whether it has been started (or tried). */
let wasmPaths: string | undefined;
let wasmTried = false;
/** TensorFlow.js cannot start wasm again in a page where it failed once. */
let wasmFailed = false;

/** Selects a backend and makes it ready; calling it again switches backend. */
export async function initBrowserEngine(options: BrowserEngineOptions = {}): Promise<BrowserEngineInfo> {
  const { backend } = options;
  if (backend !== undefined && !browserBackends.includes(backend)) {
    throw new InputError(`initBrowserEngine(): backend: "${String(backend)}" is not one of ${browserBackends.join(', ')}`);
  }
  if (options.wasmPaths !== undefined && wasmTried && options.wasmPaths !== wasmPaths) {
    throw new InputError(
      `initBrowserEngine(): wasmPaths: the wasm backend was already started from ${wasmPaths}, and TensorFlow.js starts it once per page; give wasmPaths on the first call`,
    );
  }
  if (wasmPaths === undefined || (options.wasmPaths !== undefined && !wasmTried)) {
    wasmPaths = options.wasmPaths ?? new URL('./', import.meta.url).href;
    setWasmPaths(wasmPaths);
  }
  registerWasmKernels();
  fuseBatchNormLayers();
  spareConvInputGradients();
  fuseGeluActivation();
  fuseLayerNormLayers();
  fuseDropoutLayers();
  const chosen = backend ?? (await firstThatStarts(['webgpu', 'webgl', 'wasm']));
  if (!(await startBackend(chosen))) {
    const why =
      chosen === 'webgpu' && !('gpu' in navigator)
        ? ' (this browser has no navigator.gpu)'
        : chosen === 'wasm'
          ? ` (are its .wasm files served at ${wasmPaths}? pass wasmPaths on the first call; after a failure, reload the page)`
          : '';
    throw new InputError(`initBrowserEngine(): backend: TensorFlow.js could not start the ${chosen} backend in this browser${why}`);
  }
  await tfc.ready();
  return {
    backend: chosen,
    simd: chosen === 'wasm' && Boolean(await tfc.env().getAsync('WASM_HAS_SIMD_SUPPORT')),
    threads: chosen === 'wasm' ? getThreadsCount() : 1,
  };
}

async function startBackend(backend: BrowserBackend): Promise<boolean> {
  if (backend === 'wasm') {
    if (wasmFailed) return false;
    wasmTried = true;
  }
  if (tfc.getBackend() === backend) return true;
  let started = false;
  try {
    started = await tfc.setBackend(backend);
  } catch {
    started = false;
  }
  if (!started && backend === 'wasm') wasmFailed = true;
  return started;
}

async function firstThatStarts(candidates: readonly BrowserBackend[]): Promise<BrowserBackend> {
  for (const candidate of candidates) if (await startBackend(candidate)) return candidate;
  throw new InputError(`initBrowserEngine(): none of ${candidates.join(', ')} starts in this browser`);
}
