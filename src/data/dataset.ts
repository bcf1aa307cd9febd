/**
 * An in-memory labelled image set: NHWC float32 pixels in [0, 1] and int32 class labels.
 * Loaders produce these; splits and batching take them apart without copying the whole set.
 */
export interface Dataset {
  /** Short name used in logs and summary.json, e.g. 'digits' or 'fashion-mnist/train'. */
  readonly name: string;
  /** Pixels, sample-major, length = count × height × width × channels. */
  readonly images: Float32Array;
  /** Class index of each sample, in [0, numClasses). */
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

export function sampleCount(dataset: Dataset): number {
  return dataset.labels.length;
}

export function sampleSize(dataset: Dataset): number {
  const [height, width, channels] = dataset.sampleShape;
  return height * width * channels;
}
