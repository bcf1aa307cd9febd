/**
 * `dropout(x, rate)`: kdkit's one-pass dropout kernel (./kernels/dropout.ts) where the backend has
 * it, tf.dropout elsewhere (a page's stock TensorFlow.js). This module imports tfjs-core only, so
 * that the text layers (models/text/layers.ts) load in a browser through `kdkit/layers`.
 */
import { dropout as stockDropout, engine, getBackend, getKernel, type Tensor, tidy } from '@tensorflow/tfjs-core';

export const Dropout = 'KdkitDropout';

/** x with each element zeroed with probability `rate` and the rest scaled by 1 / (1 − rate); the seed comes from Math.random. */
export function dropout(x: Tensor, rate: number): Tensor {
  if (x.dtype !== 'float32' || getKernel(Dropout, getBackend()) === undefined) return stockDropout(x, rate);
  const seed = Math.floor(Math.random() * 2 ** 32);
  return tidy(() => (engine().runKernel(Dropout, { x }, { rate, seed }) as Tensor[])[0]);
}
