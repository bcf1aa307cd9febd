/**
 * The weightsManifest of a TensorFlow.js model.json, checked before TensorFlow.js sees it: every
 * group lists string paths and well-formed weight specs, and the specs account for exactly the
 * bytes of the weight files. TensorFlow.js itself assumes all of this and fails with TypeErrors
 * or slices past the data when a hand-edited or damaged model.json says otherwise.
 */
import type * as tf from '../engine/tf.js';
import { InputError } from '../errors.js';

const DTYPE_BYTES: Readonly<Record<string, number>> = { float32: 4, int32: 4, bool: 1 };
const QUANTIZED_BYTES: Readonly<Record<string, number>> = { uint8: 1, uint16: 2, float16: 2 };

export interface WeightGroup {
  paths: string[];
  weights: tf.io.WeightsManifestEntry[];
}

/** The manifest's groups, when well-formed; an InputError naming `source` and the field otherwise. */
export function checkWeightsManifest(manifest: unknown, source: string): WeightGroup[] {
  if (!Array.isArray(manifest)) throw new InputError(`${source}: weightsManifest must be an array of groups`);
  return manifest.map((group: unknown, index) => {
    const field = `weightsManifest[${index}]`;
    if (typeof group !== 'object' || group === null)
      throw new InputError(`${source}: ${field} must be an object with 'paths' and 'weights'`);
    const { paths, weights } = group as Record<string, unknown>;
    if (!Array.isArray(paths) || !paths.every((path) => typeof path === 'string' && path.length > 0)) {
      throw new InputError(`${source}: ${field}.paths must be an array of file names`);
    }
    if (!Array.isArray(weights)) throw new InputError(`${source}: ${field}.weights must be an array of weight specs`);
    weights.forEach((spec, specIndex) => {
      specBytes(spec, `${source}: ${field}.weights[${specIndex}]`);
    });
    return { paths, weights: weights as tf.io.WeightsManifestEntry[] };
  });
}

/** Bytes one weight spec takes in the weight files; an InputError prefixed by `where` when malformed. */
function specBytes(spec: unknown, where: string): number {
  if (typeof spec !== 'object' || spec === null) throw new InputError(`${where} must be an object with 'name', 'shape' and 'dtype'`);
  const { name, shape, dtype, quantization } = spec as Record<string, unknown>;
  if (typeof name !== 'string') throw new InputError(`${where}.name must be a string`);
  if (!Array.isArray(shape) || !shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0)) {
    throw new InputError(`${where}.shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (typeof dtype !== 'string' || DTYPE_BYTES[dtype] === undefined) {
    throw new InputError(`${where}.dtype must be one of ${Object.keys(DTYPE_BYTES).join(', ')}, got ${JSON.stringify(dtype)}`);
  }
  let bytesPerValue = DTYPE_BYTES[dtype];
  if (quantization !== undefined) {
    const stored = (quantization as { dtype?: unknown } | null)?.dtype;
    if (typeof stored !== 'string' || QUANTIZED_BYTES[stored] === undefined) {
      throw new InputError(`${where}.quantization.dtype must be one of ${Object.keys(QUANTIZED_BYTES).join(', ')}`);
    }
    bytesPerValue = QUANTIZED_BYTES[stored];
  }
  const bytes = (shape as number[]).reduce((product, dim) => product * dim, bytesPerValue);
  if (!Number.isSafeInteger(bytes)) throw new InputError(`${where}.shape [${shape.join(', ')}] is too large`);
  return bytes;
}

/** Checks that the specs describe exactly `fileBytes` bytes, the weight files' total. */
export function checkWeightBytes(groups: readonly WeightGroup[], fileBytes: number, source: string): void {
  const claimed = groups.reduce(
    (total, group, index) =>
      total +
      group.weights.reduce(
        (sum, spec, specIndex) => sum + specBytes(spec, `${source}: weightsManifest[${index}].weights[${specIndex}]`),
        0,
      ),
    0,
  );
  if (claimed !== fileBytes) {
    throw new InputError(
      `${source}: the weight specs describe ${claimed} bytes, but the weight files hold ${fileBytes}; the model.json and its weights do not belong together`,
    );
  }
}
