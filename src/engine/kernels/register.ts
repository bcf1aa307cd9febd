/**
 * The one list of kernels kdkit puts on the wasm backend. An accelerator (ONNX Runtime, see
 * ../ort/) may then swap some of them for its own with swapWasmKernels.
 */
import {
  _FusedMatMul,
  BatchMatMul,
  Cast,
  Conv2DBackpropInput,
  GatherV2,
  getGradient,
  getKernel,
  getKernelsForBackend,
  Identity,
  MaxPoolGrad,
  registerGradient,
  registerKernel,
  Sum,
  Tile,
  unregisterKernel,
  type KernelConfig,
} from '@tensorflow/tfjs-core';
import { transposeFreeBatchMatMul } from './batch_mat_mul.js';
import {
  BatchNormTraining,
  batchNormTrainingCpu,
  batchNormTrainingGradCpu,
  batchNormTrainingGradient,
  batchNormTrainingGradWasm,
  batchNormTrainingWasm,
} from './batch_norm.js';
import { conv2dBackpropFilterConfig } from './conv2d_backprop_filter.js';
import { conv2dBackpropInputConfig } from './conv2d_backprop_input.js';
import { depthwiseConv2dBackpropFilterConfig } from './depthwise_conv2d_backprop_filter.js';
import { depthwiseConv2dBackpropInputConfig } from './depthwise_conv2d_backprop_input.js';
import { Dropout, dropoutCpu, dropoutGradient, dropoutWasm } from './dropout.js';
import { transposeFreeFusedMatMul } from './fused_mat_mul.js';
import { rowCopyGather } from './gather.js';
import { Gelu, geluCpu, geluGradCpu, geluGradient, geluGradWasm, geluWasm } from './gelu.js';
import { maskedGradCpu, maskedGradWasm, registerGradients } from './gradients.js';
import { LayerNorm, layerNormCpu, layerNormGradCpu, layerNormGradient, layerNormGradWasm, layerNormWasm } from './layer_norm.js';
import { maxPoolGradConfig } from './max_pool_grad.js';
import { castKernel, sharedIdentity } from './shared_identity.js';
import { leadingAxesSum } from './sum.js';
import { onePassTile } from './tile.js';
import { unsortedSegmentSumConfig } from './unsorted_segment_sum.js';

/** Kernels the stock wasm backend does not have. */
const addedKernels: KernelConfig[] = [
  conv2dBackpropFilterConfig,
  depthwiseConv2dBackpropFilterConfig,
  depthwiseConv2dBackpropInputConfig,
  unsortedSegmentSumConfig,
  maskedGradWasm,
  batchNormTrainingWasm,
  batchNormTrainingGradWasm,
  geluWasm,
  geluGradWasm,
  layerNormWasm,
  layerNormGradWasm,
  dropoutWasm,
];

/** kdkit's own ops, which run on the cpu backend too. */
const cpuKernels: KernelConfig[] = [
  maskedGradCpu,
  batchNormTrainingCpu,
  batchNormTrainingGradCpu,
  geluCpu,
  geluGradCpu,
  layerNormCpu,
  layerNormGradCpu,
  dropoutCpu,
];

/** Stock kernels kdkit replaces with faster ones; each replacement is built from the stock kernel. */
const replacedKernels: Array<{ kernelName: string; replace: (stock: KernelConfig) => KernelConfig }> = [
  { kernelName: BatchMatMul, replace: transposeFreeBatchMatMul },
  { kernelName: _FusedMatMul, replace: transposeFreeFusedMatMul },
  { kernelName: Conv2DBackpropInput, replace: () => conv2dBackpropInputConfig },
  { kernelName: MaxPoolGrad, replace: () => maxPoolGradConfig },
  { kernelName: Sum, replace: leadingAxesSum },
  { kernelName: Tile, replace: onePassTile },
  { kernelName: GatherV2, replace: rowCopyGather },
  { kernelName: Identity, replace: sharedIdentity },
  { kernelName: Cast, replace: castKernel },
];

let registeredNames: string[] | undefined;
/**
 * Every wasm kernel once kdkit's are registered (kdkit's where it has one, the stock one
 * otherwise), kept so that an accelerator can build on them and hand them back.
 */
const wasmConfigs = new Map<string, KernelConfig>();

/**
 * Registers kdkit's wasm kernels, and its gradients and own ops with their cpu kernels; later calls return the same names without registering again.
 * Replacements keep the stock kernel's setup function, so this works before or after the wasm
 * backend has been initialized.
 */
export function registerWasmKernels(): string[] {
  if (registeredNames !== undefined) return registeredNames;
  for (const config of addedKernels) {
    if (getKernel(config.kernelName, 'wasm') !== undefined) {
      throw new Error(
        `kdkit engine: the wasm backend already has a ${config.kernelName} kernel; ` +
          `remove kdkit's from src/engine/kernels/register.ts.`,
      );
    }
  }
  const replacements = replacedKernels.map(({ kernelName, replace }) => {
    const stock = getKernel(kernelName, 'wasm');
    if (stock === undefined) throw new Error(`kdkit engine: the wasm backend has no ${kernelName} kernel to replace.`);
    return replace(stock);
  });
  for (const config of addedKernels) registerKernel(config);
  for (const config of replacements) {
    unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
  // kdkit's gradients (./gradients.ts), batch norm (./batch_norm.ts), GELU (./gelu.ts) and layer norm (./layer_norm.ts) run on either backend.
  for (const config of cpuKernels) if (getKernel(config.kernelName, 'cpu') === undefined) registerKernel(config);
  registerGradients();
  if (getGradient(BatchNormTraining) === undefined) registerGradient(batchNormTrainingGradient);
  if (getGradient(Gelu) === undefined) registerGradient(geluGradient);
  if (getGradient(LayerNorm) === undefined) registerGradient(layerNormGradient);
  if (getGradient(Dropout) === undefined) registerGradient(dropoutGradient);
  for (const config of getKernelsForBackend('wasm')) wasmConfigs.set(config.kernelName, config);
  registeredNames = [...addedKernels, ...replacements].map((config) => config.kernelName);
  return registeredNames;
}

/** The wasm kernel for `kernelName` as registerWasmKernels left it: kdkit's, or the stock one. */
export function plainWasmKernel(kernelName: string): KernelConfig {
  const config = wasmConfigs.get(kernelName);
  if (config === undefined) throw new Error(`kdkit engine: the wasm backend has no ${kernelName} kernel.`);
  return config;
}

/**
 * Puts `configs` in place of the wasm kernels of the same names (an accelerator's kernels, or
 * the plain wasm ones to switch it off).
 */
export function swapWasmKernels(configs: readonly KernelConfig[]): void {
  for (const config of configs) {
    plainWasmKernel(config.kernelName);
    if (getKernel(config.kernelName, 'wasm') === config) continue;
    unregisterKernel(config.kernelName, 'wasm');
    registerKernel(config);
  }
}
