/** Writing an exported ONNX graph to disk (Node); exportOnnx (./onnx.ts) gives the bytes anywhere. */
import type * as tf from '../engine/tf.js';
import { writeFileAtomic } from '../util/atomic.js';
import { exportOnnx, type OnnxExportOptions } from './onnx.js';

/** exportOnnx, then write atomically with writeFileAtomic. Returns the bytes written. */
export function writeOnnx(model: tf.LayersModel, path: string, options: OnnxExportOptions = {}): number {
  const bytes = exportOnnx(model, options);
  writeFileAtomic(path, bytes);
  return bytes.length;
}
