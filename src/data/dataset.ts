/**
 * A labelled set of samples, each a record of named, typed arrays: an image is
 * `{image: float32 [h, w, c]}`, a text `{input_ids: int32 [S], attention_mask: int32 [S]}`. Labels
 * are in memory; the samples sit behind a SampleSource that either holds them (memory) or reads
 * them from files batch by batch (disk, see streamed.ts). Every consumer reads samples through the
 * source, so a dataset larger than memory trains like a small one.
 */
import { InputError } from '../errors.js';

/** Value types a field may hold: float32 (pixels, features) and int32 (token ids, masks). */
export type InputDType = 'float32' | 'int32';

/** One named input of every sample. */
export interface InputField {
  readonly name: string;
  readonly dtype: InputDType;
  /** One sample's shape, e.g. [28, 28, 1] or [128]. */
  readonly shape: readonly number[];
  /** For int32 ids (a tokenizer's input_ids): how many there are, 0 … vocabulary − 1; an embedding's size. */
  readonly vocabulary?: number;
}

export type FieldArray = Float32Array | Int32Array;

/** Samples by field name; each field row-major [count, ...shape], typed as its dtype. */
export type SampleBatch = Readonly<Record<string, FieldArray>>;

/** Where a dataset's samples live and how to read them, sample by sample, every field at once. */
export interface SampleSource {
  /** 'memory': all samples are held; 'disk': they are read from files on every access. */
  readonly storage: 'memory' | 'disk';
  /** Copies samples `indices[i]` of each field to `out[field]` at i × fieldSize. Indices must be valid. */
  read(indices: ArrayLike<number>, out: SampleBatch): void;
  /** Samples [start, end) without copying, when the source holds them contiguously. */
  view?(start: number, end: number): SampleBatch;
  /** A hint: the next read() will be of these samples, so a disk source can start reading them now. */
  prefetch?(indices: ArrayLike<number>): void;
  /** Releases open files; reads after it reopen them. */
  close?(): void;
}

export interface Dataset {
  /** Short name used in logs and summary.json, e.g. 'digits' or 'fashion-mnist/train'. */
  readonly name: string;
  /** The fields of every sample, in a fixed order (the order fingerprints and errors use). */
  readonly inputs: readonly InputField[];
  readonly samples: SampleSource;
  /** Class index of each sample, in [0, numClasses). Always in memory (4 bytes a sample). */
  readonly labels: Int32Array;
  readonly numClasses: number;
  /** Human-readable class names, one per class. */
  readonly classNames: readonly string[];
  /** A text dataset's texts, one per sample in sample order (what an LLM teacher is asked about). */
  readonly texts?: readonly string[];
  /**
   * An image dataset's pixels as stored, times this, are what the models take: 1/16 for the
   * embedded digits (counts 0..16), 1/255 for uint8 pixels, 1 for float files (taken as they are).
   * What a page must do to its pixels before predicting (student/preprocess.json).
   */
  readonly rawScale?: number;
}

/** The three parts a run uses. The test part is touched only for final evaluation. */
export interface DatasetSplits {
  readonly train: Dataset;
  readonly validation: Dataset;
  readonly test: Dataset;
}

/** The name of an image dataset's one field. */
export const IMAGE_FIELD = 'image';

export function sampleCount(dataset: Pick<Dataset, 'labels'>): number {
  return dataset.labels.length;
}

/** Values in one sample of `field`. */
export function fieldSize(field: Pick<InputField, 'shape'>): number {
  return field.shape.reduce((product, dim) => product * dim, 1);
}

/** Bytes of one sample, all fields (float32 and int32 both take 4 bytes a value). */
export function sampleBytes(inputs: readonly InputField[]): number {
  return inputs.reduce((total, field) => total + 4 * fieldSize(field), 0);
}

/** `count` samples' worth of zeroed arrays, one per field. */
export function allocateSamples(inputs: readonly InputField[], count: number): Record<string, FieldArray> {
  return Object.fromEntries(inputs.map((field) => [field.name, newArray(field.dtype, count * fieldSize(field))]));
}

