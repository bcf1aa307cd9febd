/**
 * The ONNX graphs for an NHWC depthwise convolution and its two gradients, tap by tap. With
 * channels C, multiplier q and taps k = (kh, kw), a filter W [taps, C·q] and x_k the input tap k
 * sees (a strided slice of the padded input, see tapSliceNodes):
 *
 *   forward        y[m, c·q + j]  = Σ_k x_k[m, c] · W[k, c·q + j]
 *   filter grad    dW[k, c·q + j] = Σ_m x_k[m, c] · dy[m, c·q + j]       (the sum over m is a
 *                                                                        product with ones)
 *   input grad     dx[p, c]       = Σ_k Σ_j dy_k[p, c·q + j] · W[k, c·q + j]
 *
 * where dy_k gathers, for every input position p, the output position whose window put tap k on
 * p (a zero row where none did: padding, or between strides; see inputGradIndex). Each tap is an
 * elementwise product over whole images, which ONNX Runtime vectorizes and spreads over its
 * threads; the stock depthwise kernels are single-threaded and kdkit's wasm gradients are loops.
 */
import type { backend_util } from '@tensorflow/tfjs-core';
import type { NodeSpec } from '../onnx_model.js';
import type { KeyedGraph } from '../session_cache.js';
import { geometryKey, inputGradIndex, ints, tapSliceNodes } from './conv_graph.js';

type Conv2DInfo = backend_util.Conv2DInfo;

/** Nodes making `w${k}` ([C·q]), row k of `w` ([taps, C·q]), for every tap. */
function filterRows(taps: number): NodeSpec[] {
  return Array.from({ length: taps }, (_, k) => [
    ints(`tap${k}`, [k]),
    { opType: 'Gather', inputs: ['w', `tap${k}`], outputs: [`w${k}Row`], attributes: { axis: { int: 0 } } },
    ints(`w${k}Shape`, [-1]),
    { opType: 'Reshape', inputs: [`w${k}Row`, `w${k}Shape`], outputs: [`w${k}`] },
  ]).flat();
}

function multiplier(info: Conv2DInfo): number {
  return info.outChannels / info.inChannels;
}

