/**
 * The filter gradient of a stride-1 convolution without gathered patches. Each image is laid out
 * zero-padded with a period of Wp = inWidth + max(left, right) values per row and Hp = inHeight +
 * max(top, bottom) rows, so a pad column or row is shared between neighbours; dy is laid out on the
 * same grid (top-left aligned, zero elsewhere). On the flattened grid every tap (kh, kw) is a
 * shift by kh·Wp + kw positions:
 *
 *   dW[kh, kw] = Σ over u of X[u + kh·Wp + kw, :]ᵀ · D[u, :]
 *
 * where the input a tap reads for a dy position that is not zero is either the image's value or
 * a zero of the padding (a read past a row's end lands in the next row's left padding). So each
 * tap is one matrix product of a view of the same buffer, passed to ONNX Runtime as it lies: no
 * tap copies the input, where the patch graph writes and reads taps × the input.
 *
 * Each product sums over all positions of a run (long and thin), which MLAS does not split over
 * threads; so the positions are split in two halves, a batch of two products that MLAS runs one
 * per thread, and the halves are added. Per layer of the ResNet-style student's KD step at batch
 * 128 on this 2-core machine (`node bench/profile-step.js resnet`, ms per call; the patch graph
 * ran on one thread, which beat it on two):
 *
 * | layer (3×3, stride 1)  | patches | shifted views |
 * | ---------------------- | ------: | ------------: |
 * | 28×28, 16 → 16         |    17.7 |           8.1 |
 * | 14×14, 32 → 32         |     9.6 |           5.9 |
 * | 7×7, 64 → 64           |     7.8 |           6.1 |
 */
import type { backend_util } from '@tensorflow/tfjs-core';
import type { NodeSpec } from '../onnx_model.js';
import type { KeyedGraph, SessionCache } from '../session_cache.js';
import { forEachChunk } from './chunks.js';
import { geometryKey, ints, patchBudget, pointwise } from './conv_graph.js';
import { runOnViews } from './run_graph.js';

type Conv2DInfo = backend_util.Conv2DInfo;

/** The padded grid of a layer: the row period, the rows per image, and the shift of each tap. */
interface Grid {
  width: number;
  height: number;
  /** Positions (grid cells) per image. */
  cells: number;
  offsets: number[];
  /** Whether input and dy are used as they lie (a 1×1 layer without padding). */
  inPlace: boolean;
}

function gridOf(info: Conv2DInfo): Grid {
  const { top, left, bottom, right } = info.padInfo;
  const width = info.inWidth + Math.max(left, right);
  const height = info.inHeight + Math.max(top, bottom);
  const offsets: number[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) offsets.push(kh * width + kw);
  }
  return { width, height, cells: width * height, offsets, inPlace: pointwise(info) };
}

/**
 * Whether the shifted views compute this layer's filter gradient: stride 1, no dilation, and an
 * output that fits on the padded grid (it does unless one side's padding exceeds the filter).
 */
export function shiftedFilterGradApplies(info: Conv2DInfo): boolean {
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return false;
  const { top, left, bottom, right } = info.padInfo;
  if (Math.min(top, left, bottom, right) < 0) return false;
  const grid = gridOf(info);
  return info.outWidth <= grid.width && info.outHeight <= grid.height;
}

/** The graph for `rows` grid positions: one product per tap, split in two halves when `rows` is even. */
function shiftedGraph(info: Conv2DInfo, grid: Grid, rows: number): KeyedGraph {
  const { inChannels, outChannels } = info;
  const taps = grid.offsets.map((_, tap) => tap);
  const halves = rows % 2 === 0 ? 2 : 1;
  return {
    key: `conv2d filter grad shifted ${rows} ${geometryKey(info)}`,
    inputs: [...taps.map((tap) => ({ name: `x${tap}`, shape: [rows, inChannels] })), { name: 'dy', shape: [rows, outChannels] }],
    outputs: taps.map((tap) => ({ name: `dw${tap}`, shape: [inChannels, outChannels] })),
    nodes: () => {
      if (halves === 1) {
        return taps.map((tap) => ({
          opType: 'Gemm',
          inputs: [`x${tap}`, 'dy'],
          outputs: [`dw${tap}`],
          attributes: { transA: { int: 1 } },
        }));
      }
      const nodes: NodeSpec[] = [
        ints('dyHalves', [2, rows / 2, outChannels]),
        ints('xHalves', [2, rows / 2, inChannels]),
        ints('halfAxis', [0]),
        { opType: 'Reshape', inputs: ['dy', 'dyHalves'], outputs: ['dySplit'] },
        { opType: 'Transpose', inputs: ['dySplit'], outputs: ['dyT'], attributes: { perm: { ints: [0, 2, 1] } } },
      ];
      for (const tap of taps) {
        nodes.push(
          { opType: 'Reshape', inputs: [`x${tap}`, 'xHalves'], outputs: [`xSplit${tap}`] },
          // [2, outChannels, inChannels]: dyᵀ · x for each half.
          { opType: 'MatMul', inputs: ['dyT', `xSplit${tap}`], outputs: [`halves${tap}`] },
          { opType: 'ReduceSum', inputs: [`halves${tap}`, 'halfAxis'], outputs: [`sum${tap}`], attributes: { keepdims: { int: 0 } } },
          { opType: 'Transpose', inputs: [`sum${tap}`], outputs: [`dw${tap}`], attributes: { perm: { ints: [1, 0] } } },
        );
      }
      return nodes;
    },
  };
}

