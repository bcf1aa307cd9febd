/**
 * The ONNX graphs for an NHWC 2-D convolution and its two gradients. ONNX's Conv and
 * ConvTranspose are NCHW, and the transposes around them cost as much as they save: for a
 * 128×14×14×32 → 64 3×3 layer on 2 threads, Conv between transposes took 13.1 ms and
 * ConvTranspose 16.5 ms, against 9.4 ms and 8.9 ms for the graphs below. Each graph gathers
 * filter patches, staying in NHWC, then does one matrix product on MLAS:
 *
 *   patches(src)[(n, p), (kh, kw, c)] = src[n, index[p, kh, kw], c]
 *   forward        y  = patches(x)  · W[(kh, kw, ci), co]   (+ bias, activation)
 *   filter grad    dW = patches(x)ᵀ · dy[(n, oh, ow), co]
 *   input grad     dx = patches(dy) · W[(kh, kw, co), ci]   (W with its last two axes swapped)
 *
 * `index`, a constant of the graph, is the flat spatial position each filter tap reads, or a zero
 * row appended to `src` for taps that fall in the padding or, for the input gradient, between
 * strides. Strides, TensorFlow.js's padding and dilations all live in the index.
 */
import { util, type backend_util, type TensorInfo } from '@tensorflow/tfjs-core';
import type { NodeSpec } from '../onnx_model.js';
import type { KeyedGraph } from '../session_cache.js';
import { activationNodes, type OrtActivation } from './activation.js';

type Conv2DInfo = backend_util.Conv2DInfo;

/** What the forward graph adds after the product. */
export interface ConvEpilogue {
  /** A bias per output channel ([outChannels]), one for all ([1]), or none. */
  bias: 'channel' | 'scalar' | 'none';
  activation: OrtActivation;
  leakyreluAlpha?: number;
  /** PReLU's slopes (input `preluWeights`): one per output channel ([outChannels]) or one for all ([1]). */
  preluShape?: [number];
}

/**
 * The layer's geometry from `compute`, or undefined when the graphs do not apply: data that is
 * not NHWC float32, or an empty input, filter or output.
 */
export function graphGeometry(tensors: TensorInfo[], dataFormat: string, compute: () => Conv2DInfo): Conv2DInfo | undefined {
  if (dataFormat !== 'NHWC' || tensors.some((tensor) => tensor.dtype !== 'float32')) return undefined;
  const info = compute();
  const sizes = [info.inShape, info.filterShape, info.outShape].map((shape) => util.sizeFromShape(shape));
  return sizes.every((size) => size > 0) ? info : undefined;
}

/** Values per image of the layer's input and output. */
export function imageSizes(info: Conv2DInfo): { inSize: number; outSize: number } {
  return {
    inSize: info.inHeight * info.inWidth * info.inChannels,
    outSize: info.outHeight * info.outWidth * info.outChannels,
  };
}

/** The geometry a graph depends on, as a cache key. */
export function geometryKey(info: Conv2DInfo): string {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, outChannels } = info;
  const { filterHeight, filterWidth, strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  return [
    inHeight,
    inWidth,
    inChannels,
    outHeight,
    outWidth,
    outChannels,
    filterHeight,
    filterWidth,
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
  ].join(',');
}

/** For each output position (oh, ow) and tap (kh, kw), the input position it reads; inHeight·inWidth in the padding. */
function forwardIndex(info: Conv2DInfo): number[] {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const zeroRow = inHeight * inWidth;
  const index: number[] = [];
  for (let oh = 0; oh < outHeight; oh++) {
    for (let ow = 0; ow < outWidth; ow++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const ih = oh * strideHeight - top + kh * dilationHeight;
        for (let kw = 0; kw < filterWidth; kw++) {
          const iw = ow * strideWidth - left + kw * dilationWidth;
          const inside = ih >= 0 && ih < inHeight && iw >= 0 && iw < inWidth;
          index.push(inside ? ih * inWidth + iw : zeroRow);
        }
      }
    }
  }
  return index;
}

/**
 * For each input position (ih, iw) and tap (kh, kw), the output position whose window put that
 * tap on (ih, iw); outHeight·outWidth if none does (padding, or between strides).
 */
