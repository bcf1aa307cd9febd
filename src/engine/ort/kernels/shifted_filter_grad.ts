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
import type { KeyedGraph, SessionCache } from '../session_cache.js';
import { sumOverChunks } from './chunks.js';
import { geometryKey, halvesProductNodes, patchBudget, transposedHalvesNodes } from './conv_graph.js';
import { runOnViews } from './run_graph.js';

type Conv2DInfo = backend_util.Conv2DInfo;

/** The padded grid of a layer: the row period, the rows per image, and the shift of each tap. */
interface Grid {
  width: number;
  height: number;
  /** Positions (grid cells) per image. */
  cells: number;
  offsets: number[];
}

function gridOf(info: Conv2DInfo): Grid {
  const { top, left, bottom, right } = info.padInfo;
  const width = info.inWidth + Math.max(left, right);
  const height = info.inHeight + Math.max(top, bottom);
  const offsets: number[] = [];
  for (let kh = 0; kh < info.filterHeight; kh++) {
    for (let kw = 0; kw < info.filterWidth; kw++) offsets.push(kh * width + kw);
  }
  return { width, height, cells: width * height, offsets };
}

/**
 * When the shifted views beat the patch graph (conv_graph.ts), which also splits its product in
 * halves: on wide images of 16 or more channels, whose padded grid adds little (28×28: 841 cells
 * for 784 positions). Gathering rows of few channels is what is slow; a small image's grid wastes
 * too much (7×7: 64 cells for 49), and a 1×1 layer's patches are its input as it lies. Measured
 * per layer at batch 128, ms, shifted against patches: 28×28 16 → 16 7.9 / 12.5, 32×32 32 → 32
 * 34.5 / 39.9; 28×28 8 → 16 10.1 / 8.7, 14×14 32 → 32 8.7 / 6.3, 7×7 64 → 64 6.9 / 5.1. Tests
 * lower the bounds to run small layers here.
 */
export const shiftedViews = { minChannels: 16, maxGridGrowth: 1.1 };

/**
 * Whether the shifted views compute this layer's filter gradient: stride 1, no dilation, more
 * than a 1×1 filter, an output that fits on the padded grid (it does unless one side's padding
 * exceeds the filter), and the bounds of `shiftedViews`.
 */
export function shiftedFilterGradApplies(info: Conv2DInfo): boolean {
  if (info.strideHeight !== 1 || info.strideWidth !== 1 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return false;
  if (info.filterHeight * info.filterWidth === 1 || info.inChannels < shiftedViews.minChannels) return false;
  const { top, left, bottom, right } = info.padInfo;
  if (Math.min(top, left, bottom, right) < 0) return false;
  const grid = gridOf(info);
  return (
    info.outWidth <= grid.width && info.outHeight <= grid.height && grid.cells <= shiftedViews.maxGridGrowth * info.inHeight * info.inWidth
  );
}

/** The graph for `rows` grid positions (even): one product per tap, each split in halves. */
function shiftedGraph(info: Conv2DInfo, grid: Grid, rows: number): KeyedGraph {
  const { inChannels, outChannels } = info;
  const taps = grid.offsets.map((_, tap) => tap);
  return {
    key: `conv2d filter grad shifted ${rows} ${geometryKey(info)}`,
    inputs: [...taps.map((tap) => ({ name: `x${tap}`, shape: [rows, inChannels] })), { name: 'dy', shape: [rows, outChannels] }],
    outputs: taps.map((tap) => ({ name: `dw${tap}`, shape: [inChannels, outChannels] })),
    nodes: () => [
      ...transposedHalvesNodes('dy', rows, outChannels),
      ...taps.flatMap((tap) => halvesProductNodes(`x${tap}`, 'dy', rows, inChannels, `dw${tap}`)),
    ],
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
  const { x: xGrid, dy: dyGrid } = scratchFor(`${perRun} ${geometryKey(info)}`, fullRows * ci, fullRows * co);
  const tapSize = ci * co;

  sumOverChunks(info.batchSize, perRun, dW, (first, count, target) => {
    for (let image = 0; image < count; image++) {
      for (let row = 0; row < inHeight; row++) {
        const from = ((first + image) * inHeight + row) * inWidth * ci;
        xGrid.set(x.subarray(from, from + inWidth * ci), (image * grid.cells + (row + top) * grid.width + left) * ci);
      }
      for (let row = 0; row < outHeight; row++) {
        const from = ((first + image) * outHeight + row) * outWidth * co;
        dyGrid.set(dy.subarray(from, from + outWidth * co), (image * grid.cells + row * grid.width) * co);
      }
    }
    // An even count of rows splits in halves: one more row of dy, which must be zero (a shorter
    // last run finds an earlier run's next image there). Reads of x past the run's images land in
    // the padding of the grid's next image, zero whatever ran before.
    let rows = count * grid.cells;
    if (rows % 2 === 1) {
      rows += 1;
      dyGrid.fill(0, (rows - 1) * co, rows * co);
    }
    const inputs: Record<string, Float32Array> = { dy: dyGrid.subarray(0, rows * co) };
    const outputs: Record<string, Float32Array> = {};
    grid.offsets.forEach((offset, tap) => {
      inputs[`x${tap}`] = xGrid.subarray(offset * ci, (offset + rows) * ci);
      outputs[`dw${tap}`] = target.subarray(tap * tapSize, (tap + 1) * tapSize);
    });
    runOnViews(cache, shiftedGraph(info, grid, rows), inputs, outputs);
  });
}
