/**
 * UnsortedSegmentSum for wasm, which the stock backend lacks (tf.gather's gradient needs it):
 * out[s, ...] = sum of x[i, ...] over every i with segmentIds[i] = s. Ids outside
 * [0, numSegments) are dropped, as in TensorFlow.
 */
import { UnsortedSegmentSum, util, type TensorInfo, type UnsortedSegmentSumAttrs } from '@tensorflow/tfjs-core';
import { wasmKernel } from './wasm.js';

interface Inputs {
  x: TensorInfo;
  segmentIds: TensorInfo;
}

export const unsortedSegmentSumConfig = wasmKernel<Inputs, UnsortedSegmentSumAttrs>(
  UnsortedSegmentSum,
  ({ x, segmentIds }, { numSegments }, backend) => {
    const idsRank = segmentIds.shape.length;
    if (!util.arraysEqual(segmentIds.shape, x.shape.slice(0, idsRank))) {
      throw new Error(
        `kdkit engine: ${UnsortedSegmentSum} needs segmentIds' shape [${segmentIds.shape}] ` + `to be a prefix of x's shape [${x.shape}].`,
      );
    }
    if (x.dtype !== 'float32' && x.dtype !== 'int32') {
      throw new Error(`kdkit engine: ${UnsortedSegmentSum} on wasm supports float32 and int32, got ${x.dtype}.`);
    }
    const rowSize = util.sizeFromShape(x.shape.slice(idsRank));

    const out = backend.makeOutput([numSegments, ...x.shape.slice(idsRank)], x.dtype);
    const outValues = backend.typedArrayFromHeap(out);
    const xValues = backend.typedArrayFromHeap(x);
    const ids = backend.typedArrayFromHeap(segmentIds);
    outValues.fill(0);
    for (let row = 0; row < ids.length; row++) {
      const segment = ids[row];
      if (segment < 0 || segment >= numSegments) continue;
      const source = row * rowSize;
      const target = segment * rowSize;
      for (let i = 0; i < rowSize; i++) outValues[target + i] += xValues[source + i];
    }
    return out;
  },
);
