/**
 * A teacher in an ONNX file (typically exported from PyTorch with torch.onnx.export), run with
 * onnxruntime-node. The adapter feeds each of the model's inputs the dataset field that pairs with
 * it (models/inputs.ts pairInputs: by name, as Hugging Face exports name `input_ids` and
 * `attention_mask`), as the type the input takes (int32 ids as int64, as PyTorch exports them);
 * image fields it lays out as the model expects (NCHW for PyTorch) and normalizes. Extra named
 * outputs of the graph serve as features for feature-based methods (maps in NCHW come back as
 * NHWC, the layout kdkit's methods use).
 */
import * as ort from 'onnxruntime-node';
import { Float16Array } from '@petamoriken/float16';
import { arrayDType, fieldSize, isImageField, syntheticSamples, type InputField, type SampleBatch } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { pairInputs } from '../models/inputs.js';
import { sha256, sha256File } from '../util/hash.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { checkFiniteInitializers, decodeOnnxTeacher, externalDataFiles } from './onnx_check.js';
import {
  checkPreprocessing,
  describePreprocessing,
  featureSampleShape,
  featureToNhwc,
  preprocess,
  type Preprocessing,
} from './preprocess.js';
import type { Teacher, TeacherInfo } from './teacher.js';
import { countable, countMacs, probedValues } from './onnx_macs.js';
import { withExtraOutputs } from '../engine/ort/onnx_model.js';

export interface OnnxTeacherOptions {
  path: string;
  /** Applied to image fields (float32 [h, w, c]) only. */
  preprocessing: Preprocessing;
  /**
   * The input of a one-input model (default: its only input). A model of several inputs takes the
   * dataset's fields of their names (models/inputs.ts pairInputs). Default output: the first.
   */
  inputName?: string;
  outputName?: string;
  /** The fields of one dataset sample: what logits() and features() are given. */
  inputs: readonly InputField[];
  numClasses: number;
  /** Names the teacher in errors: the config file and field. */
  source: string;
  batchSize?: number;
}

// Errors only: ONNX Runtime's warnings about unused initializers are not actionable here.
const errorSeverity = 3;

/** One model input and the field that feeds it. */
interface Feed {
  readonly input: string;
  readonly field: InputField;
  /** The element type the model takes there. */
  readonly type: ort.Tensor.Type;
  /** An image field: laid out and normalized by the preprocessing. */
  readonly image: boolean;
}

/** What each field dtype may become at the model's input: float32 → float32 or float16, int32 → int32 or int64. */
const ACCEPTED: Readonly<Record<InputField['dtype'], readonly string[]>> = { float32: ['float32', 'float16'], int32: ['int32', 'int64'] };

export async function openOnnxTeacher(options: OnnxTeacherOptions): Promise<OnnxTeacher> {
  const where = `${options.source}: ${options.path}`;
  const bytes = readRegularFile(options.path, MAX_WHOLE_FILE_BYTES, `${where}: cannot read the ONNX teacher`);
  const model = decodeOnnxTeacher(bytes, where);
  checkFiniteInitializers(model, where);
  // Weights kept beside the file: ONNX Runtime resolves them against the model's directory only
  // when it opens the model by path (from bytes, against the working directory).
  const external = [...new Map(externalDataFiles(model, options.path, where).map((data) => [data.path, data.sizeBytes])).entries()].map(
    ([path, sizeBytes]) => ({ path, sizeBytes, sha256: sha256File(path) }),
  );
  let session: ort.InferenceSession;
  try {
    session =
      external.length > 0
        ? await ort.InferenceSession.create(options.path, { logSeverityLevel: errorSeverity })
        : await ort.InferenceSession.create(bytes, { logSeverityLevel: errorSeverity });
  } catch (error) {
    throw new InputError(`${where}: not an ONNX model ONNX Runtime can load (${firstLine(error)})`);
  }
  try {
    const outputName = options.outputName ?? session.outputNames[0];
    const known = (name: string, names: readonly string[], what: string, field: string) => {
      if (!names.includes(name)) throw new InputError(`${where}: ${field}: the model has no ${what} '${name}'; it has ${quoted(names)}`);
    };
    if (options.inputName !== undefined) {
      known(options.inputName, session.inputNames, 'input', 'teacher.inputName');
      if (session.inputNames.length !== 1) {
        throw new InputError(
          `${where}: teacher.inputName names the input of a one-input model; this one takes ${quoted(session.inputNames)}, each fed by the dataset's field of its name: remove teacher.inputName`,
        );
      }
    }
    known(outputName, session.outputNames, 'output', 'teacher.outputName');
    const feeds = feedsOf(session, options, where);
    checkPreprocessing(
      options.preprocessing,
      feeds.map((feed) => feed.field),
      `${where}: teacher`,
    );
    const teacher = new OnnxTeacher(session, bytes, model, feeds, outputName, options, external);
    await teacher.probe(where);
    return teacher;
  } catch (error) {
    await session.release();
    throw error;
  }
}