/** Padded input and dy grids of one geometry, reused: only data cells are ever written. */
interface Scratch {
  x: Float32Array;
  dy: Float32Array;
}

const scratchCapacity = 8;
const scratches = new Map<string, Scratch>();

function scratchFor(key: string, xValues: number, dyValues: number): Scratch {
  let scratch = scratches.get(key);
  if (scratch === undefined) {
    scratch = { x: new Float32Array(xValues), dy: new Float32Array(dyValues) };
    if (scratches.size >= scratchCapacity) scratches.delete(scratches.keys().next().value as string);
    scratches.set(key, scratch);
  }
  return scratch;
}

/** Images per run, so that a run's padded grid holds about `patchBudget.maxValues` values. */
function imagesPerRun(info: Conv2DInfo, grid: Grid): number {
  const perImage = grid.cells * Math.max(info.inChannels, info.outChannels);
  return Math.max(1, Math.min(info.batchSize, Math.floor(patchBudget.maxValues / perImage)));
}

/**
 * Writes the filter gradient ([filterHeight, filterWidth, inChannels, outChannels]) of the layer
 * `info` describes, from x and dy (NHWC), into `dW`.
 */
export function shiftedFilterGrad(cache: SessionCache, info: Conv2DInfo, x: Float32Array, dy: Float32Array, dW: Float32Array): void {
  const grid = gridOf(info);
  const { inChannels: ci, outChannels: co, inHeight, inWidth, outHeight, outWidth } = info;
  const { top, left } = info.padInfo;
  const perRun = imagesPerRun(info, grid);
  const maxOffset = grid.offsets[grid.offsets.length - 1];
  const fullRows = perRun * grid.cells + 1 + maxOffset;
  const scratch = grid.inPlace ? undefined : scratchFor(`${perRun} ${geometryKey(info)}`, fullRows * ci, fullRows * co);
  const tapSize = ci * co;
  const sums = new Float64Array(dW.length);
  const partial = new Float32Array(dW.length);

  forEachChunk(info.batchSize, perRun, (first, count) => {
    let rows = count * grid.cells;
    let xGrid: Float32Array;
    let dyGrid: Float32Array;
    if (scratch === undefined) {
      xGrid = x.subarray(first * grid.cells * ci, (first + count) * grid.cells * ci);
      dyGrid = dy.subarray(first * grid.cells * co, (first + count) * grid.cells * co);
    } else {
      ({ x: xGrid, dy: dyGrid } = scratch);
      for (let image = 0; image < count; image++) {
        for (let row = 0; row < inHeight; row++) {
          const from = ((first + image) * inHeight + row) * inWidth * ci;
          const to = (image * grid.cells + (row + top) * grid.width + left) * ci;
          xGrid.set(x.subarray(from, from + inWidth * ci), to);
        }
        for (let row = 0; row < outHeight; row++) {
          const from = ((first + image) * outHeight + row) * outWidth * co;
          dyGrid.set(dy.subarray(from, from + outWidth * co), (image * grid.cells + row * grid.width) * co);
        }
      }
      // An even count of rows splits in halves: one more row of dy, which must be zero (a
      // shorter last run finds an earlier run's next image there). Reads of x past the run's
      // images land in the padding of the grid's next image, zero whatever ran before.
      if (rows % 2 === 1) {
        rows += 1;
        dyGrid.fill(0, (rows - 1) * co, rows * co);
      }
    }
    const inputs: Record<string, Float32Array> = { dy: dyGrid.subarray(0, rows * co) };
    const outputs: Record<string, Float32Array> = {};
    grid.offsets.forEach((offset, tap) => {
      inputs[`x${tap}`] = xGrid.subarray(offset * ci, (offset + rows) * ci);
      outputs[`dw${tap}`] = partial.subarray(tap * tapSize, (tap + 1) * tapSize);
    });
    runOnViews(cache, shiftedGraph(info, grid, rows), inputs, outputs);
    for (let i = 0; i < sums.length; i++) sums[i] += partial[i];
  });
  dW.set(sums);
}
