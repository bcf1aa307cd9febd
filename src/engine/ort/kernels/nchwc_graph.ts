/**
 * A convolution and its input gradient on MLAS's blocked-layout (NCHWc) kernels, the ones ONNX
 * Runtime itself switches a model's convolutions to when it optimizes with constant weights.
 * Here the weights change every step, so the graph reorders them itself: the nodes of ONNX
 * Runtime's `com.microsoft.nchwc` domain take NHWC data straight in and out (ReorderInput and
 * ReorderOutput with `channels_last`), and the filter is padded and blocked with Reshape and
 * Transpose into the OIHWBiBo layout MLAS reads:
 *
 *   blocked[o / B, i / B, kh, kw, i % B, o % B] = W[kh, kw, i, o]     (B: MLAS's block, 16 with AVX-512)
 *
 * The input gradient of a stride-1 convolution is itself one:
 *
 *   dx = conv(dy, W'),  W'[kh, kw, o, i] = W[KH − 1 − kh, KW − 1 − kw, i, o],
 *        padded by dilation·(K − 1) − pad on each side.
 *
 * For a 128×28×28×16 → 16 3×3 layer on 2 threads this ran in 3.0 ms against 6.5 ms for the
 * gathered patches of conv_graph.ts (bench/blocked-conv.js). Blocked data pads channels to a
 * multiple of B with zeros, and ReorderInput takes channels in multiples of 4, so the graphs
 * apply when the channels they reorder are a multiple of 4; other layers keep the patch graphs,
 * and so do 1×1 stride-1 layers, whose patches are their input as it lies (two reorders cost more
 * there than they save).
 */
import type { backend_util } from '@tensorflow/tfjs-core';
import type { NodeSpec } from '../onnx_model.js';
import type { KeyedGraph, SessionCache } from '../session_cache.js';
import { activationNodes, type OrtActivation } from './activation.js';
import { geometryKey, imagesPerRun, ints, pointwise, type ConvEpilogue } from './conv_graph.js';

type Conv2DInfo = backend_util.Conv2DInfo;

const domain = 'com.microsoft.nchwc';

/** Whether the kernels use these graphs at all; benchmarks switch it off to compare. */
export const blockedConvolution = { enabled: true };

/** Channels ReorderInput takes: a multiple of 4. */
export function reorderable(channels: number): boolean {
  return channels % 4 === 0;
}

const blockSizes = new WeakMap<SessionCache, number | undefined>();

/**
 * MLAS's channel block on this machine (8 with AVX2, 16 with AVX-512), read from the channels
 * ReorderInput pads 4 to; undefined where the runtime has no NCHWc kernels.
 */
export function nchwcBlockSize(cache: SessionCache): number | undefined {
  if (blockSizes.has(cache)) return blockSizes.get(cache);
  let block: number | undefined;
  try {
    const session = cache.session({
      inputs: [{ name: 'x', shape: [1, 1, 1, 4] }],
      outputs: [{ name: 'channels', shape: [1] }],
      nodes: [
        { opType: 'ReorderInput', domain, inputs: ['x'], outputs: ['blocked'], attributes: { channels_last: { int: 1 } } },
        { opType: 'Shape', inputs: ['blocked'], outputs: ['shape'] },
        ints('channelAxis', [1]),
        { opType: 'Gather', inputs: ['shape', 'channelAxis'], outputs: ['channelCount'] },
        { opType: 'Cast', inputs: ['channelCount'], outputs: ['channels'], attributes: { to: { int: 1 } } },
      ],
    });
    const channels = new Float32Array(1);
    session.run({ x: { data: new Float32Array(4), dims: [1, 1, 1, 4] } }, { channels: { data: channels, dims: [1] } });
    block = [4, 8, 16, 32].includes(channels[0]) ? channels[0] : undefined;
  } catch {
    block = undefined;
  }
  blockSizes.set(cache, block);
  return block;
}

const roundUp = (channels: number, block: number) => Math.ceil(channels / block) * block;

/**
 * Nodes blocking `filter` ([KH, KW, inChannels, outChannels]) into `${output}`
 * ([outPadded, inPadded, KH, KW] in OIHWBiBo), each channel count padded with zeros to a
 * multiple of `block`.
 */
function blockedFilterNodes(filter: string, output: string, shape: [number, number, number, number], block: number): NodeSpec[] {
  const [kh, kw, inChannels, outChannels] = shape;
  const [inPadded, outPadded] = [roundUp(inChannels, block), roundUp(outChannels, block)];
  const nodes: NodeSpec[] = [];
  let source = filter;
  if (inPadded !== inChannels || outPadded !== outChannels) {
    nodes.push(ints(`${output}Pads`, [0, 0, 0, 0, 0, 0, inPadded - inChannels, outPadded - outChannels]), {
      opType: 'Pad',
      inputs: [filter, `${output}Pads`],
      outputs: [`${output}Padded`],
    });
    source = `${output}Padded`;
  }
  nodes.push(
    ints(`${output}Split`, [kh, kw, inPadded / block, block, outPadded / block, block]),
    { opType: 'Reshape', inputs: [source, `${output}Split`], outputs: [`${output}Split6`] },
    {
      opType: 'Transpose',
      inputs: [`${output}Split6`],
      outputs: [`${output}Blocks`],
      attributes: { perm: { ints: [4, 2, 0, 1, 3, 5] } },
    },
    ints(`${output}Shape`, [outPadded, inPadded, kh, kw]),
    { opType: 'Reshape', inputs: [`${output}Blocks`, `${output}Shape`], outputs: [output] },
  );
  return nodes;
}

