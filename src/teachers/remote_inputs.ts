/**
 * Which dataset field the remote teacher sends as each input the model's metadata lists
 * (models/inputs.ts pairInputs), with which datatype, and whether it fits: a field's shape after
 * the image layout, and a datatype it can travel as (FP32 for float32, INT32 or INT64 for int32).
 */
import { isImageField, type InputField } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { pairInputs } from '../models/inputs.js';
import { checkPreprocessing, type Preprocessing } from './preprocess.js';
import { checkInput, inputSampleDims, pick, type TensorMetadata } from './remote_protocol.js';

/** What sentInputs reads of the remote teacher's options. */
export interface SentOptions {
  model: string;
  inputName?: string;
  inputs: readonly InputField[];
  preprocessing: Preprocessing;
}

/** One input of the model and the field sent as it. */
export interface SentInput {
  readonly name: string;
  readonly datatype: string;
  readonly field: InputField;
  /** An image field: laid out and normalized by the preprocessing. */
  readonly image: boolean;
  /** One sample as the model takes it, after layout. */
  readonly sampleDims: number[];
  /** The batch size the model's metadata fixes for this input, if it does. */
  readonly fixedBatch: number | undefined;
}

/** Datatypes a field dtype may be sent as; an int32 field goes as the model's INT32 or INT64. */
const DATATYPES: Readonly<Record<InputField['dtype'], readonly string[]>> = { float32: ['FP32'], int32: ['INT32', 'INT64'] };

/** Which field is sent as each of the model's inputs, checked against the metadata. */
export function sentInputs(inputs: TensorMetadata[], options: SentOptions, where: string): SentInput[] {
  const context = `${where}: model '${options.model}'`;
  if (options.inputName !== undefined) {
    pick(inputs, options.inputName, 'input', where, options.model);
    if (inputs.length !== 1) {
      throw new InputError(
        `${context}: inputName names the input of a one-input model; this one takes ${inputs.map((tensor) => `'${tensor.name}'`).join(', ')}, each sent the dataset's field of its name: remove inputName`,
      );
    }
  }
  const fields = pairInputs(
    inputs.map((tensor) => ({ name: tensor.name })),
    options.inputs.map((field) => field.name),
    context,
  );
  const sent = inputs.map((tensor, i) => {
    const field = options.inputs.find((each) => each.name === fields[i])!;
    const image = isImageField(field);
    const sampleDims = image ? inputSampleDims(field.shape, options.preprocessing.inputLayout) : [...field.shape];
    const fixedBatch = checkInput(tensor, sampleDims, context, DATATYPES[field.dtype]);
    return { name: tensor.name, datatype: tensor.datatype, field, image, sampleDims, fixedBatch };
  });
  const batches = new Set(sent.map((input) => input.fixedBatch ?? -1));
  if (batches.size > 1)
    throw new InputError(
      `${context}: the inputs' batch sizes differ (${sent.map((input) => `'${input.name}' ${input.fixedBatch ?? 'any'}`).join(', ')})`,
    );
  checkPreprocessing(
    options.preprocessing,
    sent.map((input) => input.field),
    context,
  );
  return sent;
}