/** Which field feeds each of the model's inputs, and as what type; an InputError names a misfit. */
function feedsOf(session: ort.InferenceSession, options: OnnxTeacherOptions, where: string): Feed[] {
  const fields = pairInputs(
    session.inputNames.map((name) => ({ name })),
    options.inputs.map((field) => field.name),
    where,
  );
  return session.inputNames.map((input, i) => {
    const field = options.inputs.find((each) => each.name === fields[i])!;
    const metadata = session.inputMetadata.find((each) => each.name === input);
    const type = metadata?.isTensor ? metadata.type : undefined;
    if (type === undefined || !ACCEPTED[field.dtype].includes(type)) {
      throw new InputError(
        `${where}: input '${input}' takes ${type ?? 'a value that is not a tensor'}; the data's field '${field.name}' is ${field.dtype}, which kdkit feeds as ${ACCEPTED[field.dtype].join(' or ')}`,
      );
    }
    return { input, field, type, image: isImageField(field) };
  });
}

/** Samples in the batch a teacher is tried on when opened: more than one, so a fixed batch axis shows. */
const PROBE_BATCH = 2;

export class OnnxTeacher implements Teacher {
  readonly info: TeacherInfo;
  readonly batchSize: number;
  readonly sizeBytes: number;
  /** Elements of the graph's initializers: the weights. */
  readonly parameterCount: number;
  private readonly hasExternalData: boolean;
  private macs: Promise<number | null> | undefined;
  private readonly shapes = new Map<string, number[]>();
  private readonly where: string;

  constructor(
    private readonly session: ort.InferenceSession,
    bytes: Uint8Array,
    model: Record<string, unknown>,
    private readonly feeds: readonly Feed[],
    private readonly outputName: string,
    private readonly options: OnnxTeacherOptions,
    /** Files holding weights outside the .onnx file (ONNX external data), with their hashes. */
    external: readonly { path: string; sizeBytes: number; sha256: string }[] = [],
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.sizeBytes = bytes.byteLength + external.reduce((total, file) => total + file.sizeBytes, 0);
    this.parameterCount = initializerElements(model);
    this.hasExternalData = external.length > 0;
    this.where = `${options.source}: ${options.path}`;
    const inputNames = feeds.map((feed) => feed.input);
    const layout = feeds.some((feed) => feed.image) ? `, ${options.preprocessing.inputLayout.toUpperCase()}` : '';
    this.info = {
      kind: 'onnx',
      description: `ONNX ${options.path} (input${inputNames.length > 1 ? 's' : ''} ${quoted(inputNames)}${layout}; output '${outputName}')`,
      // External data is part of the teacher: new weights there are a new teacher to the soft-label store.
      fingerprint: sha256(
        'onnx',
        bytes,
        ...external.map((file) => file.sha256),
        JSON.stringify(inputNames),
        outputName,
        describePreprocessing(options.preprocessing),
      ),
      classes: options.numClasses,
      featureNames: session.outputNames.filter((name) => name !== outputName),
    };
  }