function newArray(dtype: InputDType, length: number): FieldArray {
  return dtype === 'int32' ? new Int32Array(length) : new Float32Array(length);
}

/** The dtype a typed array holds, or null for any other array. */
export function arrayDType(values: unknown): InputDType | null {
  return values instanceof Float32Array ? 'float32' : values instanceof Int32Array ? 'int32' : null;
}

/** "input_ids int32 [128], attention_mask int32 [128]", for messages. */
export function describeInputs(inputs: readonly InputField[]): string {
  return inputs.map((field) => `${field.name} ${field.dtype} [${field.shape.join(', ')}]`).join(', ');
}

/** The one field of an image dataset: float32 [height, width, channels]. */
export interface ImageField extends InputField {
  readonly dtype: 'float32';
  readonly shape: readonly [number, number, number];
}

export function imageField(shape: readonly [number, number, number]): ImageField {
  return { name: IMAGE_FIELD, dtype: 'float32', shape };
}

/** Whether `field` is an image: float32 [h, w, c]. Preprocessing (layout, normalization) applies to these only. */
export function isImageField(field: InputField): field is ImageField {
  return field.dtype === 'float32' && field.shape.length === 3;
}

/**
 * The one field of a dataset of images (float32 [h, w, c], whatever its name), for consumers that
 * only know images: the model zoo's input, ONNX export, the IDX/`.npy` image files. Any other
 * dataset is an InputError naming what it holds.
 */
export function imageInput(dataset: Pick<Dataset, 'name' | 'inputs'>, what = 'this step'): ImageField {
  const [first] = dataset.inputs;
  if (dataset.inputs.length === 1 && isImageField(first)) return first;
  throw new InputError(
    `${dataset.name}: ${what} needs images (one float32 field [height, width, channels]); the dataset's samples are ${describeInputs(dataset.inputs)}`,
  );
}

/** [height, width, channels] of an image dataset's samples; see imageInput. */
export function imageShape(dataset: Pick<Dataset, 'name' | 'inputs'>, what?: string): readonly [number, number, number] {
  return imageInput(dataset, what).shape;
}

/** Samples held in memory, one sample-major array per field. */
export function memorySamples(inputs: readonly InputField[], values: SampleBatch): SampleSource {
  const fields = inputs.map((field) => ({ name: field.name, size: fieldSize(field), values: values[field.name] }));
  return {
    storage: 'memory',
    read(indices, out) {
      for (const { name, size, values: source } of fields) {
        const target = out[name];
        for (let i = 0; i < indices.length; i++) target.set(source.subarray(indices[i] * size, (indices[i] + 1) * size), i * size);
      }
    },
    view: (start, end) =>
      Object.fromEntries(fields.map(({ name, size, values: source }) => [name, source.subarray(start * size, end * size)])),
  };
}

export interface MemoryDatasetArgs extends Omit<Dataset, 'samples'> {
  /** Each field's samples, sample-major, typed as the field's dtype. */
  readonly values: SampleBatch;
}

/** A dataset whose samples are in `values`, one array per field of `inputs`, checked against them. */
export function memoryDataset(args: MemoryDatasetArgs): Dataset {
  const { values, ...rest } = args;
  const names = new Set<string>();
  for (const field of rest.inputs) {
    if (names.has(field.name)) throw new InputError(`${rest.name}: two fields are named '${field.name}'`);
    names.add(field.name);
    if (!field.shape.every((dim) => Number.isInteger(dim) && dim > 0)) {
      throw new InputError(`${rest.name}: field '${field.name}' has shape [${field.shape.join(', ')}]; sizes must be positive integers`);
    }
    const array = Object.hasOwn(values, field.name) ? values[field.name] : undefined;
    if (array === undefined)
      throw new InputError(
        `${rest.name}: no values for field '${field.name}'; given ${
          Object.keys(values)
            .map((name) => `'${name}'`)
            .join(', ') || 'none'
        }`,
      );
    if (arrayDType(array) !== field.dtype)
      throw new InputError(`${rest.name}: field '${field.name}' is ${field.dtype}, its values are a ${array.constructor.name}`);
    const expected = rest.labels.length * fieldSize(field);
    if (array.length !== expected) {
      throw new RangeError(
        `${rest.name}: ${array.length} values of field '${field.name}' for ${rest.labels.length} samples of ${fieldSize(field)}`,
      );
    }
  }
  const extra = Object.keys(values).filter((name) => !names.has(name));
  if (extra.length > 0)
    throw new InputError(`${rest.name}: values for ${extra.map((name) => `'${name}'`).join(', ')}, which inputs does not list`);
  return { ...rest, samples: memorySamples(rest.inputs, values) };
}

