/**
 * MaxPoolGrad for wasm. The stock kernel takes ~70 ms for a 128x28x28x32 input; this one finds
 * each window's maximum (the first one in row-major order, as the cpu backend does) and adds
 * dy there: one pass over the input.
 */
import { backend_util, MaxPoolGrad, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import { assertFloat32, heapFloat32, wasmKernel } from './wasm.js';

interface Inputs {
  dy: TensorInfo;
  input: TensorInfo;
  output: TensorInfo;
}

export const maxPoolGradConfig = wasmKernel<Inputs, MaxPoolGradAttrs>(
  MaxPoolGrad,
  ({ dy, input }, { filterSize, strides, pad, dimRoundingMode }, backend) => {
    assertFloat32(MaxPoolGrad, dy, input);
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number], filterSize, strides, 1, pad, dimRoundingMode);
    const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
    const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
    const { top: padTop, left: padLeft } = info.padInfo;

    const dx = backend.makeOutput([...input.shape], 'float32');
    const dxValues = heapFloat32(backend, dx);
    const xValues = heapFloat32(backend, input);
    const dyValues = heapFloat32(backend, dy);
    dxValues.fill(0);
    for (let b = 0; b < batchSize; b++) {
      for (let oh = 0; oh < outHeight; oh++) {
        const rowStart = Math.max(0, oh * strideHeight - padTop);
        const rowEnd = Math.min(inHeight, oh * strideHeight - padTop + filterHeight);
        for (let ow = 0; ow < outWidth; ow++) {
          const columnStart = Math.max(0, ow * strideWidth - padLeft);
          const columnEnd = Math.min(inWidth, ow * strideWidth - padLeft + filterWidth);
          const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
          for (let c = 0; c < channels; c++) {
            let maxValue = -Infinity;
            let maxIndex = -1;
            for (let ih = rowStart; ih < rowEnd; ih++) {
              for (let iw = columnStart; iw < columnEnd; iw++) {
                const index = ((b * inHeight + ih) * inWidth + iw) * channels + c;
                if (xValues[index] > maxValue) {
                  maxValue = xValues[index];
                  maxIndex = index;
                }
              }
            }
            if (maxIndex >= 0) dxValues[maxIndex] += dyValues[dyBase + c];
          }
        }
      }
    }
    return dx;
  },
);