export function inputGradIndex(info: Conv2DInfo): number[] {
  const { inHeight, inWidth, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const zeroRow = outHeight * outWidth;
  const outputOf = (input: number, pad: number, tap: number, stride: number, size: number): number => {
    const scaled = input + pad - tap;
    if (scaled < 0 || scaled % stride !== 0) return -1;
    const output = scaled / stride;
    return output < size ? output : -1;
  };
  const index: number[] = [];
  for (let ih = 0; ih < inHeight; ih++) {
    for (let iw = 0; iw < inWidth; iw++) {
      for (let kh = 0; kh < filterHeight; kh++) {
        const oh = outputOf(ih, top, kh * dilationHeight, strideHeight, outHeight);
        for (let kw = 0; kw < filterWidth; kw++) {
          const ow = outputOf(iw, left, kw * dilationWidth, strideWidth, outWidth);
          index.push(oh >= 0 && ow >= 0 ? oh * outWidth + ow : zeroRow);
        }
      }
    }
  }
  return index;
}

export function ints(name: string, values: readonly number[]): NodeSpec {
  return { opType: 'Constant', inputs: [], outputs: [name], attributes: { value_ints: { ints: values } } };
}

/**
 * Nodes turning `source` ([images, rows, channels]) into its patches `${source}Patches`
 * ([images · positions, taps · channels]) by `index` (positions · taps entries).
 */
function gatherPatchNodes(source: string, images: number, channels: number, index: number[], taps: number): NodeSpec[] {
  const positions = index.length / taps;
  return [
    // One zero row after the last one, for the taps that read padding.
    ints(`${source}Pads`, [0, 0, 0, 0, 1, 0]),
    { opType: 'Pad', inputs: [source, `${source}Pads`], outputs: [`${source}Padded`] },
    ints(`${source}Index`, index),
    { opType: 'Gather', inputs: [`${source}Padded`, `${source}Index`], outputs: [`${source}Gathered`], attributes: { axis: { int: 1 } } },
    ints(`${source}PatchShape`, [images * positions, taps * channels]),
    { opType: 'Reshape', inputs: [`${source}Gathered`, `${source}PatchShape`], outputs: [`${source}Patches`] },
  ];
}

/**
 * The forward patches of `x` ([images, inHeight·inWidth, inChannels]) as one strided Slice per
 * tap of the zero-padded images, concatenated on the channel axis. Gather copies one row of
 * channels per index, which is slow for rows of a few values (a 128×28×28×1 3×3 layer: 11.7 ms
 * gathered, 3.2 ms sliced); slices copy whole image rows.
 */
function slicePatchNodes(info: Conv2DInfo, images: number): NodeSpec[] {
  const { nodes, taps } = tapSliceNodes(info, images);
  nodes.push(
    { opType: 'Concat', inputs: taps, outputs: ['xConcatenated'], attributes: { axis: { int: 3 } } },
    ints('xPatchShape', [images * info.outHeight * info.outWidth, taps.length * info.inChannels]),
    { opType: 'Reshape', inputs: ['xConcatenated', 'xPatchShape'], outputs: ['xPatches'] },
  );
  return nodes;
}

/**
 * Nodes slicing, from `x` ([images, inHeight·inWidth, inChannels]) zero-padded, the input each
 * filter tap sees: one value `taps[k]` ([images, outHeight, outWidth, inChannels]) per tap, in
 * row-major tap order. Strides and dilations are the slices' steps and starts.
 */
export function tapSliceNodes(info: Conv2DInfo, images: number): { nodes: NodeSpec[]; taps: string[] } {
  const { inHeight, inWidth, inChannels, outHeight, outWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  // Rows and columns the windows span, from the top-left padding on.
  const spanHeight = (outHeight - 1) * strideHeight + (filterHeight - 1) * dilationHeight + 1;
  const spanWidth = (outWidth - 1) * strideWidth + (filterWidth - 1) * dilationWidth + 1;
  const bottom = Math.max(0, spanHeight - top - inHeight);
  const right = Math.max(0, spanWidth - left - inWidth);
  const nodes: NodeSpec[] = [
    ints('xImageShape', [images, inHeight, inWidth, inChannels]),
    { opType: 'Reshape', inputs: ['x', 'xImageShape'], outputs: ['xImages'] },
    ints('xPads', [0, top, left, 0, 0, bottom, right, 0]),
    { opType: 'Pad', inputs: ['xImages', 'xPads'], outputs: ['xPadded'] },
    ints('sliceAxes', [1, 2]),
    ints('sliceSteps', [strideHeight, strideWidth]),
  ];
  const taps: string[] = [];
  for (let kh = 0; kh < filterHeight; kh++) {
    for (let kw = 0; kw < filterWidth; kw++) {
      const [row, column] = [kh * dilationHeight, kw * dilationWidth];
      const tap = `xTap${kh}_${kw}`;
      nodes.push(
        ints(`${tap}Starts`, [row, column]),
        ints(`${tap}Ends`, [row + (outHeight - 1) * strideHeight + 1, column + (outWidth - 1) * strideWidth + 1]),
        { opType: 'Slice', inputs: ['xPadded', `${tap}Starts`, `${tap}Ends`, 'sliceAxes', 'sliceSteps'], outputs: [tap] },
      );
      taps.push(tap);
    }
  }
  return { nodes, taps };
}

/** Input channels below which the forward patches are sliced rather than gathered. */
const minGatherChannels = 8;

/**
 * Whether the layer is a 1×1 convolution with stride 1 and no padding, whose patches are its
 * input (and whose input gradient's patches are dy) as they lie.
 */
export function pointwise(info: Conv2DInfo): boolean {
  const { top, left, bottom, right } = info.padInfo;
  return (
    info.filterHeight === 1 &&
    info.filterWidth === 1 &&
    info.strideHeight === 1 &&
    info.strideWidth === 1 &&
    top + left + bottom + right === 0
  );
}

/** `${source}Patches` as `source` itself, reshaped to [rows, channels]. */
function asPatchNodes(source: string, rows: number, channels: number): NodeSpec[] {
  return [
    ints(`${source}PatchShape`, [rows, channels]),
    { opType: 'Reshape', inputs: [source, `${source}PatchShape`], outputs: [`${source}Patches`] },
  ];
}

/** Nodes making `xPatches` ([images · outHeight · outWidth, taps · inChannels]) from `x`. */
function forwardPatchNodes(info: Conv2DInfo, images: number): NodeSpec[] {
  if (pointwise(info)) return asPatchNodes('x', images * info.inHeight * info.inWidth, info.inChannels);
  if (info.inChannels < minGatherChannels) return slicePatchNodes(info, images);
  return gatherPatchNodes('x', images, info.inChannels, forwardIndex(info), info.filterHeight * info.filterWidth);
}

/** y ([images·outHeight·outWidth, outChannels]) from x ([images, inHeight·inWidth, inChannels]) and w ([taps·inChannels, outChannels]). */
export function convForwardGraph(info: Conv2DInfo, images: number, epilogue: ConvEpilogue): KeyedGraph {
  const { activation, bias } = epilogue;
  const alpha = epilogue.leakyreluAlpha ?? 0.2;
  const taps = info.filterHeight * info.filterWidth;
  return {
    key: `conv2d ${images} ${geometryKey(info)} ${bias} ${activation} ${activation === 'leakyrelu' ? alpha : ''}${epilogue.preluShape ?? ''}`,
    inputs: [
      { name: 'x', shape: [images, info.inHeight * info.inWidth, info.inChannels] },
      { name: 'w', shape: [taps * info.inChannels, info.outChannels] },
      ...(bias === 'none' ? [] : [{ name: 'bias', shape: bias === 'channel' ? [info.outChannels] : [1] }]),
      ...(activation === 'prelu' ? [{ name: 'preluWeights', shape: epilogue.preluShape ?? [1] }] : []),
    ],
    outputs: [{ name: 'y', shape: [images * info.outHeight * info.outWidth, info.outChannels] }],
    nodes: () => {
      const activated = activationNodes(activation, 'linear', 'y', alpha);
      return [
        ...forwardPatchNodes(info, images),
        {
          opType: 'Gemm',
          inputs: bias === 'none' ? ['xPatches', 'w'] : ['xPatches', 'w', 'bias'],
          outputs: [activated.length === 0 ? 'y' : 'linear'],
        },
        ...activated,
      ];
    },
  };
}

/**
 * dW ([taps·inChannels, outChannels]) from x ([images, inHeight·inWidth, inChannels]) and dy
 * ([images·outHeight·outWidth, outChannels]).
 */
export function convFilterGradGraph(info: Conv2DInfo, images: number): KeyedGraph {
  const taps = info.filterHeight * info.filterWidth;
  return {
    key: `conv2d filter grad ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'x', shape: [images, info.inHeight * info.inWidth, info.inChannels] },
      { name: 'dy', shape: [images * info.outHeight * info.outWidth, info.outChannels] },
    ],
    outputs: [{ name: 'dw', shape: [taps * info.inChannels, info.outChannels] }],
    nodes: () => {
      const rows = images * info.outHeight * info.outWidth;
      const product: NodeSpec[] =
        rows % 2 === 0
          ? [
              ...transposedHalvesNodes('dy', rows, info.outChannels),
              ...halvesProductNodes('xPatches', 'dy', rows, taps * info.inChannels, 'dw'),
            ]
          : [{ opType: 'Gemm', inputs: ['xPatches', 'dy'], outputs: ['dw'], attributes: { transA: { int: 1 } } }];
      return [...forwardPatchNodes(info, images), ...product];
    },
  };
}

/**
 * The input positions of a strided layer grouped by phase: a position (ih, iw) receives from the
 * taps (kh, kw) with ih + top − kh·dilation a multiple of the stride, and which ones depends only
 * on (ih + top) mod strideHeight and (iw + left) mod strideWidth. Per phase, its positions
 * (row-major), its taps, and for each position and tap the output position it reads (the zero
 * row outHeight·outWidth past the output's edge). Phases that no tap reaches (a stride larger
 * than the filter) are left out.
 */
interface InputGradPhase {
  positions: number[];
  taps: number[];
  index: number[];
}

export function inputGradPhases(info: Conv2DInfo): InputGradPhase[] {
  const { inHeight, inWidth, filterHeight, filterWidth } = info;
  const { strideHeight, strideWidth, dilationHeight, dilationWidth } = info;
  const { top, left } = info.padInfo;
  const fullIndex = inputGradIndex(info);
  const taps = filterHeight * filterWidth;
  const phases: InputGradPhase[] = [];
  for (let phaseRow = 0; phaseRow < strideHeight; phaseRow++) {
    for (let phaseColumn = 0; phaseColumn < strideWidth; phaseColumn++) {
      const phaseTaps: number[] = [];
      for (let kh = 0; kh < filterHeight; kh++) {
        for (let kw = 0; kw < filterWidth; kw++) {
          if ((kh * dilationHeight) % strideHeight === phaseRow && (kw * dilationWidth) % strideWidth === phaseColumn) {
            phaseTaps.push(kh * filterWidth + kw);
          }
        }
      }
      if (phaseTaps.length === 0) continue;
      const positions: number[] = [];
      const index: number[] = [];
      for (let ih = 0; ih < inHeight; ih++) {
        if ((ih + top) % strideHeight !== phaseRow) continue;
        for (let iw = 0; iw < inWidth; iw++) {
          if ((iw + left) % strideWidth !== phaseColumn) continue;
          const position = ih * inWidth + iw;
          positions.push(position);
          for (const tap of phaseTaps) index.push(fullIndex[position * taps + tap]);
        }
      }
      if (positions.length > 0) phases.push({ positions, taps: phaseTaps, index });
    }
  }
  return phases;
}

/**
 * Whether a layer's input gradient gathers by phase: strided, with more than one tap, some of
 * which reach some position. A 1×1 layer's one tap is cheaper gathered with the zeros than put
 * back in order (128×28×28×16 → 32 stride 2: 1.5 ms gathered, 3.0 ms by phase).
 */
function phased(info: Conv2DInfo): boolean {
  const strided = info.strideHeight > 1 || info.strideWidth > 1;
  return strided && info.filterHeight * info.filterWidth > 1 && inputGradPhases(info).length > 0;
}

const patchSizes = new Map<string, number>();

/** Patch values per image of a layer's input gradient: the taps that reach each input position, times outChannels. */
export function inputGradPatchSize(info: Conv2DInfo): number {
  const key = geometryKey(info);
  let size = patchSizes.get(key);
  if (size === undefined) {
    const taps = phased(info)
      ? inputGradPhases(info).reduce((total, phase) => total + phase.positions.length * phase.taps.length, 0)
      : info.inHeight * info.inWidth * info.filterHeight * info.filterWidth;
    size = taps * info.outChannels;
    patchSizes.set(key, size);
  }
  return size;
}

/**
 * dx ([images·inHeight·inWidth, inChannels]) from dy ([images, outHeight·outWidth, outChannels])
 * and w ([taps, inChannels, outChannels]). With stride 1 every tap reaches every input position:
 * one product of dy's patches and w. With a larger stride, each phase (inputGradPhases) gathers
 * only the taps that reach it, with its own rows of w; the phases' results are then put back in
 * position order, positions no tap reaches reading a zero row. Gathering every tap would gather
 * and multiply zeros for the taps between strides: 3 of 4 at stride 2 (128×28×28×16 → 32 3×3
 * stride 2: 12.5 ms gathering every tap, 6.0 ms by phase; 128×14×14×32 → 64: 7.5 and 3.7 ms).
 */
export function convInputGradGraph(info: Conv2DInfo, images: number): KeyedGraph {
  const taps = info.filterHeight * info.filterWidth;
  return {
    key: `conv2d input grad ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'dy', shape: [images, info.outHeight * info.outWidth, info.outChannels] },
      { name: 'w', shape: [taps, info.inChannels, info.outChannels] },
    ],
    outputs: [{ name: 'dx', shape: [images * info.inHeight * info.inWidth, info.inChannels] }],
    nodes: () => [
      { opType: 'Transpose', inputs: ['w'], outputs: ['wSwapped'], attributes: { perm: { ints: [0, 2, 1] } } },
      ...(phased(info)
        ? phasedInputGradNodes(info, images)
        : [
            ...(pointwise(info)
              ? asPatchNodes('dy', images * info.outHeight * info.outWidth, info.outChannels)
              : gatherPatchNodes('dy', images, info.outChannels, inputGradIndex(info), taps)),
            ints('wShape', [taps * info.outChannels, info.inChannels]),
            { opType: 'Reshape', inputs: ['wSwapped', 'wShape'], outputs: ['wRows'] },
            { opType: 'MatMul', inputs: ['dyPatches', 'wRows'], outputs: ['dx'] },
          ]),
    ],
  };
}

