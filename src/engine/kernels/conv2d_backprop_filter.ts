/**
 * Conv2DBackpropFilter for wasm, which the stock backend lacks:
 * dW[k, co] = sum over m of patchesT[k, m] * dy[m, co], one untransposed matrix product.
 */
import {
  backend_util,
  BatchMatMul,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type TensorInfo,
} from '@tensorflow/tfjs-core';
import { im2colTransposed } from './im2col.js';
import { assertChannelsLast, assertFloat32, heapFloat32, runWasmKernel, wasmKernel, withShape } from './wasm.js';

interface Inputs {
  x: TensorInfo;
  dy: TensorInfo;
}

export const conv2dBackpropFilterConfig = wasmKernel<Inputs, Conv2DBackpropFilterAttrs>(
  Conv2DBackpropFilter,
  ({ x, dy }, { strides, pad, dataFormat, dimRoundingMode, filterShape }, backend) => {
    assertFloat32(Conv2DBackpropFilter, x, dy);
    assertChannelsLast(Conv2DBackpropFilter, dataFormat);
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number], filterShape, strides, 1, pad, dimRoundingMode);
    const patchSize = info.filterHeight * info.filterWidth * info.inChannels;
    const positions = info.batchSize * info.outHeight * info.outWidth;

    const patchesT = backend.makeOutput([patchSize, positions], 'float32');
    im2colTransposed(heapFloat32(backend, x), heapFloat32(backend, patchesT), info);
    const dy2d = withShape(dy, [positions, info.outChannels]);
    const dW = runWasmKernel(BatchMatMul, { a: patchesT, b: dy2d }, { transposeA: false, transposeB: false }, backend);
    backend.disposeData(patchesT.dataId);
    dW.shape = [...filterShape];
    return dW;
  },
);
