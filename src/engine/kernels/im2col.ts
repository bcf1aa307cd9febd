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
 * Fills `patchesT` ([K, M], K = filterHeight * filterWidth * inChannels, M = batch * outHeight *
 * outWidth) with the input patches, already transposed: patchesT[k, m] = x at patch k of output m,
 * or 0 in the padding.
 */
export function im2colTransposed(x: Float32Array, patchesT: Float32Array, info: Conv2DInfo): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const { strideHeight, strideWidth, filterHeight, filterWidth } = info;
  const { top: padTop, left: padLeft } = info.padInfo;
  const positions = batchSize * outHeight * outWidth;
  for (let b = 0; b < batchSize; b++) {
    for (let oh = 0; oh < outHeight; oh++) {
      const rowStart = (b * outHeight + oh) * outWidth;
      for (let kh = 0; kh < filterHeight; kh++) {
        const ih = oh * strideHeight - padTop + kh;
        const insideRows = ih >= 0 && ih < inHeight;
        for (let kw = 0; kw < filterWidth; kw++) {
          const [first, end] = insideRows ? validOutputColumns(info, kw) : [outWidth, outWidth];
          const xColumn0 = ((b * inHeight + ih) * inWidth + kw - padLeft) * inChannels;
          const xStep = strideWidth * inChannels;
          for (let ci = 0; ci < inChannels; ci++) {
            const k = (kh * filterWidth + kw) * inChannels + ci;
            const out = k * positions + rowStart;
            for (let ow = 0; ow < first; ow++) patchesT[out + ow] = 0;
            for (let ow = first, source = xColumn0 + ow * xStep + ci; ow < end; ow++, source += xStep) {
              patchesT[out + ow] = x[source];
            }
            for (let ow = end; ow < outWidth; ow++) patchesT[out + ow] = 0;
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
