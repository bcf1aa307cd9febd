/**
 * Running an exported model the way its user will: onnxruntime-node's public InferenceSession
 * (default options: all graph optimizations, all cores). Its API is asynchronous only, so latency
 * is timed with timeCallsAsync, the awaiting twin of eval/latency.ts's timeCalls; the promise
 * round trip is part of what a Node.js deployment pays, so it is counted.
 *
 * The kdkit engine also loads libonnxruntime, through its C API (engine/ort/capi.ts). Both use
 * the one copy of the library and its one process-wide environment, in either order of first use;
 * the sessions made here keep their own thread pools (onnxruntime-node's default), so they do not
 * depend on the engine's shared ones.
 */
import * as ort from 'onnxruntime-node';
import * as tf from '../engine/tf.js';
import {
  describeInputs,
  fieldSize,
  forEachBatch,
  imageDataset,
  syntheticSamples,
  type Dataset,
  type InputField,
  type SampleBatch,
} from '../data/dataset.js';
import { InputError } from '../errors.js';
import { timeCallsAsync, type LatencyOptions, type LatencyStats } from '../eval/latency.js';
import { argmaxRow } from '../util/argmax.js';
import type { OnnxLayout } from './onnx.js';
import { forward } from '../models/forward.js';

// Errors only: ONNX Runtime's warnings about unused initializers and the like are not actionable.
const errorSeverity = 3;
const defaultBatchSize = 256;

/** An ONNX Runtime session on a one-output model (of one or more inputs); reuse it across batches, then release it. */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputName: string,
  ) {}

  /** Loads the model; a file ONNX Runtime rejects is an InputError naming `source`. */
  static async create(bytes: Uint8Array, source = 'ONNX model'): Promise<OnnxSession> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(bytes, { logSeverityLevel: errorSeverity });
    } catch (error) {
      throw new InputError(`${source}: ONNX Runtime cannot load it: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (session.inputNames.length === 0 || session.outputNames.length !== 1) {
      await session.release();
      throw new InputError(
        `${source}: expected one output and at least one input, found ${session.outputNames.length} and ${session.inputNames.length}`,
      );
    }
    return new OnnxSession(session, session.inputNames, session.outputNames[0]);
  }

  /** The model's only input, for image models; a model of several is an error here. */
  get inputName(): string {
    if (this.inputNames.length !== 1) throw new Error(`the model has ${this.inputNames.length} inputs; use runFeeds`);
    return this.inputNames[0];
  }

  /** One forward pass on a float32 batch laid out as the model's only input; the output, row-major. */
  async run(input: Float32Array, dims: readonly number[]): Promise<Float32Array> {
    return this.runFeeds({ [this.inputName]: new ort.Tensor('float32', input, dims) });
  }

  /** One forward pass on tensors by input name; the output, row-major. */
  async runFeeds(feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
    const results = await this.session.run(feeds);
    return results[this.outputName].data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/**
 * A batch of samples as an exported model's feeds, by input name: image fields in the exported
 * layout, int32 fields (token ids, masks) as int64, the type exported text models take.
 * A model input that no field has the name of is an InputError naming it.
 */
export function onnxFeeds(
  inputNames: readonly string[],
  fields: readonly InputField[],
  batch: SampleBatch,
  count: number,
  layout: OnnxLayout,
  source = 'ONNX model',
): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const name of inputNames) {
    const field = inputNames.length === 1 && fields.length === 1 ? fields[0] : fields.find((each) => each.name === name);
    if (field === undefined) {
      throw new InputError(`${source}: input '${name}' matches none of the data's fields (${describeInputs(fields)})`);
    }
    const values = batch[field.name];
    if (values instanceof Int32Array) {
      feeds[name] = new ort.Tensor(
        'int64',
        BigInt64Array.from(values, (value) => BigInt(value)),
        [count, ...field.shape],
      );
    } else {
      const { data, dims } = samplesInLayout(values.subarray(0, count * fieldSize(field)), count, field.shape, layout);
      feeds[name] = new ort.Tensor('float32', data, dims);
    }
  }
  return feeds;
}

/** Runs an exported model once on a batch (input layout as exported); returns the logits row-major. */
export async function runOnnx(bytes: Uint8Array, input: Float32Array, dims: readonly number[]): Promise<Float32Array> {
  const session = await OnnxSession.create(bytes);
  try {
    return await session.run(input, dims);
  } finally {
    await session.release();
  }
}

/** NHWC samples as the exported model's input: unchanged for 'nhwc', transposed to [n, c, h, w] for 'nchw'. */
export function samplesInLayout(
  images: Float32Array,
  count: number,
  sampleShape: readonly number[],
  layout: OnnxLayout,
): { data: Float32Array; dims: number[] } {
  if (layout === 'nhwc' || sampleShape.length !== 3) return { data: images, dims: [count, ...sampleShape] };
  const [height, width, channels] = sampleShape;
  const data = new Float32Array(count * height * width * channels);
  let from = 0;
  for (let n = 0; n < count; n++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) data[((n * channels + c) * height + y) * width + x] = images[from++];
      }
    }
  }
  return { data, dims: [count, channels, height, width] };
}