/** The strided input gradient's nodes, from dy and wSwapped ([taps, outChannels, inChannels]) to dx. */
function phasedInputGradNodes(info: Conv2DInfo, images: number): NodeSpec[] {
  const { inChannels, outChannels, inHeight, inWidth } = info;
  const phases = inputGradPhases(info);
  const nodes: NodeSpec[] = [
    // One zero row after dy's last one, for the taps that read past its edge.
    ints('dyPads', [0, 0, 0, 0, 1, 0]),
    { opType: 'Pad', inputs: ['dy', 'dyPads'], outputs: ['dyPadded'] },
  ];
  const results: string[] = [];
  // Each input position's row among the phases' results, in order; a zero row after them all
  // for the positions no tap reaches.
  const reached = phases.reduce((total, phase) => total + phase.positions.length, 0);
  const order = new Array<number>(inHeight * inWidth).fill(reached);
  let row = 0;
  phases.forEach((phase, p) => {
    for (const position of phase.positions) order[position] = row++;
    const count = phase.positions.length;
    nodes.push(
      ints(`phase${p}Index`, phase.index),
      { opType: 'Gather', inputs: ['dyPadded', `phase${p}Index`], outputs: [`phase${p}Gathered`], attributes: { axis: { int: 1 } } },
      ints(`phase${p}PatchShape`, [images * count, phase.taps.length * outChannels]),
      { opType: 'Reshape', inputs: [`phase${p}Gathered`, `phase${p}PatchShape`], outputs: [`phase${p}Patches`] },
      ints(`phase${p}Taps`, phase.taps),
      { opType: 'Gather', inputs: ['wSwapped', `phase${p}Taps`], outputs: [`phase${p}W`], attributes: { axis: { int: 0 } } },
      ints(`phase${p}WShape`, [phase.taps.length * outChannels, inChannels]),
      { opType: 'Reshape', inputs: [`phase${p}W`, `phase${p}WShape`], outputs: [`phase${p}WRows`] },
      { opType: 'MatMul', inputs: [`phase${p}Patches`, `phase${p}WRows`], outputs: [`phase${p}Rows`] },
      ints(`phase${p}Shape`, [images, count, inChannels]),
      { opType: 'Reshape', inputs: [`phase${p}Rows`, `phase${p}Shape`], outputs: [`phase${p}Result`] },
    );
    results.push(`phase${p}Result`);
  });
  nodes.push(
    { opType: 'Concat', inputs: results, outputs: ['phases'], attributes: { axis: { int: 1 } } },
    ints('phasesPads', [0, 0, 0, 0, 1, 0]),
    { opType: 'Pad', inputs: ['phases', 'phasesPads'], outputs: ['phasesPadded'] },
    ints('positionOrder', order),
    { opType: 'Gather', inputs: ['phasesPadded', 'positionOrder'], outputs: ['dxImages'], attributes: { axis: { int: 1 } } },
    ints('dxShape', [images * inHeight * inWidth, inChannels]),
    { opType: 'Reshape', inputs: ['dxImages', 'dxShape'], outputs: ['dx'] },
  );
  return nodes;
}

