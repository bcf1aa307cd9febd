/**
 * Feature taps: named layers of a model read out next to its logits, for feature- and
 * relation-based terms, and the adapters that project a student's feature onto its teacher's.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import type { FeatureRequirement } from '../methods/index.js';

/** A model seen as a multi-output model, [logits, ...tapped layers]; `outputs[tap]` indexes them. */
export interface TappedModel {
  model: tf.LayersModel;
  outputs: Record<string, number>;
}

/** The tap name for the input of the logits layer: the last hidden representation. */
export const PENULTIMATE = 'penultimate';

function layerNames(model: tf.LayersModel): string {
  return [...model.layers.map((layer) => layer.name).filter((name) => name !== model.inputLayers[0]?.name), PENULTIMATE].join(', ');
}

/**
 * The symbolic output of layer `name` of `model` ('penultimate': the input of its last layer).
 * `field` names the config field in the error, which lists the names that exist.
 */
export function resolveTap(model: tf.LayersModel, name: string, field: string): tf.SymbolicTensor {
  if (name === PENULTIMATE) {
    const last = model.layers[model.layers.length - 1];
    const input = last.input;
    if (Array.isArray(input))
      throw new InputError(`${field}: '${PENULTIMATE}' needs a last layer with one input; '${last.name}' has ${input.length}`);
    return input;
  }
  const layer = model.layers.find((candidate) => candidate.name === name);
  if (layer === undefined)
    throw new InputError(`${field}: no layer '${name}' in model '${model.name}'; its layers are: ${layerNames(model)}`);
  const output = layer.output;
  if (Array.isArray(output)) throw new InputError(`${field}: layer '${name}' has ${output.length} outputs; a tap needs one`);
  return output;
}

/**
 * `model` with the tapped layers as extra outputs, [logits, ...distinct taps]; `outputs[name]` is
 * each tap's index among them (two names may tap the same tensor, e.g. 'penultimate' and the
 * last hidden layer). It shares every weight with `model`.
 */
export function tappedModel(model: tf.LayersModel, names: string[], field: (name: string) => string): TappedModel {
  const distinct: tf.SymbolicTensor[] = [model.outputs[0]];
  const outputs: Record<string, number> = {};
  for (const name of names) {
    const tensor = resolveTap(model, name, field(name));
    let index = distinct.indexOf(tensor);
    if (index < 0) index = distinct.push(tensor) - 1;
    outputs[name] = index;
  }
  return { model: tf.model({ inputs: model.inputs, outputs: distinct, name: `${model.name}_tapped` }), outputs };
}

/** A tap's shape without the batch dimension. */
export function tapShape(model: tf.LayersModel, name: string, field: string): number[] {
  return resolveTap(model, name, field)
    .shape.slice(1)
    .map((dim) => dim ?? -1);
}

const describe = (shape: number[]) => `[${shape.join(', ')}]`;

/**
 * The trainable projection a term needs from a student feature of `studentShape` to a teacher
 * feature of `teacherShape` (both without batch), or undefined when the shapes already do:
 * a dense layer for flat features and for token sequences [sequence, width] of the same length
 * (applied to each token), a 1×1 convolution for NHWC maps of the same height and width.
 * Throws an InputError naming `field` when no adapter can bridge them, or when `mode` is 'none'
 * and one would be needed.
 */
export function makeAdapter(
  studentShape: number[],
  teacherShape: number[],
  requirement: FeatureRequirement,
  mode: 'auto' | 'none',
  options: { seed: number; name: string; field: string },
): tf.LayersModel | undefined {
  const { field } = options;
  const shapes = `student ${describe(studentShape)}, teacher ${describe(teacherShape)}`;
  if (requirement === 'batch') return undefined;
  if (requirement === 'same-spatial') {
    if (studentShape.length !== 3 || teacherShape.length !== 3) {
      throw new InputError(`${field}: this method compares NHWC feature maps; the taps give ${shapes}`);
    }
    if (studentShape[0] !== teacherShape[0] || studentShape[1] !== teacherShape[1]) {
      throw new InputError(`${field}: the feature maps' heights and widths differ (${shapes}); tap layers of the same spatial size`);
    }
    return undefined;
  }
  if (tf.util.arraysEqual(studentShape, teacherShape)) return undefined;
  // A token sequence [sequence, width] is projected token by token, as TinyBERT's fit_dense does.
  const flat =
    (studentShape.length === 1 && teacherShape.length === 1) ||
    (studentShape.length === 2 && teacherShape.length === 2 && studentShape[0] === teacherShape[0]);
  const maps =
    studentShape.length === 3 && teacherShape.length === 3 && studentShape[0] === teacherShape[0] && studentShape[1] === teacherShape[1];
  if (!flat && !maps) {
    throw new InputError(
      `${field}: no adapter can map the student's feature onto the teacher's (${shapes}); ` +
        'an adapter projects flat features of any width, token sequences of the same length, or NHWC maps of the same height and width',
    );
  }
  if (mode === 'none') throw new InputError(`${field}: the features differ in shape (${shapes}) and adapter is 'none'; use adapter: auto`);
  const kernelInitializer = tf.initializers.glorotUniform({ seed: options.seed });
  const layer = flat
    ? tf.layers.dense({ units: teacherShape.at(-1)!, kernelInitializer, name: `${options.name}_dense` })
    : tf.layers.conv2d({ filters: teacherShape[2], kernelSize: 1, kernelInitializer, name: `${options.name}_conv1x1` });
  return tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: studentShape }), layer], name: options.name });
}
