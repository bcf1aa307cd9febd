/**
 * A teacher behind an inference server that speaks the Open Inference Protocol (KServe v2 REST):
 * Triton, KServe, Seldon MLServer, TorchServe. Connecting reads the model's metadata
 * (GET /v2/models/{name}[/versions/{v}]), which proves the protocol and gives the inputs to check
 * against the dataset's fields; logits and features are POST …/infer requests of `batchSize`
 * samples, a few in flight at once, reassembled in order. Each field the model takes is sent as
 * its own named input tensor (models/inputs.ts pairInputs decides which), with its datatype:
 * FP32 for floats, INT32 or INT64 (as the model's metadata says) for token ids and masks.
 *
 * Tensors travel as JSON numbers, which loses nothing: a float32 widened to a double prints in the
 * shortest text that parses back to that double, and storing the double in a Float32Array gives
 * back the float32. A server that prints float32 shortest-form text round-trips the same way.
 */
import { arrayDType, fieldSize, type FieldArray, type InputField, type SampleBatch } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { describePreprocessing, featureSampleShape, featureToNhwc, preprocess, type Preprocessing } from './preprocess.js';
import { checkHeaders, endpointIdentity, endpointUrl, redactUrl } from '../util/endpoint.js';
import { mapConcurrent, requestWithRetries, type RetryPolicy } from './remote_http.js';
import {
  parseJson,
  parseMetadata,
  pick,
  protocolHint,
  readOutput,
  serverMessage,
  type ResponseTensor,
  type TensorMetadata,
} from './remote_protocol.js';
import type { Teacher, TeacherInfo } from './teacher.js';
import { sentInputs, type SentInput } from './remote_inputs.js';

export interface RemoteTeacherOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8000; credentials, a query or a fragment are refused (use `headers`). */
  url: string;
  /** Sent with every request, e.g. Authorization; never written anywhere, nor part of the fingerprint. */
  headers?: Record<string, string>;
  model: string;
  version?: string;
  /**
   * The input of a one-input model (default: its only input); a model of several inputs takes the
   * dataset's fields of their names. Default output: the first in the metadata.
   */
  inputName?: string;
  outputName?: string;
  /** Extra outputs the server exposes, usable as features. */
  featureOutputs?: string[];
  /** Applied to image fields (float32 [h, w, c]) only. */
  preprocessing: Preprocessing;
  /** The fields of one dataset sample (images NHWC, as the dataset holds them): what logits() and features() are given. */
  inputs: readonly InputField[];
  /** Samples per request (default 64; a model served with a fixed batch dimension sets its own). */
  batchSize?: number;
  /** Requests in flight at once (default 4). */
  concurrency?: number;
  /** Per-request timeout (default 30000 ms). */
  timeoutMs?: number;
  /** Retries after the first attempt, on 429, 5xx, timeouts and connection resets (default 4). */
  retries?: number;
  /** First retry's delay, doubling after (default 200 ms); a longer Retry-After wins. */
  backoffMs?: number;
  /** Largest infer response read (default: what the request's outputs can take as JSON, at least 4 MiB). */
  maxResponseBytes?: number;
  /** Names this teacher in errors, e.g. the config file and field. */
  source?: string;
}

