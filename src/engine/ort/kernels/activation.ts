/**
 * TensorFlow.js's fused activations as ONNX nodes, which ONNX Runtime fuses into the Gemm or
 * MatMul before them where it can. PReLU reads its slopes from a graph input named
 * `preluWeights`, which the graph must declare.
 */
import type { NodeSpec } from '../onnx_model.js';

export type OrtActivation = 'linear' | 'relu' | 'elu' | 'sigmoid' | 'leakyrelu' | 'relu6' | 'prelu';

const ortActivations: readonly string[] = ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu', 'relu6', 'prelu'];

export function isOrtActivation(activation: string): activation is OrtActivation {
  return ortActivations.includes(activation);
}

/** The nodes applying `activation` to `input` as `output`; none for 'linear'. */
export function activationNodes(activation: OrtActivation, input: string, output: string, leakyreluAlpha = 0.2): NodeSpec[] {
  const node = (opType: string, attributes?: NodeSpec['attributes'], inputs = [input]): NodeSpec[] => [
    { opType, inputs, outputs: [output], attributes },
  ];
  switch (activation) {
    case 'linear':
      return [];
    case 'relu':
      return node('Relu');
    case 'elu':
      return node('Elu', { alpha: { float: 1 } });
    case 'sigmoid':
      return node('Sigmoid');
    case 'leakyrelu':
      return node('LeakyRelu', { alpha: { float: leakyreluAlpha } });
    case 'relu6':
      return [
        { opType: 'Constant', inputs: [], outputs: [`${output}Min`], attributes: { value_float: { float: 0 } } },
        { opType: 'Constant', inputs: [], outputs: [`${output}Max`], attributes: { value_float: { float: 6 } } },
        ...node('Clip', undefined, [input, `${output}Min`, `${output}Max`]),
      ];
    case 'prelu':
      return node('PRelu', undefined, [input, 'preluWeights']);
  }
}

/** `shape` without its leading dimensions of size 1. */
export function withoutLeadingOnes(shape: readonly number[]): number[] {
  const first = shape.findIndex((size) => size !== 1);
  return first === -1 ? [] : shape.slice(first);
}

/** Whether `shape` broadcasts into `target` without enlarging it. */
export function broadcastsInto(shape: readonly number[], target: readonly number[]): boolean {
  if (shape.length > target.length) return false;
  return shape.every((size, i) => size === 1 || size === target[target.length - shape.length + i]);
}
