/**
 * The hook that has tfjs-layers' LayerNormalization run kdkit's fused layer norm
 * (./kernels/layer_norm.ts) when it normalizes over the last axis of a float32 input: its `call`
 * is wrapped once (initEngine). Other axes, dtypes and backends without the kernels take
 * tfjs-layers' own call. Class, config and weights stay as they are: saved models load in stock
 * TensorFlow.js.
 */
import { engine, fill, getBackend, getKernel, type Tensor, tidy } from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { LayerNorm } from './kernels/layer_norm.js';
import { registeredLayerPrototype } from './layer_class.js';

/** The parts of tfjs-layers' LayerNormalization (layers/normalization.js) the hook uses. */
interface LayerNormalizationLayer {
  /** After build: the normalized axes, non-negative. */
  axis: number | number[];
  epsilon: number;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}

let installed = false;

export function fuseLayerNormLayers(): void {
  if (installed) return;
  installed = true;
  const prototype = registeredLayerPrototype<LayerNormalizationLayer>('LayerNormalization');
  const stockCall = prototype.call;
  prototype.call = function (this: LayerNormalizationLayer, inputs, kwargs) {
    const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
    const axes = Array.isArray(this.axis) ? this.axis : [this.axis];
    const lastAxis = input !== undefined && axes.length === 1 && (axes[0] === input.rank - 1 || axes[0] === -1);
    if (
      input === undefined ||
      !lastAxis ||
      input.dtype !== 'float32' ||
      input.size === 0 ||
      getKernel(LayerNorm, getBackend()) === undefined
    ) {
      return stockCall.call(this, inputs, kwargs);
    }
    return tidy(() => {
      const columns = input.shape[input.rank - 1];
      const gamma = this.gamma?.read() ?? fill([columns], 1);
      const beta = this.beta?.read() ?? fill([columns], 0);
      const [y] = engine().runKernel(LayerNorm, { x: input, gamma, beta }, { epsilon: this.epsilon }) as Tensor[];
      return y;
    });
  };
}