/** y ([images·outHeight·outWidth, C·q]) from x ([images, inHeight·inWidth, C]) and w ([taps, C·q]). */
export function depthwiseForwardGraph(info: Conv2DInfo, images: number): KeyedGraph {
  const taps = info.filterHeight * info.filterWidth;
  const q = multiplier(info);
  const rows = images * info.outHeight * info.outWidth;
  return {
    key: `depthwise ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'x', shape: [images, info.inHeight * info.inWidth, info.inChannels] },
      { name: 'w', shape: [taps, info.outChannels] },
    ],
    outputs: [{ name: 'y', shape: [rows, info.outChannels] }],
    nodes: () => {
      const { nodes, taps: slices } = tapSliceNodes(info, images);
      nodes.push(...filterRows(taps), ints('tapShape', [rows, info.inChannels, 1]), ints('filterShape', [info.inChannels, q]));
      slices.forEach((slice, k) => {
        nodes.push(
          { opType: 'Reshape', inputs: [slice, 'tapShape'], outputs: [`${slice}Column`] },
          { opType: 'Reshape', inputs: [`w${k}`, 'filterShape'], outputs: [`w${k}Grid`] },
          { opType: 'Mul', inputs: [`${slice}Column`, `w${k}Grid`], outputs: [`product${k}`] },
        );
      });
      nodes.push(
        { opType: 'Sum', inputs: slices.map((_, k) => `product${k}`), outputs: ['total'] },
        ints('outputShape', [rows, info.outChannels]),
        { opType: 'Reshape', inputs: ['total', 'outputShape'], outputs: ['y'] },
      );
      return nodes;
    },
  };
}

/** dW ([taps, C·q]) from x ([images, inHeight·inWidth, C]) and dy ([images·outHeight·outWidth, C·q]). */
export function depthwiseFilterGradGraph(info: Conv2DInfo, images: number): KeyedGraph {
  const taps = info.filterHeight * info.filterWidth;
  const q = multiplier(info);
  const rows = images * info.outHeight * info.outWidth;
  return {
    key: `depthwise filter grad ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'x', shape: [images, info.inHeight * info.inWidth, info.inChannels] },
      { name: 'dy', shape: [rows, info.outChannels] },
    ],
    outputs: [{ name: 'dw', shape: [taps, info.outChannels] }],
    nodes: () => {
      const { nodes, taps: slices } = tapSliceNodes(info, images);
      nodes.push(
        ints('tapShape', [rows, info.inChannels, 1]),
        ints('gridShape', [rows, info.inChannels, q]),
        ints('flatShape', [rows, info.outChannels]),
        { opType: 'Reshape', inputs: ['dy', 'gridShape'], outputs: ['dyGrid'] },
        { opType: 'Constant', inputs: [], outputs: ['one'], attributes: { value_float: { float: 1 } } },
        ints('onesShape', [1, rows]),
        { opType: 'Expand', inputs: ['one', 'onesShape'], outputs: ['ones'] },
      );
      slices.forEach((slice, k) => {
        nodes.push(
          { opType: 'Reshape', inputs: [slice, 'tapShape'], outputs: [`${slice}Column`] },
          { opType: 'Mul', inputs: [`${slice}Column`, 'dyGrid'], outputs: [`product${k}`] },
          { opType: 'Reshape', inputs: [`product${k}`, 'flatShape'], outputs: [`product${k}Flat`] },
          { opType: 'Gemm', inputs: ['ones', `product${k}Flat`], outputs: [`dw${k}`] },
        );
      });
      nodes.push({ opType: 'Concat', inputs: slices.map((_, k) => `dw${k}`), outputs: ['dw'], attributes: { axis: { int: 0 } } });
      return nodes;
    },
  };
}

/** dx ([images·inHeight·inWidth, C]) from dy ([images, outHeight·outWidth, C·q]) and w ([taps, C·q]). */
export function depthwiseInputGradGraph(info: Conv2DInfo, images: number): KeyedGraph {
  const taps = info.filterHeight * info.filterWidth;
  const q = multiplier(info);
  const positions = info.inHeight * info.inWidth;
  return {
    key: `depthwise input grad ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'dy', shape: [images, info.outHeight * info.outWidth, info.outChannels] },
      { name: 'w', shape: [taps, info.outChannels] },
    ],
    outputs: [{ name: 'dx', shape: [images * positions, info.inChannels] }],
    nodes: () => {
      const index = inputGradIndex(info);
      const nodes: NodeSpec[] = [
        ...filterRows(taps),
        // One zero row after the last output position, for taps that put no output on an input.
        ints('dyPads', [0, 0, 0, 0, 1, 0]),
        { opType: 'Pad', inputs: ['dy', 'dyPads'], outputs: ['dyPadded'] },
      ];
      for (let k = 0; k < taps; k++) {
        nodes.push(
          ints(
            `dy${k}Index`,
            Array.from({ length: positions }, (_, p) => index[p * taps + k]),
          ),
          { opType: 'Gather', inputs: ['dyPadded', `dy${k}Index`], outputs: [`dy${k}`], attributes: { axis: { int: 1 } } },
          { opType: 'Mul', inputs: [`dy${k}`, `w${k}`], outputs: [`product${k}`] },
        );
      }
      nodes.push(
        { opType: 'Sum', inputs: Array.from({ length: taps }, (_, k) => `product${k}`), outputs: ['total'] },
        ints('gridShape', [images * positions, info.inChannels, q]),
        { opType: 'Reshape', inputs: ['total', 'gridShape'], outputs: ['totalGrid'] },
        ints('multiplierAxis', [2]),
        { opType: 'ReduceSum', inputs: ['totalGrid', 'multiplierAxis'], outputs: ['dx'], attributes: { keepdims: { int: 0 } } },
      );
      return nodes;
    },
  };
}
