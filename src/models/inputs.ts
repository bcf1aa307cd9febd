/**
 * How a sample's record of named fields meets a model's inputs, the one rule every runtime
 * follows (TensorFlow.js here; the ONNX and KServe teachers through pairInputs): a single field
 * and a single input pair whatever their names, as an image set and a one-input model always
 * did; otherwise each input takes the field of its name, as Hugging Face models name theirs
 * (`input_ids`, `attention_mask`). Fields no input takes are left alone.
 */
import * as tf from '../engine/tf.js';
import { fieldSize, type FieldArray, type InputField, type SampleBatch } from '../data/dataset.js';
import { InputError } from '../errors.js';

/** A model input as pairInputs matches it: its name, and other names it answers to. */
export interface NamedInput {
  readonly name: string;
  readonly aliases?: readonly string[];
}

/**
 * The field each input takes, in the inputs' order. `where` names the model in the InputError
 * for inputs no field matches, which names them and the fields there are.
 */
export function pairInputs(inputs: readonly NamedInput[], fields: readonly string[], where: string): string[] {
  if (inputs.length === 1 && fields.length === 1) return [fields[0]];
  const paired = inputs.map((input) => [input.name, ...(input.aliases ?? [])].find((name) => fields.includes(name)));
  const missing = inputs.filter((_, i) => paired[i] === undefined).map((input) => `'${input.name}'`);
  if (missing.length > 0) {
    const present = fields.length === 0 ? 'none' : fields.map((name) => `'${name}'`).join(', ');
    throw new InputError(
      `${where}: the data has no field for input${missing.length > 1 ? 's' : ''} ${missing.join(', ')}; its samples have ${present}`,
    );
  }
  return paired as string[];
}

/** A TensorFlow.js model's inputs as pairInputs sees them: the input layer's name, or its symbolic tensor's. */
export function modelInputNames(model: tf.LayersModel): NamedInput[] {
  // A Sequential model lists no inputLayers of its own; its input tensors know their layers.
  return model.inputs.map((input) => ({ name: input.sourceLayer?.name ?? input.name, aliases: [input.name] }));
}

/** `batch`'s tensors in the order of `model.inputs`, as execute() and apply() take them. */
export function modelInputs(
  model: tf.LayersModel,
  batch: Readonly<Record<string, tf.Tensor>>,
  where = `model '${model.name}'`,
): tf.Tensor[] {
  return pairInputs(modelInputNames(model), Object.keys(batch), where).map((name) => batch[name]);
}

/**
 * `count` samples of each field as a tensor [count, ...shape] of its dtype; the caller disposes
 * them. A field missing from `batch` or of the wrong length is an InputError prefixed by `where`.
 */
export function fieldTensors(inputs: readonly InputField[], batch: SampleBatch, count: number, where = 'batch'): Record<string, tf.Tensor> {
  for (const field of inputs) {
    const values: FieldArray | undefined = Object.hasOwn(batch, field.name) ? batch[field.name] : undefined;
    if (values === undefined || values.length !== count * fieldSize(field)) {
      throw new InputError(
        `${where}: field '${field.name}' needs ${count} samples of [${field.shape.join(', ')}] (${count * fieldSize(field)} values), got ${values?.length ?? 'none'}`,
      );
    }
  }
  return Object.fromEntries(inputs.map((field) => [field.name, tf.tensor(batch[field.name], [count, ...field.shape], field.dtype)]));
}

/**
 * `count` synthetic samples of each field as tensors, for timing and memory measurement: float
 * fields seeded uniform in [0, 1), integer fields 0 (a valid id or mask value whatever the
 * vocabulary). The caller disposes them.
 */
export function syntheticTensors(inputs: readonly InputField[], count: number): Record<string, tf.Tensor> {
  return Object.fromEntries(
    inputs.map((field) => {
      const shape = [count, ...field.shape];
      return [field.name, field.dtype === 'float32' ? tf.randomUniform(shape, 0, 1, 'float32', 7) : tf.zeros(shape, 'int32')];
    }),
  );
}

/**
 * Throws an InputError prefixed by `where` when an input of `model` has no field in `inputs` or
 * a shape the field's samples do not have (an open dimension, null, takes any size).
 */
export function checkModelInputs(model: tf.LayersModel, inputs: readonly InputField[], where: string): void {
  const names = pairInputs(
    modelInputNames(model),
    inputs.map((field) => field.name),
    where,
  );
  names.forEach((name, i) => {
    const field = inputs.find((each) => each.name === name)!;
    const dims = (model.inputs[i].shape ?? []).slice(1);
    if (dims.length !== field.shape.length || dims.some((dim, k) => dim !== null && dim !== field.shape[k])) {
      const input = model.inputLayers[i].name;
      throw new InputError(
        `${where}: the model expects input '${input}' of [${dims.map((dim) => dim ?? 'any').join(', ')}], the data's '${name}' samples are [${field.shape.join(', ')}]`,
      );
    }
  });
}

/**
 * The fields a model's inputs describe (named as its input layers), for a model used without its
 * dataset at hand; every dimension but the batch must be known.
 */
export function inputsOfModel(model: tf.LayersModel, where = `model '${model.name}'`): InputField[] {
  return model.inputs.map((input, i) => {
    const dims = (input.shape ?? []).slice(1);
    if (dims.some((dim) => dim === null)) {
      throw new InputError(
        `${where}: input '${model.inputLayers[i].name}' has an open dimension [${dims.map((dim) => dim ?? 'any').join(', ')}]; give the dataset's inputs`,
      );
    }
    return { name: model.inputLayers[i].name, dtype: input.dtype === 'int32' ? 'int32' : 'float32', shape: dims as number[] };
  });
}
