/**
 * The student in TensorFlow.js's layers format with its weights stored as float32, float16 or
 * uint8. The manifest's `quantization` field ({dtype, scale, min}) is the one tfjs-converter
 * writes and stock `tf.loadLayersModel` dequantizes on load, so the browser needs nothing extra.
 *
 * uint8 follows tfjs-converter's affine scheme (python/tensorflowjs/quantization.py): per weight
 * tensor, the range [min, max] is widened to include 0 and nudged so that 0 is exactly
 * representable; then q = round((clip(w) − min) / scale) and w ≈ q·scale + min.
 */
import { Float16Array } from '@petamoriken/float16';
import * as tf from '../engine/tf.js';
import { layersModelJson, modelArtifacts, writeModelDir, type SavedModel } from './io.js';

/** How a copy's float32 weights are stored. */
export type Quantization = 'float32' | 'float16' | 'uint8';

export const quantizations: readonly Quantization[] = ['float32', 'float16', 'uint8'];

/** model.json and weights of `model` with its float32 weights stored as `quantization`. */
export async function serializeQuantized(
  model: tf.LayersModel,
  quantization: Quantization,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  const artifacts = await modelArtifacts(model);
  const buffer = tf.io.CompositeArrayBuffer.join(artifacts.weightData);
  const specs: tf.io.WeightsManifestEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0;
  for (const spec of artifacts.weightSpecs) {
    const size = spec.shape.reduce((product, dim) => product * dim, 1);
    const bytes = new Uint8Array(buffer, offset, size * 4);
    offset += size * 4;
    if (quantization === 'float32' || spec.dtype !== 'float32') {
      specs.push(spec);
      parts.push(bytes);
      continue;
    }
    const values = new Float32Array(buffer, bytes.byteOffset, size);
    if (quantization === 'float16') {
      specs.push({ ...spec, quantization: { dtype: 'float16' } });
      parts.push(new Uint8Array(new Float16Array(values).buffer));
    } else {
      const { scale, min, quantized } = quantizeUint8(values);
      specs.push({ ...spec, quantization: { dtype: 'uint8', scale, min } });
      parts.push(quantized);
    }
  }
  const weights = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let position = 0;
  for (const part of parts) {
    weights.set(part, position);
    position += part.byteLength;
  }
  return { modelJson: layersModelJson(artifacts, specs), weights };
}

export async function saveQuantizedModelDir(model: tf.LayersModel, directory: string, quantization: Quantization): Promise<SavedModel> {
  return writeModelDir(directory, await serializeQuantized(model, quantization));
}

/** Bytes of model.json plus weights for each weight storage. */
export async function quantizedSizes(model: tf.LayersModel): Promise<Record<Quantization, number>> {
  const sizes = {} as Record<Quantization, number>;
  for (const quantization of quantizations) {
    const { modelJson, weights } = await serializeQuantized(model, quantization);
    sizes[quantization] = Buffer.byteLength(modelJson) + weights.byteLength;
  }
  return sizes;
}

/** tfjs-converter's affine uint8 quantization of one tensor. */
export function quantizeUint8(values: Float32Array): { scale: number; min: number; quantized: Uint8Array } {
  let low = 0;
  let high = 0;
  for (const value of values) {
    if (value < low) low = value;
    if (value > high) high = value;
  }
  const scale = high === low ? 1 : (high - low) / 255;
  const zeroPoint = Math.round(-low / scale);
  const min = -zeroPoint * scale;
  const max = 255 * scale + min;
  const quantized = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) quantized[i] = Math.round((Math.min(max, Math.max(min, values[i])) - min) / scale);
  return { scale, min, quantized };
}
