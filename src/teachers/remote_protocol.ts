/**
 * The Open Inference Protocol's (KServe v2 REST) JSON as the remote teacher reads it: model
 * metadata, whether its inputs fit the dataset, and the output tensors of an infer response.
 * Anything that does not read as the protocol is an InputError naming what was expected.
 */
import { InputError } from '../errors.js';
import { excerpt, shortened, type HttpAnswer } from './remote_http.js';

/** A tensor as the model's metadata describes it; -1 marks a variable dimension. */
export interface TensorMetadata {
  name: string;
  datatype: string;
  shape: number[];
}

export interface ModelMetadata {
  versions: string[];
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

export const protocolHint = 'expected an inference server speaking the Open Inference Protocol (KServe v2 REST)';

export function parseJson(answer: HttpAnswer, where: string, what: string): unknown {
  if (/html/i.test(answer.contentType) || /^\s*</.test(answer.text))
    throw new InputError(`${where}: ${what} answered an HTML page (status ${answer.status}); ${protocolHint}`);
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new InputError(`${where}: ${what} answered ${answer.status} with text that is not JSON${excerpt(answer.text)}; ${protocolHint}`);
  }
}

/** A 4xx's reason, shortened: the protocol's {"error": …} (or TorchServe's "message"), else the text itself. */
export function serverMessage(answer: HttpAnswer): string {
  try {
    const body = JSON.parse(answer.text) as { error?: unknown; message?: unknown };
    const message = body.error ?? body.message;
    if (typeof message === 'string') return `: ${shortened(message)}`;
  } catch {
    // Not JSON: the text itself is the best reason there is.
  }
  return excerpt(answer.text);
}

export function parseMetadata(json: unknown, context: string): ModelMetadata {
  const body = json as { versions?: unknown; inputs?: unknown; outputs?: unknown } | null;
  const tensors = (list: unknown) => Array.isArray(list) && list.length > 0 && list.every(isTensorMetadata);
  if (body === null || typeof body !== 'object' || !tensors(body.inputs) || !tensors(body.outputs)) {
    throw new InputError(`${context}: the metadata has no inputs and outputs lists of {name, datatype, shape}; ${protocolHint}`);
  }
  const versions = Array.isArray(body.versions) ? body.versions.map(String) : [];
  return { versions, inputs: body.inputs as TensorMetadata[], outputs: body.outputs as TensorMetadata[] };
}

function isTensorMetadata(value: unknown): boolean {
  const tensor = value as TensorMetadata | null;
  return (
    typeof tensor?.name === 'string' &&
    typeof tensor.datatype === 'string' &&
    Array.isArray(tensor.shape) &&
    tensor.shape.every(Number.isInteger)
  );
}

export function pick(
  tensors: TensorMetadata[],
  name: string | undefined,
  kind: 'input' | 'output',
  where: string,
  model: string,
): TensorMetadata {
  if (name === undefined) return tensors[0];
  const found = tensors.find((tensor) => tensor.name === name);
  if (found === undefined)
    throw new InputError(
      `${where}: model '${model}' has no ${kind} '${name}'; its ${kind}s are ${tensors.map((tensor) => `'${tensor.name}'`).join(', ')}`,
    );
  return found;
}

/** One image sample in the model's layout: [c, h, w] for 'nchw', else [h, w, c]. */
export function inputSampleDims(sampleShape: readonly [number, number, number], layout: 'nhwc' | 'nchw'): number[] {
  const [height, width, channels] = sampleShape;
  return layout === 'nchw' ? [channels, height, width] : [height, width, channels];
}

/** Checks the input takes one of `datatypes` [batch, ...sampleDims]; the batch size when the model fixes it. */
export function checkInput(
  input: TensorMetadata,
  sampleDims: number[],
  context: string,
  datatypes: readonly string[] = ['FP32'],
): number | undefined {
  if (!datatypes.includes(input.datatype))
    throw new InputError(`${context}: input '${input.name}' takes ${input.datatype}, expected ${datatypes.join(' or ')}`);
  const [batch, ...dims] = input.shape;
  const fits = input.shape.length === sampleDims.length + 1 && dims.every((size, i) => size === -1 || size === sampleDims[i]);
  if (!fits) {
    throw new InputError(
      `${context}: input '${input.name}' has shape [${input.shape.join(', ')}], the dataset's samples after layout are [batch, ${sampleDims.join(', ')}] (check the dataset's samples and preprocessing.inputLayout)`,
    );
  }
  return batch > 0 ? batch : undefined;
}

export interface ResponseTensor {
  shape: number[];
  values: Float32Array;
}

/** The named output of an infer response, or what is wrong with it. */
export function readOutput(
  outputs: unknown[],
  name: string,
  rows: number,
  check: (output: ResponseTensor) => string | undefined,
): ResponseTensor | string {
  const output = outputs.find((candidate) => (candidate as { name?: unknown })?.name === name) as
    | { datatype?: unknown; shape?: unknown; data?: unknown }
    | undefined;
  if (output === undefined) return 'is missing from the response';
  if (output.datatype !== 'FP32') return `has datatype ${JSON.stringify(output.datatype)}, expected "FP32"`;
  const shape = output.shape;
  if (!Array.isArray(shape) || !shape.every((size) => Number.isInteger(size) && size >= 0))
    return `has shape ${JSON.stringify(shape)}, expected a list of sizes`;
  if (shape[0] !== rows) return `has shape [${shape.join(', ')}], expected ${rows} rows, one per sample sent`;
  // The protocol allows the data nested by dimension as well as flat; both are row-major.
  const data = Array.isArray(output.data) ? output.data.flat(Infinity) : undefined;
  const size = shape.reduce((product: number, dim: number) => product * dim, 1);
  if (data === undefined || data.length !== size)
    return `has ${data?.length ?? 'no'} data values for shape [${shape.join(', ')}] (${size})`;
  if (!data.every((value) => typeof value === 'number')) return 'has data values that are not numbers';
  // Each double rounds to the float32 it was printed from (see remote.ts).
  const tensor = { shape, values: Float32Array.from(data as number[]) };
  return check(tensor) ?? tensor;
}
