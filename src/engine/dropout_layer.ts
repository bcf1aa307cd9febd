/**
 * Dropout through kdkit's one-pass kernel (./kernels/dropout.ts): `dropout(x, rate)` for kdkit's
 * own layers, and a hook that has tfjs-layers' Dropout layer call it while training (its `call` is
 * wrapped once, at initEngine). A layer with a noise shape or a fixed seed, a non-float input, or
 * a backend without the kernel takes tfjs-layers' own call. Class and config stay as they are:
 * saved models load in stock TensorFlow.js.
 */
import { dropout as stockDropout, engine, getBackend, getKernel, type Tensor, tidy } from '@tensorflow/tfjs-core';
import { Dropout } from './kernels/dropout.js';
import { registeredLayerPrototype } from './layer_class.js';

/** x with each element zeroed with probability `rate` and the rest scaled by 1 / (1 − rate); the seed comes from Math.random. */
export function dropout(x: Tensor, rate: number): Tensor {
  if (x.dtype !== 'float32' || getKernel(Dropout, getBackend()) === undefined) return stockDropout(x, rate);
  const seed = Math.floor(Math.random() * 2 ** 32);
  return tidy(() => (engine().runKernel(Dropout, { x }, { rate, seed }) as Tensor[])[0]);
}

/** The parts of tfjs-layers' Dropout (layers/core.js) the hook uses. */
interface DropoutLayer {
  rate: number;
  noiseShape?: number[] | null;
  seed?: number | null;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}

let installed = false;

export function fuseDropoutLayers(): void {
  if (installed) return;
  installed = true;
  const prototype = registeredLayerPrototype<DropoutLayer>('Dropout');
  const stockCall = prototype.call;
  prototype.call = function (this: DropoutLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    if (
      input === undefined ||
      kwargs.training !== true ||
      !(this.rate > 0 && this.rate < 1) ||
      this.noiseShape != null ||
      this.seed != null
    ) {
      return stockCall.call(this, inputs, kwargs);
    }
    return dropout(input, this.rate);
  };
}
