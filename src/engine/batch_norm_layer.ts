/**
 * The hook that has tfjs-layers' BatchNormalization layer train with the fused batch norm
 * (./batch_norm.ts).
 *
 * tfjs-layers' BatchNormalization.call, in training, takes tf.moments then tf.batchNorm, whose
 * gradients make ~12 passes over the activations per layer. The hook wraps the class's `call`
 * once (initEngine): a training call that normalizes over every axis but the last (axis −1, the
 * default, on a 2-D to 4-D float32 input) runs the fused op instead, then moves the moving mean and
 * variance with tfjs-layers' own rule; every other call (inference, another axis) is tfjs-layers'
 * own. The class, its name, config and weights stay as they are, so saved models load in stock
 * TensorFlow.js and ONNX exports fold batch norm as before.
 */
import { getBackend, getKernel, mul, sub, type Tensor, tidy } from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { batchNormTraining } from './batch_norm.js';
import { BatchNormTraining } from './kernels/batch_norm.js';
import { registeredLayerPrototype } from './layer_class.js';

/** The parts of tfjs-layers' BatchNormalization (layers/normalization.js) that the hook uses. */
interface BatchNormalizationLayer {
  axis: number;
  momentum: number;
  epsilon: number;
  gamma?: LayerVariable;
  beta?: LayerVariable;
  movingMean: LayerVariable;
  movingVariance: LayerVariable;
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}

let installed = false;
let enabled = true;

/** The one input of a call with a fused training path, or undefined for the stock path. */
function fusedInput(layer: BatchNormalizationLayer, inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | undefined {
  if (!enabled || !kwargs?.training) return undefined;
  const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
  if (input === undefined || input.dtype !== 'float32' || input.rank < 2 || input.rank > 4 || input.size === 0) return undefined;
  const axis = layer.axis >= 0 ? layer.axis : layer.axis + input.rank;
  if (axis !== input.rank - 1) return undefined;
  return getKernel(BatchNormTraining, getBackend()) === undefined ? undefined : input;
}

/** tfjs-layers' moving average: variable ← variable − (variable − value) · (1 − momentum). */
function moveTowards(variable: LayerVariable, value: Tensor, momentum: number): void {
  tidy(() => {
    const current = variable.read();
    variable.write(sub(current, mul(sub(current, value), 1 - momentum)));
  });
}

/**
 * Has every tfjs-layers BatchNormalization layer train with the fused kernels (see the header),
 * once. tfjs-layers 4.22 reads gamma and beta unconditionally in training, so a layer with
 * `scale: false` or `center: false` throws there; the fused path trains it without them.
 */
export function fuseBatchNormLayers(): void {
  if (installed) return;
  const prototype = registeredLayerPrototype<BatchNormalizationLayer>('BatchNormalization');
  const stockCall = prototype.call;
  installed = true;
  prototype.call = function (this: BatchNormalizationLayer, inputs, kwargs) {
    const input = fusedInput(this, inputs, kwargs);
    if (input === undefined) return stockCall.call(this, inputs, kwargs);
    return tidy(() => {
      const { y, mean, variance } = batchNormTraining(input, this.gamma?.read() ?? null, this.beta?.read() ?? null, this.epsilon);
      moveTowards(this.movingMean, mean, this.momentum);
      moveTowards(this.movingVariance, variance, this.momentum);
      return y;
    });
  };
}

/** Switches the fused path off (and on again), so that tests and benchmarks reach tfjs-layers' own. */
export function setBatchNormFusionEnabled(on: boolean): void {
  enabled = on;
}
