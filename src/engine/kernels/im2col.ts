/**
 * Patch extraction for NHWC convolutions, written so that the matrix products around it take
 * the stock wasm matmul's untransposed fast path. Dilations are 1.
 *
 * A patch row index k = (kh * filterWidth + kw) * inChannels + ci; an output position
 * m = (b * outHeight + oh) * outWidth + ow.
 */
import type { backend_util } from '@tensorflow/tfjs-core';

type Conv2DInfo = backend_util.Conv2DInfo;

/** The range [first, end) of output columns whose input column ow * stride - padLeft + kw is inside the image. */
function validOutputColumns(info: Conv2DInfo, kw: number): [number, number] {
  const { strideWidth, outWidth, inWidth } = info;
  const padLeft = info.padInfo.left;
  const first = Math.max(0, Math.ceil((padLeft - kw) / strideWidth));
  const end = Math.min(outWidth, Math.floor((inWidth - 1 + padLeft - kw) / strideWidth) + 1);
  return [first, Math.max(first, end)];
}

/**
 * Fills `patchesT` ([K, M], K = filterHeight * filterWidth * inChannels, M = imageCount *
 * outHeight * outWidth) with the input patches of images firstImage..firstImage + imageCount - 1,
 * already transposed: patchesT[k, m] = x at patch k of output m, or 0 in the padding.
 */
export function im2colTransposed(x: Float32Array, patchesT: Float32Array, info: Conv2DInfo, firstImage: number, imageCount: number): void {
  const { inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  // First a zero-padded, channel-major copy of the images, so that each patch row below is
  // filled from contiguous (stride 1) or evenly strided reads with no bounds checks.
  const paddedHeight = (outHeight - 1) * strideHeight + filterHeight;
  const paddedWidth = (outWidth - 1) * strideWidth + filterWidth;
  const planeSize = paddedHeight * paddedWidth;
  const padded = new Float32Array(inChannels * imageCount * planeSize);
  const rowEnd = Math.min(inHeight, paddedHeight - padTop);
  const columnEnd = Math.min(inWidth, paddedWidth - padLeft);
  for (let image = 0; image < imageCount; image++) {
    for (let ih = 0; ih < rowEnd; ih++) {
      for (let iw = 0; iw < columnEnd; iw++) {
        const source = (((firstImage + image) * inHeight + ih) * inWidth + iw) * inChannels;
        const target = image * planeSize + (ih + padTop) * paddedWidth + iw + padLeft;
        for (let ci = 0; ci < inChannels; ci++) padded[ci * imageCount * planeSize + target] = x[source + ci];
      }
    }
  }
  const positions = imageCount * outHeight * outWidth;
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      for (let ci = 0; ci < inChannels; ci++) {
        let out = ((kh * filterWidth + kw) * inChannels + ci) * positions;
        for (let image = 0; image < imageCount; image++) {
          const plane = (ci * imageCount + image) * planeSize;
          for (let oh = 0; oh < outHeight; oh++, out += outWidth) {
            const source = plane + (oh * strideHeight + kh) * paddedWidth + kw;
            for (let ow = 0; ow < outWidth; ow++) patchesT[out + ow] = padded[source + ow * strideWidth];
          }
        }
      }
    }
  }
}

/**
 * Adds every patch in `patches` ([M, K]) back to where it came from in `dx` (NHWC, the input's
 * shape), which must start at zero: the adjoint of patch extraction.
 */
export function col2imAdd(patches: Float32Array, dx: Float32Array, info: Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  const patchSize = filterHeight * filterWidth * inChannels;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const ih = oh * strideHeight - padTop + kh;
        if (ih < 0 || ih >= inHeight) continue;
        for (let kw = 0; kw < filterWidth; kw++) {
          const [first, end] = validOutputColumns(info, kw);
          for (let ow = first; ow < end; ow++) {
            const iw = ow * strideWidth - padLeft + kw;
            const source = ((b * outHeight + oh) * outWidth + ow) * patchSize + (kh * filterWidth + kw) * inChannels;
            const target = ((b * inHeight + ih) * inWidth + iw) * inChannels;
            for (let ci = 0; ci < inChannels; ci++) dx[target + ci] += patches[source + ci];
          }
        }
      }
    }
  }
}