/** Connects (reads the model's metadata, which proves the protocol) and returns a Teacher. */
export async function connectRemoteTeacher(options: RemoteTeacherOptions): Promise<Teacher> {
  const source = options.source ?? 'remote teacher';
  const base = endpointUrl(options.url, source);
  const headers = options.headers ?? {};
  checkHeaders(headers, source);
  checkLimits(options);
  const where = options.source ? `${options.source} (${redactUrl(base)})` : redactUrl(base);
  const modelPath = `v2/models/${encodeURIComponent(options.model)}${options.version === undefined ? '' : `/versions/${encodeURIComponent(options.version)}`}`;
  const policy: RetryPolicy = {
    timeoutMs: options.timeoutMs ?? 30_000,
    retries: options.retries ?? 4,
    backoffMs: options.backoffMs ?? 200,
  };
  const metadataUrl = new URL(modelPath, base);
  const answer = await requestWithRetries(
    {
      method: 'GET',
      url: metadataUrl,
      headers,
      maxResponseBytes: metadataBytes,
      limitNote: `the limit for model metadata; ${protocolHint}`,
    },
    policy,
    where,
  );
  const what = `GET ${metadataUrl.pathname}`;
  if (answer.status >= 300)
    throw new InputError(
      `${where}: ${what} answered ${answer.status}${serverMessage(answer)}; ${protocolHint}, serving model '${options.model}'`,
    );
  const metadata = parseMetadata(parseJson(answer, where, what), `${where}: ${what}`);

  const sent = sentInputs(metadata.inputs, options, where);
  const output = pick(metadata.outputs, options.outputName, 'output', where, options.model);
  const featureNames = options.featureOutputs ?? [];
  const featureOutputs = featureNames.map((name) => pick(metadata.outputs, name, 'output', where, options.model));
  const featureShapes = new Map(
    featureOutputs.map((tensor) => [tensor.name, featureSampleShape(tensor.shape.slice(1), options.preprocessing.inputLayout)]),
  );
  const valuesPerSample = new Map([output, ...featureOutputs].map((tensor) => [tensor.name, sampleValues(tensor)]));
  const fixedBatch = sent.find((input) => input.fixedBatch !== undefined)?.fixedBatch;
  const lastOutputDim = output.shape[output.shape.length - 1];

  // Unpinned, the server picks among the versions it lists; all of them go into the fingerprint, so
  // a new version served under the same name makes new soft labels rather than reusing stale ones.
  const version = options.version ?? metadata.versions.join(',');
  const info: TeacherInfo = {
    kind: 'remote',
    description: `remote model '${options.model}'${version === '' ? '' : ` (version ${version})`} at ${redactUrl(base)}`,
    // Two servers may serve different weights under one name and version, so the endpoint counts;
    // headers do not (a new token is the same teacher). JSON keeps the parts from running together.
    fingerprint: sha256(
      'remote',
      JSON.stringify({ endpoint: endpointIdentity(base), model: options.model, version }),
      describePreprocessing(options.preprocessing),
    ),
    classes: output.shape.length > 0 && lastOutputDim > 0 ? lastOutputDim : null,
    featureNames,
  };
  return new RemoteTeacher(info, {
    inferUrl: new URL(`${modelPath}/infer`, base),
    where: `${where}: model '${options.model}'`,
    policy,
    headers,
    maxResponseBytes: options.maxResponseBytes,
    valuesPerSample,
    inputs: sent,
    outputName: output.name,
    requestRows: fixedBatch ?? options.batchSize ?? 64,
    padToFixedBatch: fixedBatch !== undefined,
    concurrency: options.concurrency ?? 4,
    preprocessing: options.preprocessing,
    featureShapes,
  });
}

interface Link {
  inferUrl: URL;
  where: string;
  policy: RetryPolicy;
  headers: Record<string, string>;
  /** The caller's limit on an infer response; undefined derives one from `valuesPerSample`. */
  maxResponseBytes: number | undefined;
  /** Values per sample of each output, from the metadata (undefined where the server leaves a dimension open). */
  valuesPerSample: Map<string, number | undefined>;
  inputs: readonly SentInput[];
  outputName: string;
  requestRows: number;
  /** The model takes exactly `requestRows` samples: the last request is padded with zeros. */
  padToFixedBatch: boolean;
  concurrency: number;
  preprocessing: Preprocessing;
  /** One sample's shape of each feature output, from the metadata (-1 where the server leaves it open). */
  featureShapes: Map<string, number[]>;
}

class RemoteTeacher implements Teacher {
  readonly batchSize: number;

  constructor(
    readonly info: TeacherInfo,
    private readonly link: Link,
  ) {
    this.batchSize = link.requestRows;
  }

  async logits(batch: SampleBatch, count: number): Promise<Float32Array> {
    const { outputName } = this.link;
    const rows = await this.infer(batch, count, [outputName], (output) => {
      if (output.shape.length !== 2 || (this.info.classes !== null && output.shape[1] !== this.info.classes)) {
        return `has shape [${output.shape.join(', ')}], expected [${output.shape[0]}, ${this.info.classes ?? 'classes'}]`;
      }
      return undefined;
    });
    return rows[outputName];
  }