interface BlockedConv {
  /** Input data, NHWC. */
  input: string;
  /** The blocked filter. */
  filter: string;
  bias?: string;
  output: string;
  outChannels: number;
  kernel: [number, number];
  /** top, left, bottom, right */
  pads: [number, number, number, number];
  strides: [number, number];
  dilations: [number, number];
  /** MLAS's fused activation: only ReLU is used here. */
  relu: boolean;
}

/** ReorderInput, the blocked convolution, and ReorderOutput back to NHWC. */
function blockedConvNodes(conv: BlockedConv): NodeSpec[] {
  return [
    { opType: 'ReorderInput', domain, inputs: [conv.input], outputs: ['inputBlocked'], attributes: { channels_last: { int: 1 } } },
    {
      opType: 'Conv',
      domain,
      inputs: ['inputBlocked', conv.filter, ...(conv.bias === undefined ? [] : [conv.bias])],
      outputs: ['outputBlocked'],
      attributes: {
        kernel_shape: { ints: conv.kernel },
        pads: { ints: conv.pads },
        strides: { ints: conv.strides },
        dilations: { ints: conv.dilations },
        ...(conv.relu ? { activation: { string: 'Relu' } } : {}),
      },
    },
    {
      opType: 'ReorderOutput',
      domain,
      inputs: ['outputBlocked'],
      outputs: [conv.output],
      attributes: { channels: { int: conv.outChannels }, channels_last: { int: 1 } },
    },
  ];
}

