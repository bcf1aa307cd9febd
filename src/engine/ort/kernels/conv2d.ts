/**
 * Conv2D, FusedConv2D and the two convolution gradients on ONNX Runtime, with the graphs of
 * conv_graph.ts. Each runs over the batch in chunks of whole images so that the gathered patches
 * stay bounded (teacher inference runs large batches). Calls the graphs do not cover go to the
 * plain wasm kernel: other dtypes, NCHW data, empty tensors, and biases or PReLU slopes that are
 * neither per channel nor a single value.
 */
import {
  FusedConv2D,
  backend_util,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  util,
  type Conv2DAttrs,
  type Conv2DBackpropFilterAttrs,
  type Conv2DBackpropInputAttrs,
  type FusedConv2DAttrs,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { SessionCache } from '../session_cache.js';
import { heapFloat32 } from '../../kernels/wasm.js';
import { isOrtActivation } from './activation.js';
import {
  convFilterGradGraph,
  convForwardGraph,
  convInputGradGraph,
  graphGeometry,
  imageSizes,
  imagesPerRun,
  inputGradPatchSize,
  type ConvEpilogue,
} from './conv_graph.js';
import { forEachChunk, imageRange, sumOverChunks } from './chunks.js';
import {
  blockedConvForwardGraph,
  blockedConvInputGradGraph,
  blockedForwardApplies,
  blockedImagesPerRun,
  blockedInputGradApplies,
  nchwcBlockSize,
} from './nchwc_graph.js';
import { runOnViews, withWasmFallback } from './run_graph.js';
import { shiftedFilterGrad, shiftedFilterGradApplies } from './shifted_filter_grad.js';

type Conv2DInfo = backend_util.Conv2DInfo;
type Shape4D = [number, number, number, number];

interface ForwardInputs {
  x: TensorInfo;
  filter: TensorInfo;
  bias?: TensorInfo;
  preluActivationWeights?: TensorInfo;
}

/** 'channel' for one value per output channel, 'scalar' for one value, 'none', or undefined for other shapes. */
function perChannel(values: TensorInfo | undefined, outChannels: number): ConvEpilogue['bias'] | undefined {
  if (values == null) return 'none';
  const size = util.sizeFromShape(values.shape);
  if (size === 1) return 'scalar';
  return size === outChannels && values.shape[values.shape.length - 1] === outChannels ? 'channel' : undefined;
}

function forward(
  { x, filter, bias, preluActivationWeights }: ForwardInputs,
  info: Conv2DInfo,
  epilogue: ConvEpilogue,
  backend: BackendWasm,
  cache: SessionCache,
): TensorInfo {
  const y = backend.makeOutput(info.outShape, 'float32');
  const [xValues, filterValues, yValues] = [x, filter, y].map((tensor) => heapFloat32(backend, tensor));
  const biasValues = bias == null ? undefined : heapFloat32(backend, bias);
  const slopes = preluActivationWeights == null ? undefined : heapFloat32(backend, preluActivationWeights);
  const { inSize, outSize } = imageSizes(info);
  const inputs = (first: number, count: number) => ({
    x: imageRange(xValues, inSize, first, count),
    w: filterValues,
    ...(biasValues === undefined ? {} : { bias: biasValues }),
    ...(slopes === undefined ? {} : { preluWeights: slopes }),
  });
  const block = blockedForwardApplies(info) ? nchwcBlockSize(cache) : undefined;
  if (block !== undefined) {
    forEachChunk(info.batchSize, blockedImagesPerRun(info, block), (first, count) => {
      runOnViews(cache, blockedConvForwardGraph(info, count, epilogue, block), inputs(first, count), {
        y: imageRange(yValues, outSize, first, count),
      });
    });
    return y;
  }
  const patchSize = info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels;
  forEachChunk(info.batchSize, imagesPerRun(patchSize, info.batchSize), (first, count) => {
    runOnViews(cache, convForwardGraph(info, count, epilogue), inputs(first, count), { y: imageRange(yValues, outSize, first, count) });
  });
  return y;
}

export function ortConv2D(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<ForwardInputs, Conv2DAttrs>(fallback, (inputs, attrs, backend) => {
    const { x, filter } = inputs;
    const { strides, pad, dataFormat, dilations, dimRoundingMode } = attrs;
    const info = graphGeometry([x, filter], dataFormat, () =>
      backend_util.computeConv2DInfo(x.shape as Shape4D, filter.shape as Shape4D, strides, dilations ?? 1, pad, dimRoundingMode),
    );
    if (info === undefined) return undefined;
    return forward({ x, filter }, info, { bias: 'none', activation: 'linear' }, backend, cache);
  });
}

export function ortFusedConv2D(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<ForwardInputs, FusedConv2DAttrs>(fallback, (inputs, attrs, backend) => {
    const { x, filter, bias, preluActivationWeights } = inputs;
    const { strides, pad, dataFormat, dilations, dimRoundingMode, activation, leakyreluAlpha } = attrs;
    const fused = activation ?? 'linear';
    if (!isOrtActivation(fused) || (fused === 'prelu') !== (preluActivationWeights != null)) return undefined;
    const operands = [x, filter, bias, preluActivationWeights].filter((info): info is TensorInfo => info != null);
    const info = graphGeometry(operands, dataFormat, () =>
      backend_util.computeConv2DInfo(x.shape as Shape4D, filter.shape as Shape4D, strides, dilations ?? 1, pad, dimRoundingMode),
    );
    if (info === undefined) return undefined;
    const biasKind = perChannel(bias, info.outChannels);
    const slopesKind = perChannel(preluActivationWeights, info.outChannels);
    if (biasKind === undefined || slopesKind === undefined) return undefined;
    const epilogue: ConvEpilogue = { bias: biasKind, activation: fused, leakyreluAlpha };
    if (slopesKind !== 'none') epilogue.preluShape = [slopesKind === 'channel' ? info.outChannels : 1];
    return forward({ x, filter, bias, preluActivationWeights }, info, epilogue, backend, cache);
  });
}

export function ortConv2DBackpropInput(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ dy: TensorInfo; filter: TensorInfo }, Conv2DBackpropInputAttrs>(fallback, (inputs, attrs, backend) => {
    const { dy, filter } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs;
    const info = graphGeometry([dy, filter], dataFormat, () =>
      backend_util.computeConv2DInfo([...inputShape] as Shape4D, filter.shape as Shape4D, strides, 1, pad, dimRoundingMode),
    );
    if (info === undefined) return undefined;
    const dx = backend.makeOutput([...inputShape], 'float32');
    const [dyValues, filterValues, dxValues] = [dy, filter, dx].map((tensor) => heapFloat32(backend, tensor));
    const { inSize, outSize } = imageSizes(info);
    const block = blockedInputGradApplies(info) ? nchwcBlockSize(cache) : undefined;
    if (block !== undefined) {
      forEachChunk(info.batchSize, blockedImagesPerRun(info, block), (first, count) => {
        runOnViews(
          cache,
          blockedConvInputGradGraph(info, count, block),
          { dy: imageRange(dyValues, outSize, first, count), w: filterValues },
          { dx: imageRange(dxValues, inSize, first, count) },
        );
      });
      return dx;
    }
    forEachChunk(info.batchSize, imagesPerRun(inputGradPatchSize(info), info.batchSize), (first, count) => {
      runOnViews(
        cache,
        convInputGradGraph(info, count),
        { dy: imageRange(dyValues, outSize, first, count), w: filterValues },
        { dx: imageRange(dxValues, inSize, first, count) },
      );
    });
    return dx;
  });
}

