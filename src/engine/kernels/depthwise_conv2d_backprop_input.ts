/**
 * DepthwiseConv2dNativeBackpropInput for wasm, which the stock backend lacks. Scatters each
 * output gradient back through its filter taps:
 * dx[b, ih, iw, c] += dy[b, oh, ow, c * multiplier + q] * W[kh, kw, c, q].
 * kdkit's SIMD kernel (./depthwise_simd.ts) runs instead where it applies: multiplier 1, 12–15× faster.
 */
import {
  backend_util,
  DepthwiseConv2dNativeBackpropInput,
  type DepthwiseConv2dNativeBackpropInputAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { simdDepthwiseInputGrad } from './depthwise_simd.js';
import { assertFloat32, assertNoDilation, heapFloat32, wasmKernel } from './wasm.js';

interface Inputs {
  dy: TensorInfo;
  filter: TensorInfo;
}

export const depthwiseConv2dBackpropInputConfig = wasmKernel<Inputs, DepthwiseConv2dNativeBackpropInputAttrs>(
  DepthwiseConv2dNativeBackpropInput,
  ({ dy, filter }, { strides, dilations, pad, dimRoundingMode, inputShape }, backend) => {
    const simd = simdDepthwiseInputGrad(backend, dy, filter, inputShape, { strides, dilations, pad, dimRoundingMode });
    if (simd !== undefined) return simd;
    assertFloat32(DepthwiseConv2dNativeBackpropInput, dy, filter);
    assertNoDilation(DepthwiseConv2dNativeBackpropInput, dilations);
    const info = backend_util.computeConv2DInfo(
      inputShape,
      filter.shape as [number, number, number, number],
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

    const dx = backend.makeOutput([...inputShape], 'float32');
    const dxValues = heapFloat32(backend, dx);
    const dyValues = heapFloat32(backend, dy);
    const filterValues = heapFloat32(backend, filter);
    dxValues.fill(0);
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        for (let kh = 0; kh < filterHeight; kh++) {
          const ih = oh * strideHeight - padTop + kh;
          if (ih < 0 || ih >= inHeight) continue;
          for (let kw = 0; kw < filterWidth; kw++) {
            const filterBase = (kh * filterWidth + kw) * outChannels;
            for (let ow = 0; ow < outWidth; ow++) {
              const iw = ow * strideWidth - padLeft + kw;
              if (iw < 0 || iw >= inWidth) continue;
              const dxBase = ((b * inHeight + ih) * inWidth + iw) * inChannels;
              const dyBase = ((b * outHeight + oh) * outWidth + ow) * outChannels;
              for (let c = 0; c < inChannels; c++) {
                let sum = 0;
                for (let q = c * multiplier, qEnd = q + multiplier; q < qEnd; q++) {
                  sum += dyValues[dyBase + q] * filterValues[filterBase + q];
                }
                dxValues[dxBase + c] += sum;
              }
            }
          }
        }
      }
    }
    return dx;
  },
);