/**
 * Patch values one run may gather: 2²⁰ (4 MiB), so that the patches stay in cache between the
 * gather that writes them and the product that reads them. A larger batch runs in chunks of whole
 * images. (A 128×14×14×32 → 64 layer's forward pass and both gradients: 30 ms at 2²⁰, 38 ms at
 * 2²⁴, one run per batch.) Tests lower it to exercise the chunking on small tensors.
 */
export const patchBudget = { maxValues: 1 << 20 };

/** Images per run so that `valuesPerImage` each (patches, by default) stay within `budget`. */
export function imagesPerRun(valuesPerImage: number, images: number, budget = patchBudget.maxValues): number {
  return Math.max(1, Math.min(images, Math.floor(budget / valuesPerImage)));
}

/** `${b}ByHalf` ([2, columns, rows / 2]): the two halves of b ([rows, columns], rows even), each transposed. */
export function transposedHalvesNodes(b: string, rows: number, columns: number): NodeSpec[] {
  return [
    ints(`${b}Halves`, [2, rows / 2, columns]),
    { opType: 'Reshape', inputs: [b, `${b}Halves`], outputs: [`${b}Split`] },
    { opType: 'Transpose', inputs: [`${b}Split`], outputs: [`${b}ByHalf`], attributes: { perm: { ints: [0, 2, 1] } } },
  ];
}