export function ortConv2DBackpropFilter(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ x: TensorInfo; dy: TensorInfo }, Conv2DBackpropFilterAttrs>(fallback, (inputs, attrs, backend) => {
    const { x, dy } = inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs;
    const info = graphGeometry([x, dy], dataFormat, () =>
      backend_util.computeConv2DInfo(x.shape as Shape4D, [...filterShape] as Shape4D, strides, 1, pad, dimRoundingMode),
    );
    if (info === undefined) return undefined;
    const dW = backend.makeOutput([...filterShape], 'float32');
    const [xValues, dyValues, dWValues] = [x, dy, dW].map((tensor) => heapFloat32(backend, tensor));
    if (shiftedFilterGradApplies(info)) {
      shiftedFilterGrad(cache, info, xValues, dyValues, dWValues);
      return dW;
    }
    const { inSize, outSize } = imageSizes(info);
    const patchSize = info.outHeight * info.outWidth * info.filterHeight * info.filterWidth * info.inChannels;
    sumOverChunks(info.batchSize, imagesPerRun(patchSize, info.batchSize), dWValues, (first, count, target) => {
      runOnViews(
        cache,
        convFilterGradGraph(info, count),
        { x: imageRange(xValues, inSize, first, count), dy: imageRange(dyValues, outSize, first, count) },
        { dw: target },
      );
    });
    return dW;
  });
}

export const ortConvKernelNames: readonly string[] = [Conv2D, FusedConv2D, Conv2DBackpropInput, Conv2DBackpropFilter];

/** The four convolution kernels, each built on the plain wasm kernel of the same name. */
export function ortConvKernels(fallback: (kernelName: string) => KernelConfig, cache: SessionCache): KernelConfig[] {
  return [
    ortConv2D(fallback(Conv2D), cache),
    ortFusedConv2D(fallback(FusedConv2D), cache),
    ortConv2DBackpropInput(fallback(Conv2DBackpropInput), cache),
    ortConv2DBackpropFilter(fallback(Conv2DBackpropFilter), cache),
  ];
}