  /**
   * Runs a batch of PROBE_BATCH samples: the inputs must fit the dataset, their batch axis must be
   * free (a model exported with a fixed batch of 1 would fail on the first real batch), and every
   * output must have one row per sample, the logits one column per class.
   */
  async probe(where: string): Promise<void> {
    const layout = this.options.preprocessing.inputLayout;
    const attempt = (count: number) => this.run(syntheticSamples(this.options.inputs, count), count, this.session.outputNames);
    let outputs: ort.InferenceSession.OnnxValueMapType;
    try {
      outputs = await attempt(PROBE_BATCH);
    } catch (error) {
      if (error instanceof InputError) throw error;
      const inputs = this.feeds.map((feed) => feed.input);
      if (
        await attempt(1).then(
          () => true,
          () => false,
        )
      ) {
        throw new InputError(
          `${where}: the teacher runs on 1 sample but not on ${PROBE_BATCH}: input${inputs.length > 1 ? 's' : ''} ${quoted(inputs)} ${inputs.length > 1 ? 'have' : 'has'} a fixed batch size of 1. ` +
            `Export it with a dynamic batch axis, e.g. torch.onnx.export(..., dynamic_axes={${[...inputs, ...this.session.outputNames].map((name) => `'${name}': {0: 'batch'}`).join(', ')}})`,
        );
      }
      const expected = this.feeds.map(
        (feed) => `'${feed.input}' [${this.dims(feed, PROBE_BATCH).join(', ')}]${feed.image ? ` (${layout})` : ''}`,
      );
      throw new InputError(
        `${where}: the teacher does not take the dataset's samples as input${expected.length > 1 ? 's' : ''} ${expected.join(', ')}: ${firstLine(error)}`,
      );
    }
    for (const name of this.session.outputNames) {
      const dims = (outputs[name] as ort.Tensor).dims;
      if (dims[0] !== PROBE_BATCH) {
        throw new InputError(
          `${where}: output '${name}' has shape [${dims.join(', ')}] for ${PROBE_BATCH} samples; its first axis must be the batch (${PROBE_BATCH})`,
        );
      }
      this.shapes.set(name, featureSampleShape(dims.slice(1), layout));
    }
    const logits = outputs[this.outputName] as ort.Tensor;
    if (logits.dims.length !== 2 || logits.dims[1] !== this.options.numClasses) {
      throw new InputError(
        `${where}: output '${this.outputName}' has shape [${logits.dims.join(', ')}] for ${PROBE_BATCH} samples; the dataset has ${this.options.numClasses} classes, so expected [${PROBE_BATCH}, ${this.options.numClasses}]`,
      );
    }
    if (!FLOAT_OUTPUTS.includes(logits.type))
      throw new InputError(`${where}: output '${this.outputName}' is ${logits.type}; logits must be float32, float16 or float64`);
  }

  /**
   * Multiply-accumulates per sample of its convolutions and matrix products (onnx_macs.ts), counted
   * when first asked (the evaluation does), from the file read again; null for a model with
   * external data, an operator the count does not know, or shapes that could not be read.
   */
  multiplyAccumulates(): Promise<number | null> {
    this.macs ??= this.countMultiplyAccumulates().catch(() => null);
    return this.macs;
  }

  private async countMultiplyAccumulates(): Promise<number | null> {
    if (this.hasExternalData) return null;
    const bytes = readRegularFile(this.options.path, MAX_WHOLE_FILE_BYTES, `${this.where}: cannot read the ONNX teacher`);
    const model = decodeOnnxTeacher(bytes, this.where);
    if (!countable(model)) return null;
    let probe: ort.InferenceSession;
    try {
      probe = await ort.InferenceSession.create(withExtraOutputs(bytes, probedValues(model)), {
        // Fatal only: a model whose probe does not load costs its count, not a line on stderr.
        logSeverityLevel: 4,
      });
    } catch {
      return null;
    }
    try {
      const samples = syntheticSamples(this.options.inputs, 1);
      const outputs = await probe.run(Object.fromEntries(this.feeds.map((feed) => [feed.input, this.tensor(feed, samples, 1)])));
      const shapes = new Map<string, readonly number[]>(Object.entries(outputs).map(([name, value]) => [name, (value as ort.Tensor).dims]));
      for (const feed of this.feeds) shapes.set(feed.input, this.dims(feed, 1));
      return countMacs(model, shapes);
    } catch {
      return null;
    } finally {
      await probe.release();
    }
  }

  async logits(batch: SampleBatch, count: number): Promise<Float32Array> {
    const outputs = await this.run(batch, count, [this.outputName]);
    return float32Of(outputs[this.outputName] as ort.Tensor);
  }

