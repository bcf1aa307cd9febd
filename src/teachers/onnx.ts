/**
 * A teacher in an ONNX file (typically exported from PyTorch with torch.onnx.export), run with
 * onnxruntime-node. The adapter lays each batch out as the model expects (NCHW for PyTorch) and
 * normalizes it; extra named outputs of the graph serve as features for feature-based methods
 * (maps in NCHW come back as NHWC, the layout kdkit's methods use).
 */
import * as ort from 'onnxruntime-node';
import { InputError } from '../errors.js';
import { sha256, sha256File } from '../util/hash.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { checkFiniteInitializers, decodeOnnxTeacher, externalDataFiles } from './onnx_check.js';
import { describePreprocessing, featureSampleShape, featureToNhwc, preprocess, type Preprocessing } from './preprocess.js';
import type { Teacher, TeacherInfo } from './teacher.js';

export interface OnnxTeacherOptions {
  path: string;
  preprocessing: Preprocessing;
  /** Default: the model's first input and first output. */
  inputName?: string;
  outputName?: string;
  /** [h, w, c] of one dataset sample. */
  sampleShape: readonly [number, number, number];
  numClasses: number;
  /** Names the teacher in errors: the config file and field. */
  source: string;
  batchSize?: number;
}

// Errors only: ONNX Runtime's warnings about unused initializers are not actionable here.
const errorSeverity = 3;

export async function openOnnxTeacher(options: OnnxTeacherOptions): Promise<OnnxTeacher> {
  const where = `${options.source}: ${options.path}`;
  const bytes = readRegularFile(options.path, MAX_WHOLE_FILE_BYTES, `${where}: cannot read the ONNX teacher`);
  const model = decodeOnnxTeacher(bytes, where);
  checkFiniteInitializers(model, where);
  // Weights kept beside the file: ONNX Runtime resolves them against the model's directory only
  // when it opens the model by path (from bytes, against the working directory).
  const external = [...new Map(externalDataFiles(model, options.path, where).map((data) => [data.path, data.sizeBytes])).entries()]
    .map(([path, sizeBytes]) => ({ path, sizeBytes, sha256: sha256File(path) }));
  let session: ort.InferenceSession;
  try {
    session = external.length > 0
      ? await ort.InferenceSession.create(options.path, { logSeverityLevel: errorSeverity })
      : await ort.InferenceSession.create(bytes, { logSeverityLevel: errorSeverity });
  } catch (error) {
    throw new InputError(`${where}: not an ONNX model ONNX Runtime can load (${firstLine(error)})`);
  }
  const inputName = options.inputName ?? session.inputNames[0];
  const outputName = options.outputName ?? session.outputNames[0];
  const known = (name: string, names: readonly string[], what: string, field: string) => {
    if (!names.includes(name)) throw new InputError(`${where}: ${field}: the model has no ${what} '${name}'; it has ${names.map((each) => `'${each}'`).join(', ')}`);
  };
  known(inputName, session.inputNames, 'input', 'teacher.inputName');
  known(outputName, session.outputNames, 'output', 'teacher.outputName');
  if (session.inputNames.length !== 1) throw new InputError(`${where}: the teacher must take one input; it takes ${session.inputNames.length}`);
  const teacher = new OnnxTeacher(session, bytes, model, inputName, outputName, options, external);
  await teacher.probe(where);
  return teacher;
}

/** Samples in the batch a teacher is tried on when opened: more than one, so a fixed batch axis shows. */
const PROBE_BATCH = 2;

export class OnnxTeacher implements Teacher {
  readonly info: TeacherInfo;
  readonly batchSize: number;
  readonly sizeBytes: number;
  /** Elements of the graph's initializers: the weights. */
  readonly parameterCount: number;
  private readonly shapes = new Map<string, number[]>();

  constructor(
    private readonly session: ort.InferenceSession,
    bytes: Uint8Array,
    model: Record<string, unknown>,
    private readonly inputName: string,
    private readonly outputName: string,
    private readonly options: OnnxTeacherOptions,
    /** Files holding weights outside the .onnx file (ONNX external data), with their hashes. */
    external: readonly { path: string; sizeBytes: number; sha256: string }[] = [],
  ) {
    this.batchSize = options.batchSize ?? 256;
    this.sizeBytes = bytes.byteLength + external.reduce((total, file) => total + file.sizeBytes, 0);
    this.parameterCount = initializerElements(model);
    const layout = options.preprocessing.inputLayout.toUpperCase();
    this.info = {
      kind: 'onnx',
      description: `ONNX ${options.path} (input '${inputName}', ${layout}; output '${outputName}')`,
      // External data is part of the teacher: new weights there are a new teacher to the soft-label store.
      fingerprint: sha256('onnx', bytes, ...external.map((file) => file.sha256), inputName, outputName, describePreprocessing(options.preprocessing)),
      classes: options.numClasses,
      featureNames: session.outputNames.filter((name) => name !== outputName),
    };
  }

