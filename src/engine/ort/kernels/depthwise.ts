/**
 * DepthwiseConv2dNative and its two gradients on ONNX Runtime, with the graphs of
 * depthwise_graph.ts, over the batch in chunks of whole images (each tap's product is a temporary
 * the size of the output). Other dtypes, NCHW data and empty tensors go to the plain wasm kernels,
 * and so does what those compute faster (MobileNetV2's layers at batch 128, 2 threads):
 * - the forward pass without dilation: the stock XNNPACK kernel, 3–5× faster (128×14×14×144:
 *   5.6 against 20 ms; multipliers 2 and 3 alike);
 * - both gradients where kdkit's SIMD kernels apply (multiplier 1, no dilation,
 *   ../../kernels/depthwise_simd.ts), 3–13× faster (128×28×28×96 stride 2: input gradient 5.2
 *   against 63 ms, filter gradient 5.9 against 24 ms).
 */
import {
  backend_util,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeAttrs,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type KernelConfig,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import type { SessionCache } from '../session_cache.js';
import { simdDepthwiseApplies } from '../../kernels/depthwise_simd.js';
import { heapFloat32 } from '../../kernels/wasm.js';
import { graphGeometry, imageSizes, imagesPerRun } from './conv_graph.js';
import { depthwiseFilterGradGraph, depthwiseForwardGraph, depthwiseInputGradGraph } from './depthwise_graph.js';
import { forEachChunk, imageRange, sumOverChunks } from './chunks.js';
import { runOnViews, withWasmFallback } from './run_graph.js';

type Conv2DInfo = backend_util.Conv2DInfo;
type Shape4D = [number, number, number, number];

function depthwiseInfo(
  tensors: TensorInfo[],
  dataFormat: string | undefined,
  inShape: readonly number[],
  filterShape: readonly number[],
  attrs: {
    strides: number | [number, number];
    dilations: number | [number, number];
    pad: DepthwiseConv2dNativeAttrs['pad'];
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  },
): Conv2DInfo | undefined {
  // tfjs-layers passes dilations: null for its default of 1.
  return graphGeometry(tensors, dataFormat ?? 'NHWC', () =>
    backend_util.computeConv2DInfo(
      [...inShape] as Shape4D,
      [...filterShape] as Shape4D,
      attrs.strides,
      attrs.dilations ?? 1,
      attrs.pad,
      attrs.dimRoundingMode,
      true,
    ),
  );
}

export function ortDepthwiseConv2D(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ x: TensorInfo; filter: TensorInfo }, DepthwiseConv2dNativeAttrs>(fallback, ({ x, filter }, attrs, backend) => {
    const dilations = attrs.dilations ?? 1;
    if (typeof dilations === 'number' ? dilations === 1 : dilations[0] === 1 && dilations[1] === 1) return undefined;
    const info = depthwiseInfo([x, filter], attrs.dataFormat, x.shape, filter.shape, attrs);
    if (info === undefined) return undefined;
    const y = backend.makeOutput(info.outShape, 'float32');
    const [xValues, filterValues, yValues] = [x, filter, y].map((tensor) => heapFloat32(backend, tensor));
    const { inSize, outSize } = imageSizes(info);
    const temporaries = outSize * info.filterHeight * info.filterWidth;
    forEachChunk(info.batchSize, imagesPerRun(temporaries, info.batchSize), (first, count) => {
      runOnViews(
        cache,
        depthwiseForwardGraph(info, count),
        { x: imageRange(xValues, inSize, first, count), w: filterValues },
        { y: imageRange(yValues, outSize, first, count) },
      );
    });
    return y;
  });
}

export function ortDepthwiseConv2DBackpropInput(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ dy: TensorInfo; filter: TensorInfo }, DepthwiseConv2dNativeBackpropInputAttrs>(
    fallback,
    ({ dy, filter }, attrs, backend) => {
      if (simdDepthwiseApplies(backend, [dy, filter], attrs.inputShape, filter.shape, attrs)) return undefined;
      const info = depthwiseInfo([dy, filter], undefined, attrs.inputShape, filter.shape, attrs);
      if (info === undefined) return undefined;
      const dx = backend.makeOutput([...attrs.inputShape], 'float32');
      const [dyValues, filterValues, dxValues] = [dy, filter, dx].map((tensor) => heapFloat32(backend, tensor));
      const { inSize, outSize } = imageSizes(info);
      const temporaries = info.inHeight * info.inWidth * info.outChannels * info.filterHeight * info.filterWidth;
      forEachChunk(info.batchSize, imagesPerRun(temporaries, info.batchSize), (first, count) => {
        runOnViews(
          cache,
          depthwiseInputGradGraph(info, count),
          { dy: imageRange(dyValues, outSize, first, count), w: filterValues },
          { dx: imageRange(dxValues, inSize, first, count) },
        );
      });
      return dx;
    },
  );
}

export function ortDepthwiseConv2DBackpropFilter(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ x: TensorInfo; dy: TensorInfo }, DepthwiseConv2dNativeBackpropFilterAttrs>(
    fallback,
    ({ x, dy }, attrs, backend) => {
      if (simdDepthwiseApplies(backend, [x, dy], x.shape, attrs.filterShape, attrs)) return undefined;
      const info = depthwiseInfo([x, dy], undefined, x.shape, attrs.filterShape, attrs);
      if (info === undefined) return undefined;
      const dW = backend.makeOutput([...attrs.filterShape], 'float32');
      const [xValues, dyValues, dWValues] = [x, dy, dW].map((tensor) => heapFloat32(backend, tensor));
      const { inSize, outSize } = imageSizes(info);
      const temporaries = outSize * info.filterHeight * info.filterWidth;
      sumOverChunks(info.batchSize, imagesPerRun(temporaries, info.batchSize), dWValues, (first, count, target) => {
        runOnViews(
          cache,
          depthwiseFilterGradGraph(info, count),
          { x: imageRange(xValues, inSize, first, count), dy: imageRange(dyValues, outSize, first, count) },
          { dw: target },
        );
      });
      return dW;
    },
  );
}

export const ortDepthwiseKernelNames: readonly string[] = [
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropInput,
  DepthwiseConv2dNativeBackpropFilter,
];

export function ortDepthwiseKernels(fallback: (kernelName: string) => KernelConfig, cache: SessionCache): KernelConfig[] {
  return [
    ortDepthwiseConv2D(fallback(DepthwiseConv2dNative), cache),
    ortDepthwiseConv2DBackpropInput(fallback(DepthwiseConv2dNativeBackpropInput), cache),
    ortDepthwiseConv2DBackpropFilter(fallback(DepthwiseConv2dNativeBackpropFilter), cache),
  ];
}