  async features(batch: SampleBatch, count: number, names: readonly string[]): Promise<Record<string, Float32Array>> {
    const unknown = names.filter((name) => !this.info.featureNames.includes(name));
    if (unknown.length > 0) {
      throw new InputError(
        `${this.link.where}: no feature output ${unknown.map((name) => `'${name}'`).join(', ')}; featureOutputs lists ${this.info.featureNames.map((name) => `'${name}'`).join(', ') || 'none'}`,
      );
    }
    const rows = await this.infer(batch, count, names, () => undefined);
    // Maps come back in the model's layout; kdkit's methods take NHWC ([h, w, c] per sample here).
    return Object.fromEntries(
      names.map((name) => {
        const shape = this.link.featureShapes.get(name) ?? [];
        const modelDims = shape.length === 3 ? [count, shape[2], shape[0], shape[1]] : [count, ...shape];
        return [name, featureToNhwc(rows[name], modelDims, this.link.preprocessing.inputLayout)];
      }),
    );
  }

  featureShape(name: string): readonly number[] | null {
    const shape = this.link.featureShapes.get(name);
    // A dimension the server leaves open cannot size an adapter before training.
    return shape?.every((dim) => dim > 0) ? shape : null;
  }

  async dispose(): Promise<void> {}

  /** Every output in `names` for `count` samples, row-major [count, ...]; `check` vets each response tensor's shape. */
  private async infer(
    batch: SampleBatch,
    count: number,
    names: readonly string[],
    check: (output: ResponseTensor) => string | undefined,
  ): Promise<Record<string, Float32Array>> {
    const { inputs, preprocessing, requestRows, concurrency } = this.link;
    const sent = inputs.map((input) => {
      const { field } = input;
      const values = Object.hasOwn(batch, field.name) ? batch[field.name] : undefined;
      const size = fieldSize(field);
      if (
        !Number.isInteger(count) ||
        count < 0 ||
        values === undefined ||
        arrayDType(values) !== field.dtype ||
        values.length !== count * size
      ) {
        const got = values === undefined ? 'none' : `${values.length} ${arrayDType(values) ?? 'other'} values`;
        throw new InputError(
          `${this.link.where}: field '${field.name}': expected ${count} samples of ${field.dtype} [${field.shape.join(', ')}] (${count * size} values), got ${got}`,
        );
      }
      const data: FieldArray = input.image
        ? preprocess(values as Float32Array, count, field.shape as [number, number, number], preprocessing).data
        : values;
      return { input, data, size };
    });
    const rowsOf = (index: number) => Math.min(requestRows, count - index * requestRows);
    const parts = await mapConcurrent(Math.ceil(count / requestRows), concurrency, (index, signal) => {
      const start = index * requestRows;
      const end = start + rowsOf(index);
      return this.inferRequest(
        sent.map(({ input, data, size }) => ({ input, data: data.subarray(start * size, end * size) })),
        rowsOf(index),
        names,
        check,
        signal,
      );
    });
    const result: Record<string, Float32Array> = {};
    for (const name of names) {
      const rowSizes = parts.map((part, index) => part[name].length / rowsOf(index));
      const mismatch = rowSizes.findIndex((size) => size !== rowSizes[0]);
      if (mismatch >= 0)
        throw new InputError(
          `${this.link.where}: output '${name}' has ${rowSizes[0]} values per sample in the first response and ${rowSizes[mismatch]} in response ${mismatch + 1}`,
        );
      const joined = new Float32Array(count * (rowSizes[0] ?? 0));
      parts.forEach((part, index) => {
        joined.set(part[name], index * requestRows * rowSizes[0]);
      });
      result[name] = joined;
    }
    return result;
  }

