/**
 * What an external teacher expects of its input, applied by its adapter: the layout (PyTorch
 * models take NCHW) and a per-channel normalization (x − mean) / std on pixels in [0, 1]. Both
 * apply to image fields (float32 [h, w, c]) only; token ids and masks go in as they are.
 */
import { describeInputs, isImageField, type InputField } from '../data/dataset.js';
import { InputError } from '../errors.js';

export interface Preprocessing {
  /** 'nchw' transposes each NHWC sample to [C, H, W]. */
  inputLayout: 'nhwc' | 'nchw';
  /** Per-channel mean and std (one value each, or one per channel). */
  normalize?: { mean: readonly number[]; std: readonly number[] };
}

/** The teacher's input for `count` NHWC samples of `sampleShape` ([h, w, c]): data and dims. */
export function preprocess(
  images: Float32Array,
  count: number,
  sampleShape: readonly [number, number, number],
  preprocessing: Preprocessing,
): { data: Float32Array; dims: number[] } {
  const [height, width, channels] = sampleShape;
  const mean = preprocessing.normalize?.mean ?? [0];
  const std = preprocessing.normalize?.std ?? [1];
  const meanOf = (c: number) => mean[mean.length === 1 ? 0 : c];
  const stdOf = (c: number) => std[std.length === 1 ? 0 : c];
  const data = new Float32Array(count * height * width * channels);
  const plane = height * width;
  for (let n = 0; n < count; n++) {
    const base = n * plane * channels;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) {
        const value = (images[base + p * channels + c] - meanOf(c)) / stdOf(c);
        data[preprocessing.inputLayout === 'nchw' ? base + c * plane + p : base + p * channels + c] = value;
      }
    }
  }
  const dims = preprocessing.inputLayout === 'nchw' ? [count, channels, height, width] : [count, height, width, channels];
  return { data, dims };
}

/** Whether the preprocessing changes anything: a layout other than NHWC, or a normalization. */
export function changesInput(preprocessing: Preprocessing): boolean {
  return preprocessing.inputLayout !== 'nhwc' || preprocessing.normalize !== undefined;
}

/**
 * Throws an InputError prefixed by `where` when the preprocessing would change an input, yet none
 * of the fields the teacher is fed (`fed`) is an image: it would apply to nothing.
 */
export function checkPreprocessing(preprocessing: Preprocessing, fed: readonly InputField[], where: string): void {
  if (!changesInput(preprocessing) || fed.some(isImageField)) return;
  const set = [
    preprocessing.inputLayout !== 'nhwc' ? `inputLayout: ${preprocessing.inputLayout}` : '',
    preprocessing.normalize ? 'normalize' : '',
  ].filter(Boolean);
  throw new InputError(
    `${where}: ${set.join(' and ')} ${set.length > 1 ? 'apply' : 'applies'} only to image inputs (float32 [height, width, channels]), ` +
      `and the teacher is fed ${describeInputs(fed)}; remove ${set.length > 1 ? 'them' : 'it'}`,
  );
}

/** A stable text of the preprocessing, for fingerprints. */
export function describePreprocessing(preprocessing: Preprocessing): string {
  return JSON.stringify({
    layout: preprocessing.inputLayout,
    mean: preprocessing.normalize?.mean ?? null,
    std: preprocessing.normalize?.std ?? null,
  });
}

/**
 * A teacher's feature output in kdkit's layout: a map from an NCHW model ([n, c, h, w]) becomes
 * NHWC, as kdkit's feature methods expect; anything else is returned as it is.
 */
export function featureToNhwc(data: Float32Array, dims: readonly number[], inputLayout: Preprocessing['inputLayout']): Float32Array {
  if (dims.length !== 4 || inputLayout !== 'nchw') return data;
  const [count, channels, height, width] = dims;
  const out = new Float32Array(data.length);
  const plane = height * width;
  for (let n = 0; n < count; n++) {
    for (let c = 0; c < channels; c++) {
      for (let p = 0; p < plane; p++) out[(n * plane + p) * channels + c] = data[(n * channels + c) * plane + p];
    }
  }
  return out;
}

/** One sample's feature shape in kdkit's layout, from the model's per-sample dims. */
export function featureSampleShape(dims: readonly number[], inputLayout: Preprocessing['inputLayout']): number[] {
  return dims.length === 3 && inputLayout === 'nchw' ? [dims[1], dims[2], dims[0]] : [...dims];
}
