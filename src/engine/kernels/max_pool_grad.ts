/**
 * MaxPoolGrad for wasm: each window's dy goes to its first maximum in row-major order, as the
 * cpu backend does. The SIMD kernels of ../simd/ do it in one pass (2×2 tiling windows, the
 * common case, have their own); on a shared heap a JavaScript loop does. The stock kernel takes
 * ~70 ms for a 128×28×28×32 input, the JavaScript loop 20 ms, the SIMD kernel 2.2 ms.
 */
import { backend_util, MaxPoolGrad, type MaxPoolGradAttrs, type TensorInfo } from '@tensorflow/tfjs-core';
import { simdKernels } from '../simd/module.js';
import { assertFloat32, heapFloat32, wasmKernel } from './wasm.js';

interface Inputs {
  dy: TensorInfo;
  input: TensorInfo;
  output: TensorInfo;
}

type PoolInfo = backend_util.Conv2DInfo;

/** Whether the windows are 2×2 with stride 2, tile the input, and the channels fill SIMD lanes. */
function tiles2x2(info: PoolInfo): boolean {
  const { top, left } = info.padInfo;
  return (
    info.filterHeight === 2 &&
    info.filterWidth === 2 &&
    info.strideHeight === 2 &&
    info.strideWidth === 2 &&
    top === 0 &&
    left === 0 &&
    info.inHeight === 2 * info.outHeight &&
    info.inWidth === 2 * info.outWidth &&
    info.inChannels % 4 === 0
  );
}

function javascriptMaxPoolGrad(info: PoolInfo, xValues: Float32Array, dyValues: Float32Array, dxValues: Float32Array): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  dxValues.fill(0);
  // Per window, the running maximum of every channel at once: the innermost loop walks
  // contiguous NHWC channels (one window at a time per channel was 3× slower).
  const maxValues = new Float32Array(channels);
  const maxIndices = new Int32Array(channels);
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowStart = Math.max(0, oh * strideHeight - padTop);
      const rowEnd = Math.min(inHeight, oh * strideHeight - padTop + filterHeight);
      for (let ow = 0; ow < outWidth; ow++) {
        const columnStart = Math.max(0, ow * strideWidth - padLeft);
        const columnEnd = Math.min(inWidth, ow * strideWidth - padLeft + filterWidth);
        maxValues.fill(-Infinity);
        maxIndices.fill(-1);
        for (let ih = rowStart; ih < rowEnd; ih++) {
          for (let iw = columnStart; iw < columnEnd; iw++) {
            const base = ((b * inHeight + ih) * inWidth + iw) * channels;
            for (let c = 0; c < channels; c++) {
              const value = xValues[base + c];
              if (value > maxValues[c]) {
                maxValues[c] = value;
                maxIndices[c] = base + c;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + oh) * outWidth + ow) * channels;
        for (let c = 0; c < channels; c++) {
          if (maxIndices[c] >= 0) dxValues[maxIndices[c]] += dyValues[dyBase + c];
        }
      }
    }
  }
}

export const maxPoolGradConfig = wasmKernel<Inputs, MaxPoolGradAttrs>(
  MaxPoolGrad,
  ({ dy, input }, { filterSize, strides, pad, dimRoundingMode }, backend) => {
    assertFloat32(MaxPoolGrad, dy, input);
    const info = backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const dx = backend.makeOutput([...input.shape], 'float32');
    const [x, g, d] = [heapFloat32(backend, input), heapFloat32(backend, dy), heapFloat32(backend, dx)];
    const simd = simdKernels(backend);
    const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
    if (simd === undefined || d.length === 0) {
      javascriptMaxPoolGrad(info, x, g, d);
    } else if (tiles2x2(info)) {
      simd.maxPoolGrad2x2(x.byteOffset, g.byteOffset, d.byteOffset, batchSize, outHeight, outWidth, inChannels);
    } else {
      simd.maxPoolGrad(
        x.byteOffset,
        g.byteOffset,
        d.byteOffset,
        batchSize,
        inHeight,
        inWidth,
        inChannels,
        outHeight,
        outWidth,
        info.filterHeight,
        info.filterWidth,
        info.strideHeight,
        info.strideWidth,
        info.padInfo.top,
        info.padInfo.left,
      );
    }
    return dx;
  },
);
