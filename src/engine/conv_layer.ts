/**
 * The hook that spares tfjs-layers' Conv2D the gradient of its input where nothing needs it: the
 * model's input batch in a training step.
 *
 * tfjs-layers' Conv2D calls tfjs-core's fused conv2d, whose custom gradient computes the input's
 * gradient (Conv2DBackpropInput) with the filter's, whether or not anything uses it. For a model's
 * first layer nothing does: the step differentiates with respect to the weights, and the batch
 * comes from data. kdkit's training step names its input tensors (`withConstantInputs`); a Conv2D
 * call on one of them, while the hook is on, runs the same FusedConv2D kernel under a custom
 * gradient of the filter and bias alone. The ResNet-style KD step's stem (128×28×28×1 → 16) spends
 * 3.5 ms of its ~240 on that unused gradient (bench/zoo-profile.md).
 *
 * Every other call is tfjs-layers' own: other tensors, layers with a dilation, channels-first data,
 * activations other than linear and relu, and any call outside `withConstantInputs` (a user taking
 * the gradient with respect to the input, as saliency maps do, gets it).
 */
import {
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  customGrad,
  engine,
  FusedConv2D,
  type FusedConv2DAttrs,
  getBackend,
  getKernel,
  type GradSaveFunc,
  mul,
  type NamedTensorMap,
  step,
  sum,
  type Tensor,
  type Tensor4D,
  tidy,
} from '@tensorflow/tfjs-core';
import type { LayerVariable } from '@tensorflow/tfjs-layers';
import { registeredLayerPrototype } from './layer_class.js';

/** The parts of tfjs-layers' Conv2D (layers/convolutional.js) that the hook uses. */
interface Conv2DLayer {
  rank: number;
  kernel: LayerVariable;
  bias: LayerVariable | null;
  strides: number[];
  padding: string;
  dataFormat: string;
  dilationRate: number | number[];
  activation: { getClassName(): string };
  call(inputs: Tensor | Tensor[], kwargs: Record<string, unknown>): Tensor | Tensor[];
}

let installed = false;
let enabled = true;
/** Ids of the tensors whose gradient no one takes, while a `withConstantInputs` body runs. */
const constants = new Set<number>();

/**
 * Runs `body` with `inputs` known to need no gradient: `body` differentiates with respect to
 * variables only (tf.variableGrads), as a training step does.
 */
export function withConstantInputs<T>(inputs: readonly Tensor[], body: () => T): T {
  const added = inputs.filter((input) => !constants.has(input.id));
  for (const input of added) constants.add(input.id);
  try {
    return body();
  } finally {
    for (const input of added) constants.delete(input.id);
  }
}

/** The input of a call the hook computes, or undefined for tfjs-layers' own path. */
function constantInput(layer: Conv2DLayer, inputs: Tensor | Tensor[]): Tensor4D | undefined {
  if (!enabled || constants.size === 0) return undefined;
  const input = Array.isArray(inputs) ? (inputs.length === 1 ? inputs[0] : undefined) : inputs;
  if (input === undefined || !constants.has(input.id) || input.rank !== 4 || input.dtype !== 'float32') return undefined;
  const dilations = Array.isArray(layer.dilationRate) ? layer.dilationRate : [layer.dilationRate];
  if (layer.rank !== 2 || layer.dataFormat !== 'channelsLast' || dilations.some((rate) => rate !== 1)) return undefined;
  if (!['linear', 'relu'].includes(layer.activation.getClassName())) return undefined;
  return getKernel(FusedConv2D, getBackend()) === undefined ? undefined : (input as Tensor4D);
}

/** The layer's convolution of `x`, differentiable with respect to its filter and bias only. */
function convolveConstant(layer: Conv2DLayer, x: Tensor4D): Tensor {
  const activation = layer.activation.getClassName() as 'linear' | 'relu';
  const pad = layer.padding === 'same' ? 'same' : 'valid';
  const strides = layer.strides as [number, number];
  const attrs: Omit<FusedConv2DAttrs, 'dimRoundingMode'> = { strides, pad, dataFormat: 'NHWC', dilations: [1, 1], activation };
  const filter = layer.kernel.read() as Tensor4D;
  const bias = layer.bias?.read();
  const gradient = (dy: Tensor, saved: Tensor[]): Tensor[] => {
    const [input, y] = saved;
    const dyActivated = activation === 'relu' ? mul(dy, step(y)) : dy;
    const filterAttrs: Omit<Conv2DBackpropFilterAttrs, 'dimRoundingMode'> = { strides, pad, dataFormat: 'NHWC', filterShape: filter.shape };
    const dFilter = engine().runKernel(
      Conv2DBackpropFilter,
      { x: input, dy: dyActivated } as unknown as NamedTensorMap,
      filterAttrs as never,
    );
    return bias === undefined ? [dFilter as Tensor] : [dFilter as Tensor, sum(dyActivated, [0, 1, 2])];
  };
  // customGrad's function takes the tensors it differentiates, then the function that saves.
  const differentiable = bias === undefined ? [filter] : [filter, bias];
  return customGrad((...args: (Tensor | GradSaveFunc)[]) => {
    const save = args[args.length - 1] as GradSaveFunc;
    const [f, b] = args as Tensor[];
    const inputs: NamedTensorMap = bias === undefined ? { x, filter: f } : { x, filter: f, bias: b };
    const y = engine().runKernel(FusedConv2D, inputs, attrs as never) as Tensor;
    // The input too: the gradient reads it after the step's forward pass has returned.
    save([x, y]);
    return { value: y, gradFunc: gradient };
  })(...differentiable);
}

/** Has tfjs-layers' Conv2D spare the gradient of constant inputs (see the header), once. */
export function spareConvInputGradients(): void {
  if (installed) return;
  const prototype = registeredLayerPrototype<Conv2DLayer>('Conv2D');
  const stockCall = prototype.call;
  installed = true;
  prototype.call = function (this: Conv2DLayer, inputs, kwargs) {
    const input = constantInput(this, inputs);
    if (input === undefined) return stockCall.call(this, inputs, kwargs);
    return tidy(() => convolveConstant(this, input));
  };
}

/** Switches the hook off (and on again), so that tests and benchmarks reach tfjs-layers' own path. */
export function setConvInputSparingEnabled(on: boolean): void {
  enabled = on;
}