/** A dataset of images held in memory: `images` sample-major NHWC float32, one field 'image'. */
export function imageDataset(
  args: Omit<Dataset, 'samples' | 'inputs'> & { images: Float32Array; sampleShape: readonly [number, number, number] },
): Dataset {
  const { images, sampleShape, ...rest } = args;
  return memoryDataset({ ...rest, inputs: [imageField(sampleShape)], values: { [IMAGE_FIELD]: images } });
}

/**
 * Samples [start, end): a view when the source holds them, else read into `scratch` (grown when
 * too small, so pass the previous result back to reuse it).
 */
export function readRange(dataset: Dataset, start: number, end: number, scratch?: SampleBatch): SampleBatch {
  const view = dataset.samples.view?.(start, end);
  if (view) return view;
  const count = end - start;
  const out = Object.fromEntries(
    dataset.inputs.map((field) => {
      const length = count * fieldSize(field);
      const reused = scratch?.[field.name];
      return [field.name, reused && reused.length >= length ? reused.subarray(0, length) : newArray(field.dtype, length)];
    }),
  );
  dataset.samples.read(rangeIndices(start, end), out);
  return out;
}

/** start, start + 1, …, end − 1. */
function rangeIndices(start: number, end: number): Int32Array {
  const indices = new Int32Array(end - start);
  for (let i = 0; i < indices.length; i++) indices[i] = start + i;
  return indices;
}

/**
 * Calls `visit` on consecutive batches of at most `batchSize` samples, in order. The arrays are
 * reused between calls; copy what must outlive one.
 */
export async function forEachBatch(
  dataset: Dataset,
  batchSize: number,
  visit: (batch: SampleBatch, start: number, end: number) => void | Promise<void>,
  range: { start?: number; end?: number } = {},
): Promise<void> {
  const { start = 0, end = sampleCount(dataset) } = range;
  const step = Math.max(1, batchSize);
  let scratch: SampleBatch | undefined;
  for (let from = start; from < end; from += step) {
    const to = Math.min(from + step, end);
    const batch = readRange(dataset, from, to, scratch);
    if (!dataset.samples.view) scratch = batch;
    await visit(batch, from, to);
  }
}

/** Every sample: views of an in-memory dataset, a full read of a streamed one. */
export function allSamples(dataset: Dataset): SampleBatch {
  return readRange(dataset, 0, sampleCount(dataset));
}

/** All pixels of an image dataset as one NHWC array; see imageInput. */
export function allPixels(dataset: Dataset): Float32Array {
  return allSamples(dataset)[imageInput(dataset).name] as Float32Array;
}

/**
 * `count` synthetic samples of `inputs` for timing and probing: float fields seeded uniform in
 * [0, 1), integer fields 0 (a valid token id, class or mask value whatever the vocabulary).
 */
export function syntheticSamples(inputs: readonly InputField[], count: number): Record<string, FieldArray> {
  const arrays = allocateSamples(inputs, count);
  for (const field of inputs) {
    const values = arrays[field.name];
    if (values instanceof Float32Array) for (let i = 0; i < values.length; i++) values[i] = ((i * 2654435761) % 1000) / 1000;
  }
  return arrays;
}
