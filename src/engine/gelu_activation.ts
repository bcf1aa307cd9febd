/**
 * tfjs-layers' 'gelu' activation (dense layers with `activation: 'gelu'`, the transformer's
 * feed-forward blocks) computed by kdkit's one-pass KdkitGelu kernel and its gradient
 * (kernels/gelu.ts) where the backend has them; float32 only, tfjs-layers' own otherwise. Its
 * `apply` is wrapped once, so saved models and the ONNX export still see the 'gelu' activation.
 */
import { engine, getBackend, getKernel, type Tensor, tidy } from '@tensorflow/tfjs-core';
import { Gelu } from './kernels/gelu.js';
import { registeredLayerPrototype } from './layer_class.js';

interface Activation {
  apply(x: Tensor): Tensor;
}

let wrapped = false;

export function fuseGeluActivation(): void {
  if (wrapped) return;
  wrapped = true;
  const prototype = registeredLayerPrototype<Activation>('gelu');
  const stock = prototype.apply;
  prototype.apply = function (this: Activation, x: Tensor): Tensor {
    if (x.dtype !== 'float32' || getKernel(Gelu, getBackend()) === undefined) return stock.call(this, x);
    return tidy(() => engine().runKernel(Gelu, { x }) as Tensor);
  };
}
