/**
 * A labelled image set: labels in memory, pixels behind a PixelSource that either holds them
 * (memory) or reads them from files batch by batch (disk, see streamed.ts). Every consumer reads
 * pixels through the source, so a dataset larger than memory trains like a small one.
 */

/** Where a dataset's pixels live and how to read them: NHWC float32 values, sample by sample. */
export interface PixelSource {
  /** 'memory': all pixels are held; 'disk': they are read from files on every access. */
  readonly storage: 'memory' | 'disk';
  /** Copies the pixels of samples `indices[i]` to `out` at i × sampleSize. Indices must be valid. */
  read(indices: ArrayLike<number>, out: Float32Array): void;
  /** Pixels of samples [start, end) without copying, when the source holds them contiguously. */
  view?(start: number, end: number): Float32Array;
  /** A hint: the next read() will be of these samples, so a disk source can start reading them now. */
  prefetch?(indices: ArrayLike<number>): void;
  /** Releases open files; reads after it reopen them. */
  close?(): void;
}

export interface Dataset {
  /** Short name used in logs and summary.json, e.g. 'digits' or 'fashion-mnist/train'. */
  readonly name: string;
  readonly pixels: PixelSource;
  /** Class index of each sample, in [0, numClasses). Always in memory (4 bytes a sample). */
  readonly labels: Int32Array;
  /** [height, width, channels] of one sample. */
  readonly sampleShape: readonly [number, number, number];
  readonly numClasses: number;
  /** Human-readable class names, one per class. */
  readonly classNames: readonly string[];
}

/** The three parts a run uses. The test part is touched only for final evaluation. */
export interface DatasetSplits {
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test: Dataset;
}

export function sampleCount(dataset: Pick<Dataset, 'labels'>): number {
  return dataset.labels.length;
}

export function sampleSize(dataset: Pick<Dataset, 'sampleShape'>): number {
  const [height, width, channels] = dataset.sampleShape;
  return height * width * channels;
}

/** Pixels held in one sample-major Float32Array. */
export function memoryPixels(images: Float32Array, size: number): PixelSource {
  return {
    storage: 'memory',
    read(indices, out) {
      for (let i = 0; i < indices.length; i++) out.set(images.subarray(indices[i] * size, (indices[i] + 1) * size), i * size);
    },
    view: (start, end) => images.subarray(start * size, end * size),
  };
}

/** A dataset whose pixels are `images` (sample-major NHWC). */
export function memoryDataset(fields: Omit<Dataset, 'pixels'> & { images: Float32Array }): Dataset {
  const { images, ...rest } = fields;
  const size = sampleSize(rest);
  if (images.length !== rest.labels.length * size) {
    throw new RangeError(`${rest.name}: ${images.length} pixel values for ${rest.labels.length} samples of ${size}`);
  }
  return { ...rest, pixels: memoryPixels(images, size) };
}

/**
 * Pixels of samples [start, end): a view when the source holds them, else read into `scratch`
 * (grown when too small, so pass the previous result back to reuse it).
 */
export function readRange(dataset: Dataset, start: number, end: number, scratch?: Float32Array): Float32Array {
  const view = dataset.pixels.view?.(start, end);
  if (view) return view;
  const length = (end - start) * sampleSize(dataset);
  const out = scratch && scratch.length >= length ? scratch.subarray(0, length) : new Float32Array(length);
  dataset.pixels.read(rangeIndices(start, end), out);
  return out;
}

/** start, start + 1, …, end − 1. */
function rangeIndices(start: number, end: number): Int32Array {
  const indices = new Int32Array(end - start);
  for (let i = 0; i < indices.length; i++) indices[i] = start + i;
  return indices;
}

/**
 * Calls `visit` on consecutive batches of at most `batchSize` samples, in order, with their
 * pixels. The pixels array is reused between calls; copy what must outlive one.
 */
export async function forEachBatch(
  dataset: Dataset,
  batchSize: number,
  visit: (pixels: Float32Array, start: number, end: number) => void | Promise<void>,
  range: { start?: number; end?: number } = {},
): Promise<void> {
  const { start = 0, end = sampleCount(dataset) } = range;
  const step = Math.max(1, batchSize);
  let scratch: Float32Array | undefined;
  for (let from = start; from < end; from += step) {
    const to = Math.min(from + step, end);
    const pixels = readRange(dataset, from, to, scratch);
    if (!dataset.pixels.view) scratch = pixels;
    await visit(pixels, from, to);
  }
}

/** All pixels as one array: a view of an in-memory dataset, a full read of a streamed one. */
export function allPixels(dataset: Dataset): Float32Array {
  return readRange(dataset, 0, sampleCount(dataset));
}