/**
 * Nodes computing `output` = aᵀ · b ([columnsA, columnsB]) from a ([rows, columnsA], rows even)
 * and `${b}ByHalf` (transposedHalvesNodes). The sum over rows is long and thin, which MLAS does
 * not split over threads; as a batch of two products over the halves it runs one per thread, and
 * the two are added. (128×28×28×16 → 32 3×3 stride 2: 8.8 ms as one product on one thread, 5.3 ms
 * in halves on two; on two threads one product was slower than on one.)
 */
export function halvesProductNodes(a: string, b: string, rows: number, columnsA: number, output: string): NodeSpec[] {
  return [
    ints(`${a}Halves`, [2, rows / 2, columnsA]),
    ints(`${output}HalfAxis`, [0]),
    { opType: 'Reshape', inputs: [a, `${a}Halves`], outputs: [`${a}Split`] },
    { opType: 'MatMul', inputs: [`${b}ByHalf`, `${a}Split`], outputs: [`${output}ByHalf`] },
    {
      opType: 'ReduceSum',
      inputs: [`${output}ByHalf`, `${output}HalfAxis`],
      outputs: [`${output}T`],
      attributes: { keepdims: { int: 0 } },
    },
    { opType: 'Transpose', inputs: [`${output}T`], outputs: [output], attributes: { perm: { ints: [1, 0] } } },
  ];
}
