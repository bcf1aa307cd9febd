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
import { forEachBatch, imageDataset, imageInput, type Dataset } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { timeCallsAsync, type LatencyOptions, type LatencyStats } from '../eval/latency.js';
import { argmaxRow } from '../util/argmax.js';
import { Rng } from '../util/rng.js';
import type { OnnxLayout } from './onnx.js';
import { forward } from '../models/forward.js';

// Errors only: ONNX Runtime's warnings about unused initializers and the like are not actionable.
const errorSeverity = 3;
const defaultBatchSize = 256;

/** An ONNX Runtime session on a one-input, one-output model; reuse it across batches, then release it. */
export class OnnxSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputName: string,
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
    if (session.inputNames.length !== 1 || session.outputNames.length !== 1) {
      await session.release();
      throw new InputError(
        `${source}: expected one input and one output, found ${session.inputNames.length} and ${session.outputNames.length}`,
      );
    }
    return new OnnxSession(session, session.inputNames[0], session.outputNames[0]);
  }

  /** One forward pass on a float32 batch laid out as the model's input; the output, row-major. */
  async run(input: Float32Array, dims: readonly number[]): Promise<Float32Array> {
    const results = await this.session.run({ [this.inputName]: new ort.Tensor('float32', input, dims) });
    return results[this.outputName].data as Float32Array;
  }

  release(): Promise<void> {
    return this.session.release();
  }
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

/** Logits of an exported model on every sample of `samples` (NHWC in [0, 1]), row-major [n, classes]. */
export async function onnxLogits(bytes: Uint8Array, samples: Dataset, options: OnnxBatchOptions = {}): Promise<Float32Array> {
  const { layout = 'nhwc', batchSize = defaultBatchSize } = options;
  const image = imageInput(samples, 'an exported ONNX model');
  const session = await OnnxSession.create(bytes, options.source);
  const outputs: Float32Array[] = [];
  try {
    await forEachBatch(samples, batchSize, async (batch, start, end) => {
      outputs.push(
        await runChecked(session, samplesInLayout(batch[image.name] as Float32Array, end - start, image.shape, layout), options.source),
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
async function runChecked(
  session: OnnxSession,
  batch: { data: Float32Array; dims: number[] },
  source = 'ONNX model',
): Promise<Float32Array> {
  try {
    return await session.run(batch.data, batch.dims);
  } catch (error) {
    throw new InputError(
      `${source}: ONNX Runtime cannot run it on a batch of shape [${batch.dims.join(', ')}]: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`,
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
 * Latency of an exported model in onnxruntime-node at `batchSize`, on seeded random inputs in
 * [0, 1]. `sampleShape` is one sample as the TensorFlow.js model takes it ([h, w, c] for images);
 * `layout` is the layout the model was exported with.
 */
export async function measureOnnxLatency(
  bytes: Uint8Array,
  sampleShape: readonly number[],
  batchSize: number,
  options: LatencyOptions & { layout?: OnnxLayout } = {},
): Promise<LatencyStats> {
  const rng = new Rng(7);
  const sampleSize = sampleShape.reduce((product, size) => product * size, 1);
  const images = Float32Array.from({ length: batchSize * sampleSize }, () => rng.next());
  const batch = samplesInLayout(images, batchSize, sampleShape, options.layout ?? 'nhwc');
  const session = await OnnxSession.create(bytes);
  try {
    return await timeCallsAsync(
      async () => {
        await session.run(batch.data, batch.dims);
      },
      batchSize,
      options,
    );
  } finally {
    await session.release();
  }
}
