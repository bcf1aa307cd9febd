/**
 * A model's architecture built again with fresh weights, each drawn from its own layer's
 * initializer (kernelInitializer, depthwiseInitializer, gammaInitializer, movingVarianceInitializer,
 * recurrentInitializer, …) as the layer's config names it. Batch-norm moving statistics go back to
 * their initializers too. Keras' clone_model does the same: `from_config(get_config())`.
 *
 * Deterministic: the k-th weight the build creates is drawn with a seed derived from the run's
 * seed and k, whatever seed the file's config gave it. Initializers that take no seed (a custom
 * one, or the forget-gate bias an LSTM composes) draw from Math.random, which is replaced during
 * each weight's creation by a generator seeded the same way; the caller's Math.random is untouched.
 */
import * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { Rng } from '../util/rng.js';

/** What `fromConfig` rebuilds: the model's class and config, without any weights. */
export interface Architecture {
  sequential: boolean;
  config: tf.serialization.ConfigDict;
}

export interface RebuildOptions {
  /** Seeds every weight: the same seed gives bit-identical weights. */
  seed: number;
  /** Name of the new model. */
  name: string;
  /** Names the model in errors, e.g. '<config>: student.load'. */
  source: string;
  /** Create every weight as zeros: the caller overwrites them (TensorFlow.js's fastWeightInit). */
  zeros?: boolean;
}

/** A plain copy of the config: TensorFlow.js's fromConfig writes into the config it is given (customObjects). */
const copyOf = (config: tf.serialization.ConfigDict): tf.serialization.ConfigDict =>
  JSON.parse(JSON.stringify(config)) as tf.serialization.ConfigDict;

export function architectureOf(model: tf.LayersModel): Architecture {
  return { sequential: model instanceof tf.Sequential, config: copyOf(model.getConfig()) };
}

/**
 * The seed of the `position`-th weight of a model built from the run's `seed`: distinct per
 * position and never 0 (tf.randomNormal takes a seed of 0 as none).
 */
export function weightSeed(seed: number, position: number): number {
  return (parseInt(sha256(`kdkit-weight:${seed}:${position}`).slice(0, 8), 16) % 2147483646) + 1;
}

type AddWeight = (
  this: tf.layers.Layer,
  name: string,
  shape: tf.Shape,
  dtype: unknown,
  initializer: unknown,
  ...rest: unknown[]
) => tf.LayerVariable;

/** A new model of `architecture`, every weight initialised afresh from `options.seed`. */
export function buildArchitecture(architecture: Architecture, options: RebuildOptions): tf.LayersModel {
  const config = { ...copyOf(architecture.config), name: options.name };
  const prototype = tf.layers.Layer.prototype as unknown as { addWeight: AddWeight };
  const addWeight = prototype.addWeight;
  const random = Math.random;
  const created: tf.LayerVariable[] = [];
  let generator = new Rng(weightSeed(options.seed, -1));
  let position = 0;
  Math.random = () => generator.next();
  prototype.addWeight = function seeded(this: tf.layers.Layer, name, shape, dtype, initializer, ...rest) {
    const layer = this.name;
    if (initializer === null || typeof initializer !== 'object' || typeof (initializer as { apply?: unknown }).apply !== 'function') {
      throw new InputError(
        `${options.source}: layer '${layer}' creates weight '${name}' without an initializer; it cannot be re-initialised`,
      );
    }
    const seed = weightSeed(options.seed, position++);
    generator = new Rng(seed);
    // Seeded initializers keep their seed in `seed`; it is the file's (often null), restored after.
    const seedable = initializer as { seed?: unknown };
    const fileSeed = seedable.seed;
    if ('seed' in seedable) seedable.seed = seed;
    try {
      const variable = addWeight.call(this, name, shape, dtype, initializer, ...rest);
      created.push(variable);
      return variable;
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(`${options.source}: layer '${layer}': cannot re-initialise weight '${name}' (${(error as Error).message})`);
    } finally {
      if ('seed' in seedable) seedable.seed = fileSeed;
    }
  };
  tf.engine().startScope();
  try {
    const cls = architecture.sequential ? tf.Sequential : tf.LayersModel;
    return cls.fromConfig(cls, config, {}, options.zeros ?? false) as tf.LayersModel;
  } catch (error) {
    for (const variable of created) variable.dispose();
    if (error instanceof InputError) throw error;
    throw new InputError(`${options.source}: cannot rebuild the model from its config (${(error as Error).message})`);
  } finally {
    prototype.addWeight = addWeight;
    Math.random = random;
    tf.engine().endScope();
  }
}

/** `model`'s architecture with fresh weights (a new model; `model` is left as it is). */
export function reinitializeModel(
  model: tf.LayersModel,
  options: Omit<RebuildOptions, 'zeros' | 'name'> & { name?: string },
): tf.LayersModel {
  const rebuilt = buildArchitecture(architectureOf(model), { ...options, name: options.name ?? model.name });
  try {
    checkSameWeights(model, rebuilt, options.source);
  } catch (error) {
    rebuilt.dispose();
    throw error;
  }
  return rebuilt;
}

/** The rebuilt model has the original's weights, by layer, name and shape; a layer that does not cannot have been re-initialised. */
function checkSameWeights(original: tf.LayersModel, rebuilt: tf.LayersModel, source: string): void {
  const describe = (layer: tf.layers.Layer) =>
    layer.weights.map((weight) => `${weight.originalName.split('/').pop()} [${weight.shape.join(', ')}]`).join(', ');
  original.layers.forEach((layer, index) => {
    const other = rebuilt.layers[index];
    if (other === undefined || other.name !== layer.name || describe(other) !== describe(layer)) {
      throw new InputError(
        `${source}: layer '${layer.name}' cannot be re-initialised: built again from its config it has weights (${other ? describe(other) : 'none'}), not (${describe(layer)})`,
      );
    }
  });
}
