/**
 * Dropout through kdkit's one-pass kernel (./kernels/dropout.ts): a hook that has tfjs-layers'
 * Dropout layer call ./dropout_op.ts's `dropout` while training (its `call` is
 * wrapped once, at initEngine). A layer with a noise shape or a fixed seed, a non-float input, or
 * a backend without the kernel takes tfjs-layers' own call. Class and config stay as they are:
 * saved models load in stock TensorFlow.js.
 */
import type { Tensor } from '@tensorflow/tfjs-core';
import { dropout } from './dropout_op.js';
import { registeredLayerPrototype } from './layer_class.js';

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