export interface OnnxBatchOptions {
  /** Input layout the model was exported with; 'nhwc' unless given. */
  layout?: OnnxLayout;
  /** Samples per ONNX Runtime call; 256 unless given. */
  batchSize?: number;
  /** Name for error messages, e.g. the .onnx path. */
  source?: string;
}

/** Logits of an exported model on every sample of `samples` (images NHWC in [0, 1], or token ids), row-major [n, classes]. */
export async function onnxLogits(bytes: Uint8Array, samples: Dataset, options: OnnxBatchOptions = {}): Promise<Float32Array> {
  const { layout = 'nhwc', batchSize = defaultBatchSize } = options;
  const session = await OnnxSession.create(bytes, options.source);
  const outputs: Float32Array[] = [];
  try {
    await forEachBatch(samples, batchSize, async (batch, start, end) => {
      outputs.push(
        await runChecked(
          session,
          onnxFeeds(session.inputNames, samples.inputs, batch, end - start, layout, options.source),
          options.source,
        ),
      );
    });
  } finally {
    await session.release();
  }
  const logits = new Float32Array(outputs.reduce((total, output) => total + output.length, 0));
  let offset = 0;
  for (const output of outputs) {
    logits.set(output, offset);
    offset += output.length;
  }
  return logits;
}

/** A run whose shape mismatch (wrong layout or dataset for the model) is an InputError. */
async function runChecked(session: OnnxSession, feeds: Record<string, ort.Tensor>, source = 'ONNX model'): Promise<Float32Array> {
  try {
    return await session.runFeeds(feeds);
  } catch (error) {
    const shapes = Object.entries(feeds)
      .map(([name, tensor]) => `${name} [${tensor.dims.join(', ')}]`)
      .join(', ');
    throw new InputError(
      `${source}: ONNX Runtime cannot run it on a batch of ${shapes}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
    );
  }
}

/** How closely an exported model reproduces the TensorFlow.js model. */
export interface OnnxVerification {
  /** Largest |logit difference| over all samples and classes. */
  maxAbsDiff: number;
  /** Fraction of samples whose arg-max class is the same in both. */
  agreement: number;
  samples: number;
}

/**
 * Compares the ONNX model to the TensorFlow.js model on the given inputs (NHWC float32
 * [n, h, w, c], transposed for 'nchw'): max |difference| of logits, and the fraction of rows
 * whose argmax agrees. Batches internally.
 */
export async function verifyOnnx(
  bytes: Uint8Array,
  model: tf.LayersModel,
  images: Float32Array,
  sampleShape: readonly [number, number, number],
  options: { layout?: OnnxLayout; batchSize?: number } = {},
): Promise<OnnxVerification> {
  const batchSize = options.batchSize ?? defaultBatchSize;
  const sampleSize = sampleShape[0] * sampleShape[1] * sampleShape[2];
  const samples = images.length / sampleSize;
  const onnx = await onnxLogits(
    bytes,
    imageDataset({ name: 'samples', images, labels: new Int32Array(samples), sampleShape, numClasses: 0, classNames: [] }),
    options,
  );
  const reference = new Float32Array(onnx.length);
  for (let start = 0; start < samples; start += batchSize) {
    const rows = Math.min(batchSize, samples - start);
    const logits = tf.tidy(() => {
      const batch = tf.tensor4d(images.subarray(start * sampleSize, (start + rows) * sampleSize), [rows, ...sampleShape]);
      return (forward(model, batch) as tf.Tensor).dataSync() as Float32Array;
    });
    reference.set(logits, start * (onnx.length / samples));
  }
  return compareLogits(onnx, reference, onnx.length / samples);
}

/** Largest |difference| and arg-max agreement of two row-major [n, classes] logit arrays. */
export function compareLogits(logits: Float32Array, reference: Float32Array, classes: number): OnnxVerification {
  const samples = reference.length / classes;
  let maxAbsDiff = 0;
  let same = 0;
  for (let i = 0; i < reference.length; i++) maxAbsDiff = Math.max(maxAbsDiff, Math.abs(reference[i] - logits[i]));
  for (let row = 0; row < samples; row++) if (argmaxRow(reference, row, classes) === argmaxRow(logits, row, classes)) same++;
  return { maxAbsDiff, agreement: samples === 0 ? 0 : same / samples, samples };
}

/**
 * Latency of an exported model in onnxruntime-node at `batchSize`, on synthetic samples of
 * `inputs` (data/dataset.ts syntheticSamples: seeded values in [0, 1) for images, 0 for token
 * ids and masks), the fields as the TensorFlow.js model takes them; `layout` is the layout the
 * model was exported with.
 */
export async function measureOnnxLatency(
  bytes: Uint8Array,
  inputs: readonly InputField[],
  batchSize: number,
  options: LatencyOptions & { layout?: OnnxLayout } = {},
): Promise<LatencyStats> {
  const session = await OnnxSession.create(bytes);
  const feeds = onnxFeeds(session.inputNames, inputs, syntheticSamples(inputs, batchSize), batchSize, options.layout ?? 'nhwc');
  try {
    return await timeCallsAsync(
      async () => {
        await session.runFeeds(feeds);
      },
      batchSize,
      options,
    );
  } finally {
    await session.release();
  }
}