  async features(batch: SampleBatch, count: number, names: readonly string[]): Promise<Record<string, Float32Array>> {
    return this.featuresOf(await this.run(batch, count, names), names);
  }

  async logitsAndFeatures(
    batch: SampleBatch,
    count: number,
    names: readonly string[],
  ): Promise<{ logits: Float32Array; features: Record<string, Float32Array> }> {
    const outputs = await this.run(batch, count, [...new Set([this.outputName, ...names])]);
    return { logits: float32Of(outputs[this.outputName] as ort.Tensor), features: this.featuresOf(outputs, names) };
  }

  featureShape(name: string): readonly number[] | null {
    return name === this.outputName ? null : (this.shapes.get(name) ?? null);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }

  private featuresOf(outputs: ort.InferenceSession.OnnxValueMapType, names: readonly string[]): Record<string, Float32Array> {
    return Object.fromEntries(
      names.map((name) => {
        const tensor = outputs[name] as ort.Tensor;
        return [name, featureToNhwc(float32Of(tensor), tensor.dims, this.options.preprocessing.inputLayout)];
      }),
    );
  }

  /** The model's dims of `count` samples of the feed: NCHW for an image when the layout says so. */
  private dims(feed: Feed, count: number): number[] {
    const shape = feed.field.shape;
    return feed.image && this.options.preprocessing.inputLayout === 'nchw' ? [count, shape[2], shape[0], shape[1]] : [count, ...shape];
  }

  private async run(batch: SampleBatch, count: number, outputNames: readonly string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    const feeds = Object.fromEntries(this.feeds.map((feed) => [feed.input, this.tensor(feed, batch, count)]));
    return this.session.run(feeds, [...outputNames]);
  }

  /** `count` samples of the feed's field as the tensor its input takes. */
  private tensor(feed: Feed, batch: SampleBatch, count: number): ort.Tensor {
    const { field, type } = feed;
    const values = Object.hasOwn(batch, field.name) ? batch[field.name] : undefined;
    const expected = count * fieldSize(field);
    if (values === undefined || arrayDType(values) !== field.dtype || values.length !== expected) {
      const got = values === undefined ? 'none' : `${values.length} ${arrayDType(values) ?? 'other'} values`;
      throw new InputError(
        `${this.where}: input '${feed.input}' takes field '${field.name}', ${count} samples of ${field.dtype} [${field.shape.join(', ')}] (${expected} values); got ${got}`,
      );
    }
    const dims = this.dims(feed, count);
    const data = feed.image
      ? preprocess(values as Float32Array, count, field.shape as [number, number, number], this.options.preprocessing).data
      : values;
    switch (type) {
      case 'float16':
        return new ort.Tensor('float16', new Uint16Array(new Float16Array(data).buffer), dims);
      case 'int64':
        return new ort.Tensor(
          'int64',
          BigInt64Array.from(data, (value) => BigInt(value)),
          dims,
        );
      default:
        return new ort.Tensor(type as 'float32' | 'int32', data, dims);
    }
  }
}

/** Floating-point output types, read as float32. */
const FLOAT_OUTPUTS: readonly string[] = ['float32', 'float16', 'float64'];

/** A float output's values as float32; float16 arrives as its bit patterns (Node has no Float16Array). */
function float32Of(tensor: ort.Tensor): Float32Array {
  const data = tensor.data;
  if (data instanceof Float32Array) return data;
  if (tensor.type === 'float16' && data instanceof Uint16Array)
    return Float32Array.from(new Float16Array(data.buffer, data.byteOffset, data.length));
  if (!FLOAT_OUTPUTS.includes(tensor.type))
    throw new InputError(`ONNX output of type ${tensor.type}; expected float32, float16 or float64`);
  return Float32Array.from(data as ArrayLike<number>);
}

function quoted(names: readonly string[]): string {
  return names.map((name) => `'${name}'`).join(', ');
}

function initializerElements(model: Record<string, unknown>): number {
  const graph = (model as { graph?: { initializer?: { dims?: number[] }[] } }).graph;
  return (graph?.initializer ?? []).reduce(
    (total, initializer) => total + (initializer.dims ?? []).reduce((size, dim) => size * Number(dim), 1),
    0,
  );
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