  /**
   * Runs a batch of PROBE_BATCH samples: the input must fit the dataset, its batch axis must be
   * free (a model exported with a fixed batch of 1 would fail on the first real batch), and every
   * output must have one row per sample, the logits one column per class.
   */
  async probe(where: string): Promise<void> {
    const [height, width, channels] = this.options.sampleShape;
    const layout = this.options.preprocessing.inputLayout;
    const expected = layout === 'nchw' ? [PROBE_BATCH, channels, height, width] : [PROBE_BATCH, height, width, channels];
    const attempt = (count: number) => this.run(new Float32Array(count * height * width * channels), count, this.session.outputNames);
    let outputs: ort.InferenceSession.OnnxValueMapType;
    try {
      outputs = await attempt(PROBE_BATCH);
    } catch (error) {
      if (await attempt(1).then(() => true, () => false)) {
        throw new InputError(
          `${where}: the teacher runs on 1 sample but not on ${PROBE_BATCH}: input '${this.inputName}' has a fixed batch size of 1. ` +
          `Export it with a dynamic batch axis, e.g. torch.onnx.export(..., dynamic_axes={${[this.inputName, ...this.session.outputNames].map((name) => `'${name}': {0: 'batch'}`).join(', ')}})`,
        );
      }
      throw new InputError(`${where}: the teacher does not take the dataset's samples as input '${this.inputName}' [${expected.join(', ')}] (${layout}): ${firstLine(error)}`);
    }
    for (const name of this.session.outputNames) {
      const dims = (outputs[name] as ort.Tensor).dims;
      if (dims[0] !== PROBE_BATCH) {
        throw new InputError(`${where}: output '${name}' has shape [${dims.join(', ')}] for ${PROBE_BATCH} samples; its first axis must be the batch (${PROBE_BATCH})`);
      }
      this.shapes.set(name, featureSampleShape(dims.slice(1), layout));
    }
    const logits = (outputs[this.outputName] as ort.Tensor).dims;
    if (logits.length !== 2 || logits[1] !== this.options.numClasses) {
      throw new InputError(`${where}: output '${this.outputName}' has shape [${logits.join(', ')}] for ${PROBE_BATCH} samples; the dataset has ${this.options.numClasses} classes, so expected [${PROBE_BATCH}, ${this.options.numClasses}]`);
    }
  }

  async logits(images: Float32Array, count: number): Promise<Float32Array> {
    const outputs = await this.run(images, count, [this.outputName]);
    return (outputs[this.outputName] as ort.Tensor).data as Float32Array;
  }

  async features(images: Float32Array, count: number, names: readonly string[]): Promise<Record<string, Float32Array>> {
    const outputs = await this.run(images, count, names);
    return Object.fromEntries(names.map((name) => {
      const tensor = outputs[name] as ort.Tensor;
      return [name, featureToNhwc(tensor.data as Float32Array, tensor.dims, this.options.preprocessing.inputLayout)];
    }));
  }

  featureShape(name: string): readonly number[] | null {
    return name === this.outputName ? null : (this.shapes.get(name) ?? null);
  }

  dispose(): Promise<void> {
    return this.session.release();
  }

  private async run(images: Float32Array, count: number, outputNames: readonly string[]): Promise<ort.InferenceSession.OnnxValueMapType> {
    const { data, dims } = preprocess(images, count, this.options.sampleShape, this.options.preprocessing);
    return this.session.run({ [this.inputName]: new ort.Tensor('float32', data, dims) }, [...outputNames]);
  }
}

function initializerElements(model: Record<string, unknown>): number {
  const graph = (model as { graph?: { initializer?: { dims?: number[] }[] } }).graph;
  return (graph?.initializer ?? []).reduce((total, initializer) => total + (initializer.dims ?? []).reduce((size, dim) => size * Number(dim), 1), 0);
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0];
}
