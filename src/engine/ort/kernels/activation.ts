/**
 * TensorFlow.js's fused activations that have an exact ONNX equivalent, as one graph node that
 * ONNX Runtime fuses into the Gemm or MatMul before it.
 */
import type { NodeSpec } from '../onnx_model.js';

export type OrtActivation = 'linear' | 'relu' | 'elu' | 'sigmoid' | 'leakyrelu';

const ortActivations: readonly string[] = ['linear', 'relu', 'elu', 'sigmoid', 'leakyrelu'];

export function isOrtActivation(activation: string): activation is OrtActivation {
  return ortActivations.includes(activation);
}

/** The node applying `activation` to `input` as `output`; undefined for 'linear'. */
export function activationNode(
  activation: OrtActivation,
  input: string,
  output: string,
  leakyreluAlpha = 0.2,
): NodeSpec | undefined {
  const node = (opType: string, attributes?: NodeSpec['attributes']): NodeSpec => ({
    opType, inputs: [input], outputs: [output], attributes,
  });
  switch (activation) {
    case 'linear':
      return undefined;
    case 'relu':
      return node('Relu');
    case 'elu':
      return node('Elu', { alpha: { float: 1 } });
    case 'sigmoid':
      return node('Sigmoid');
    case 'leakyrelu':
      return node('LeakyRelu', { alpha: { float: leakyreluAlpha } });
  }
}