  /** One POST …/infer of `rows` preprocessed samples of each input; each requested output's first `rows` rows. */
  private async inferRequest(
    samples: { input: SentInput; data: FieldArray }[],
    rows: number,
    names: readonly string[],
    check: (output: ResponseTensor) => string | undefined,
    signal: AbortSignal,
  ): Promise<Record<string, Float32Array>> {
    const { requestRows, padToFixedBatch, inferUrl, policy, where, headers } = this.link;
    const sentRows = padToFixedBatch ? requestRows : rows;
    const body = JSON.stringify({
      inputs: samples.map(({ input, data }) => ({
        name: input.name,
        shape: [sentRows, ...input.sampleDims],
        datatype: input.datatype,
        data: Array.from(sentRows === rows ? data : padded(data, sentRows * (data.length / rows))),
      })),
      outputs: names.map((name) => ({ name })),
    });
    const answer = await requestWithRetries(
      { method: 'POST', url: inferUrl, body, headers, ...this.responseLimit(sentRows, names) },
      policy,
      where,
      signal,
    );
    const what = `POST ${inferUrl.pathname}`;
    if (answer.status >= 300) throw new InputError(`${where}: ${what} answered ${answer.status}${serverMessage(answer)}`);
    const outputs = (parseJson(answer, where, what) as { outputs?: unknown }).outputs;
    if (!Array.isArray(outputs)) throw new InputError(`${where}: ${what} answered without an outputs list; ${protocolHint}`);
    const result: Record<string, Float32Array> = {};
    for (const name of names) {
      const output = readOutput(outputs, name, sentRows, check);
      if (typeof output === 'string') throw new InputError(`${where}: ${what}: output '${name}' ${output}`);
      result[name] = sentRows === rows ? output.values : output.values.subarray(0, (output.values.length / sentRows) * rows);
    }
    return result;
  }

  /**
   * The most bytes an infer answer of `rows` samples of `names` may take: every value as a JSON
   * number of up to 32 characters (a double's shortest text is at most 24, plus separators and
   * nesting), with a floor for the envelope and servers that add more.
   */
  private responseLimit(rows: number, names: readonly string[]): { maxResponseBytes: number; limitNote: string } {
    if (this.link.maxResponseBytes !== undefined)
      return { maxResponseBytes: this.link.maxResponseBytes, limitNote: 'the maxResponseBytes given' };
    const outputs = `outputs ${names.map((name) => `'${name}'`).join(', ')}`;
    const raise = 'set maxResponseBytes to allow more';
    const sizes = names.map((name) => this.link.valuesPerSample.get(name));
    if (sizes.some((size) => size === undefined))
      return { maxResponseBytes: openResponseBytes, limitNote: `the limit for ${outputs} of a size the metadata leaves open; ${raise}` };
    const values = rows * sizes.reduce((sum: number, size) => sum + size!, 0);
    return {
      maxResponseBytes: Math.max(values * 32, floorResponseBytes),
      limitNote: `the limit for ${rows} samples of ${outputs}; ${raise}`,
    };
  }
}

const metadataBytes = 1024 * 1024;
const floorResponseBytes = 4 * 1024 * 1024;
const openResponseBytes = 256 * 1024 * 1024;

/** Values in one sample of `tensor`, or undefined when the metadata leaves a dimension open. */
function sampleValues(tensor: TensorMetadata): number | undefined {
  const dims = tensor.shape.slice(1);
  return dims.every((dim) => dim > 0) ? dims.reduce((product, dim) => product * dim, 1) : undefined;
}

/** Sizes that would otherwise loop forever or never send: a library caller has no schema in front. */
function checkLimits(options: RemoteTeacherOptions): void {
  const limits: [string, number | undefined, number, number?][] = [
    ['batchSize', options.batchSize, 1],
    ['concurrency', options.concurrency, 1],
    ['retries', options.retries, 0],
    ['backoffMs', options.backoffMs, 0],
    ['maxResponseBytes', options.maxResponseBytes, 1],
    // Past 2³¹ − 1 ms, Node fires the timer at once: every request would time out.
    ['timeoutMs', options.timeoutMs, 1, 2 ** 31 - 1],
  ];
  for (const [field, value, least, most] of limits) {
    if (value !== undefined && !(Number.isInteger(value) && value >= least && value <= (most ?? Infinity))) {
      throw new InputError(
        `${options.source ?? 'remote teacher'}: ${field} is ${value}, expected an integer ${most === undefined ? `≥ ${least}` : `from ${least} to ${most}`}`,
      );
    }
  }
}

function padded(samples: FieldArray, length: number): FieldArray {
  const result = samples instanceof Int32Array ? new Int32Array(length) : new Float32Array(length);
  result.set(samples);
  return result;
}
