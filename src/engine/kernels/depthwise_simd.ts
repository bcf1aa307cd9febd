/**
 * The two gradients of depthwise convolution by kdkit's SIMD kernels
 * (../simd/assembly/depthwise.ts), for what MobileNets train with: float32 NHWC, a channel
 * multiplier of 1, dilation 1, any stride and padding. Each function returns undefined, having
 * allocated nothing, for anything else or where the SIMD kernels cannot run (a shared heap); the
 * caller then runs its other kernel.
 */
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { backend_util, type DepthwiseConv2dNativeAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import { heapPointers, type SimdKernels, simdKernels } from '../simd/module.js';
import { heapFloat32 } from './wasm.js';

type Conv2DInfo = backend_util.Conv2DInfo;
type Shape4D = [number, number, number, number];

export interface DepthwiseAttrs {
  strides: number | [number, number];
  pad: DepthwiseConv2dNativeAttrs['pad'];
  dilations?: number | [number, number] | null;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dataFormat?: string;
}

/** Whether the SIMD gradients compute this geometry on `backend` (see the header). */
export function simdDepthwiseApplies(
  backend: BackendWasm,
  tensors: TensorInfo[],
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: DepthwiseAttrs,
): boolean {
  return simdGeometry(backend, tensors, inShape, filterShape, attrs) !== undefined;
}

/** The geometry, if the SIMD kernels can compute it. */
function simdGeometry(
  backend: BackendWasm,
  tensors: TensorInfo[],
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: DepthwiseAttrs,
): { info: Conv2DInfo; simd: SimdKernels } | undefined {
  const simd = simdKernels(backend);
  const dilations = attrs.dilations ?? 1;
  const unitDilation = typeof dilations === 'number' ? dilations === 1 : dilations[0] === 1 && dilations[1] === 1;
  if (simd === undefined || !unitDilation || (attrs.dataFormat ?? 'NHWC') !== 'NHWC') return undefined;
  if (tensors.some((tensor) => tensor.dtype !== 'float32') || filterShape[3] !== 1) return undefined;
  const info = backend_util.computeConv2DInfo(
    [...inShape] as Shape4D,
    [...filterShape] as Shape4D,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    true,
  );
  if (info.filterHeight > 32 || info.filterWidth > 32 || info.outHeight * info.outWidth * info.inHeight * info.inWidth === 0)
    return undefined;
  return { info, simd };
}

/** Scratch for the kernels: their geometry (12 i32), the list of taps (8 bytes each), then `floats` more. */
function allocateScratch(backend: BackendWasm, info: Conv2DInfo, floats = 0): TensorInfo {
  return backend.makeOutput([12 + 2 * info.filterHeight * info.filterWidth + floats], 'float32');
}

/** Writes the geometry at the start of `scratch`; returns the pointers to it and to the tap list. */
function writeGeometry(backend: BackendWasm, scratch: Float32Array, info: Conv2DInfo): { geometry: number; list: number } {
  new Int32Array(scratch.buffer, scratch.byteOffset, 12).set([
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outHeight,
    info.outWidth,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.padInfo.top,
    info.padInfo.left,
  ]);
  const [geometry] = heapPointers(backend, scratch);
  return { geometry, list: geometry + 48 };
}

export function simdDepthwiseInputGrad(
  backend: BackendWasm,
  dy: TensorInfo,
  filter: TensorInfo,
  inputShape: readonly number[],
  attrs: DepthwiseAttrs,
): TensorInfo | undefined {
  const ready = simdGeometry(backend, [dy, filter], inputShape, filter.shape, attrs);
  if (ready === undefined) return undefined;
  const dx = backend.makeOutput([...inputShape], 'float32');
  const scratch = allocateScratch(backend, ready.info);
  const [dyView, filterView, dxView, scratchView] = [dy, filter, dx, scratch].map((info) => heapFloat32(backend, info));
  const { geometry, list } = writeGeometry(backend, scratchView, ready.info);
  const [dyAt, filterAt, dxAt] = heapPointers(backend, dyView, filterView, dxView);
  ready.simd.depthwiseInputGrad(dyAt, filterAt, dxAt, list, geometry);
  backend.disposeData(scratch.dataId);
  return dx;
}

export function simdDepthwiseFilterGrad(
  backend: BackendWasm,
  x: TensorInfo,
  dy: TensorInfo,
  filterShape: readonly number[],
  attrs: DepthwiseAttrs,
): TensorInfo | undefined {
  const ready = simdGeometry(backend, [x, dy], x.shape, filterShape, attrs);
  if (ready === undefined) return undefined;
  const values = ready.info.filterHeight * ready.info.filterWidth * ready.info.inChannels;
  const dw = backend.makeOutput([...filterShape], 'float32');
  // f32 partials, then f64 totals (two floats each, one more to align them).
  const scratch = allocateScratch(backend, ready.info, 3 * values + 1);
  const [xView, dyView, dwView, scratchView] = [x, dy, dw, scratch].map((info) => heapFloat32(backend, info));
  const { geometry, list } = writeGeometry(backend, scratchView, ready.info);
  const partials = list + 8 * ready.info.filterHeight * ready.info.filterWidth;
  const totals = (partials + 4 * values + 7) & ~7;
  const [xAt, dyAt, dwAt] = heapPointers(backend, xView, dyView, dwView);
  ready.simd.depthwiseFilterGrad(xAt, dyAt, dwAt, partials, totals, geometry);
  backend.disposeData(scratch.dataId);
  return dw;
}