/** Output rows or columns of a convolution as ONNX computes them. */
function onnxOutputSize(size: number, padBefore: number, padAfter: number, kernel: number, stride: number, dilation: number): number {
  return Math.floor((size + padBefore + padAfter - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Whether ONNX's convolution with TensorFlow.js's padding gives TensorFlow.js's output size. */
function samePadding(info: Conv2DInfo): boolean {
  const { top, left, bottom, right } = info.padInfo;
  const pads = [top, left, bottom, right];
  if (pads.some((pad) => pad < 0)) return false;
  const rows = onnxOutputSize(info.inHeight, top, bottom, info.filterHeight, info.strideHeight, info.dilationHeight);
  const columns = onnxOutputSize(info.inWidth, left, right, info.filterWidth, info.strideWidth, info.dilationWidth);
  return rows === info.outHeight && columns === info.outWidth;
}

/** Whether the blocked forward graph computes this layer. */
export function blockedForwardApplies(info: Conv2DInfo): boolean {
  return blockedConvolution.enabled && !pointwise(info) && reorderable(info.inChannels) && samePadding(info);
}

/** Whether the blocked input-gradient graph computes this layer's input gradient: stride 1 only. */
export function blockedInputGradApplies(info: Conv2DInfo): boolean {
  if (
    !blockedConvolution.enabled ||
    pointwise(info) ||
    info.strideHeight !== 1 ||
    info.strideWidth !== 1 ||
    !reorderable(info.outChannels) ||
    !samePadding(info)
  )
    return false;
  const { top, left, bottom, right } = info.padInfo;
  const spanHeight = info.dilationHeight * (info.filterHeight - 1);
  const spanWidth = info.dilationWidth * (info.filterWidth - 1);
  return top <= spanHeight && bottom <= spanHeight && left <= spanWidth && right <= spanWidth;
}

/**
 * y ([images, outHeight, outWidth, outChannels]) from x ([images, inHeight, inWidth, inChannels]),
 * w ([KH, KW, inChannels, outChannels]) and, by the epilogue, a bias and an activation. A bias per
 * channel and ReLU run inside MLAS's kernel; the rest after ReorderOutput.
 */
export function blockedConvForwardGraph(info: Conv2DInfo, images: number, epilogue: ConvEpilogue, block: number): KeyedGraph {
  const { activation, bias } = epilogue;
  const alpha = epilogue.leakyreluAlpha ?? 0.2;
  const { filterHeight, filterWidth, inChannels, outChannels } = info;
  const inKernel = bias !== 'scalar' && activation === 'relu';
  const after: OrtActivation = inKernel ? 'linear' : activation;
  return {
    key: `conv2d nchwc ${block} ${images} ${geometryKey(info)} ${bias} ${activation} ${activation === 'leakyrelu' ? alpha : ''}${epilogue.preluShape ?? ''}`,
    inputs: [
      { name: 'x', shape: [images, info.inHeight, info.inWidth, inChannels] },
      { name: 'w', shape: [filterHeight, filterWidth, inChannels, outChannels] },
      ...(bias === 'none' ? [] : [{ name: 'bias', shape: bias === 'channel' ? [outChannels] : [1] }]),
      ...(activation === 'prelu' ? [{ name: 'preluWeights', shape: epilogue.preluShape ?? [1] }] : []),
    ],
    outputs: [{ name: 'y', shape: [images, info.outHeight, info.outWidth, outChannels] }],
    nodes: () => {
      const nodes = blockedFilterNodes('w', 'wBlocked', [filterHeight, filterWidth, inChannels, outChannels], block);
      const outPadded = roundUp(outChannels, block);
      if (bias === 'channel' && outPadded !== outChannels) {
        nodes.push(ints('biasPads', [0, outPadded - outChannels]), {
          opType: 'Pad',
          inputs: ['bias', 'biasPads'],
          outputs: ['biasBlocked'],
        });
      }
      const biasInKernel = bias === 'channel' ? (outPadded === outChannels ? 'bias' : 'biasBlocked') : undefined;
      const afterScalar = bias === 'scalar' ? ['withBias'] : [];
      const activated = activationNodes(after, afterScalar.length > 0 ? 'withBias' : 'convolved', 'y', alpha);
      const last = activated.length === 0 && afterScalar.length === 0 ? 'y' : 'convolved';
      nodes.push(
        ...blockedConvNodes({
          input: 'x',
          filter: 'wBlocked',
          bias: biasInKernel,
          output: last,
          outChannels,
          kernel: [filterHeight, filterWidth],
          pads: [info.padInfo.top, info.padInfo.left, info.padInfo.bottom, info.padInfo.right],
          strides: [info.strideHeight, info.strideWidth],
          dilations: [info.dilationHeight, info.dilationWidth],
          relu: inKernel,
        }),
      );
      if (bias === 'scalar') {
        nodes.push({ opType: 'Add', inputs: ['convolved', 'bias'], outputs: [activated.length === 0 ? 'y' : 'withBias'] });
      }
      nodes.push(...activated);
      return nodes;
    },
  };
}

/**
 * dx ([images, inHeight, inWidth, inChannels]) of a stride-1 convolution from dy
 * ([images, outHeight, outWidth, outChannels]) and w ([KH, KW, inChannels, outChannels]): the
 * convolution of dy with the filter turned half a turn and its channel axes swapped.
 */
export function blockedConvInputGradGraph(info: Conv2DInfo, images: number, block: number): KeyedGraph {
  const { filterHeight, filterWidth, inChannels, outChannels } = info;
  const { top, left, bottom, right } = info.padInfo;
  const spanHeight = info.dilationHeight * (filterHeight - 1);
  const spanWidth = info.dilationWidth * (filterWidth - 1);
  return {
    key: `conv2d nchwc input grad ${block} ${images} ${geometryKey(info)}`,
    inputs: [
      { name: 'dy', shape: [images, info.outHeight, info.outWidth, outChannels] },
      { name: 'w', shape: [filterHeight, filterWidth, inChannels, outChannels] },
    ],
    outputs: [{ name: 'dx', shape: [images, info.inHeight, info.inWidth, inChannels] }],
    nodes: () => [
      // Both spatial axes reversed: starts at the last tap, ends before the first.
      ints('flipStarts', [-1, -1]),
      ints('flipEnds', [-filterHeight - 1, -filterWidth - 1]),
      ints('flipAxes', [0, 1]),
      ints('flipSteps', [-1, -1]),
      { opType: 'Slice', inputs: ['w', 'flipStarts', 'flipEnds', 'flipAxes', 'flipSteps'], outputs: ['wFlipped'] },
      { opType: 'Transpose', inputs: ['wFlipped'], outputs: ['wSwapped'], attributes: { perm: { ints: [0, 1, 3, 2] } } },
      ...blockedFilterNodes('wSwapped', 'wBlocked', [filterHeight, filterWidth, outChannels, inChannels], block),
      ...blockedConvNodes({
        input: 'dy',
        filter: 'wBlocked',
        output: 'dx',
        outChannels: inChannels,
        kernel: [filterHeight, filterWidth],
        pads: [spanHeight - top, spanWidth - left, spanHeight - bottom, spanWidth - right],
        strides: [1, 1],
        dilations: [info.dilationHeight, info.dilationWidth],
        relu: false,
      }),
    ],
  };
}

/**
 * Values one blocked run may hold in its reordered input and output: 2²² (16 MiB), so that a
 * teacher's inference over a large batch runs in chunks of whole images. Tests lower it.
 */
export const blockedBudget = { maxValues: 1 << 22 };

/** Images per blocked run: the reordered input and output of each, channels padded to the block, within the budget. */
export function blockedImagesPerRun(info: Conv2DInfo, block: number): number {
  const perImage =
    info.inHeight * info.inWidth * roundUp(info.inChannels, block) + info.outHeight * info.outWidth * roundUp(info.outChannels, block);
  return imagesPerRun(perImage, info.batchSize, blockedBudget.maxValues);
}
