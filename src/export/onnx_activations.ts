/**
 * Keras activations (by their TensorFlow.js serialized names) as ONNX ops, with the constants
 * TensorFlow.js uses (tfjs-layers/src/activations.ts), so exported models compute the same function.
 */
import { axisIn, type GraphValue, type OnnxGraphBuilder, type ValueLayout } from './onnx_graph.js';

/** Builds the op(s) for one activation on `input` (in `layout`, of rank `rank`); returns the output name. */
type ActivationOps = (graph: OnnxGraphBuilder, input: string, hint: string, layout: ValueLayout, rank: number) => string;

const scalar = (graph: OnnxGraphBuilder, hint: string, value: number) => graph.constant(hint, Float32Array.of(value), []);

/** min(max(x, low), high), with Clip-13's bounds as inputs. */
export function clip(graph: OnnxGraphBuilder, input: string, hint: string, low: number, high: number): string {
  return graph.node('Clip', [input, scalar(graph, `${hint}_min`, low), scalar(graph, `${hint}_max`, high)], hint);
}

const unary =
  (opType: string, attributes?: Parameters<OnnxGraphBuilder['node']>[3]): ActivationOps =>
  (graph, input, hint) =>
    graph.node(opType, [input], hint, attributes);

const activationOps: Readonly<Record<string, ActivationOps>> = {
  relu: unary('Relu'),
  relu6: (graph, input, hint) => clip(graph, input, hint, 0, 6),
  elu: unary('Elu', { alpha: { float: 1 } }),
  // tf.selu's constants: scale·alpha = 1.7580993408473768, scale = 1.0507009873554805.
  selu: unary('Selu', { alpha: { float: 1.7580993408473768 / 1.0507009873554805 }, gamma: { float: 1.0507009873554805 } }),
  sigmoid: unary('Sigmoid'),
  hardSigmoid: unary('HardSigmoid', { alpha: { float: 0.2 }, beta: { float: 0.5 } }),
  softplus: unary('Softplus'),
  softsign: unary('Softsign'),
  tanh: unary('Tanh'),
  softmax: (graph, input, hint, layout, rank) => graph.node('Softmax', [input], hint, { axis: { int: axisIn(layout, -1, rank) } }),
  logSoftmax: (graph, input, hint, layout, rank) => graph.node('LogSoftmax', [input], hint, { axis: { int: axisIn(layout, -1, rank) } }),
  swish: (graph, input, hint) => graph.node('Mul', [input, graph.node('Sigmoid', [input], `${hint}_sigmoid`)], hint),
  mish: (graph, input, hint) => {
    const softplus = graph.node('Softplus', [input], `${hint}_softplus`);
    return graph.node('Mul', [input, graph.node('Tanh', [softplus], `${hint}_tanh`)], hint);
  },
  // x · Φ(x) with Φ(x) = (1 + erf(x / √2)) / 2.
  gelu: (graph, input, hint) => {
    const erf = graph.node(
      'Erf',
      [graph.node('Div', [input, scalar(graph, `${hint}_sqrt2`, Math.SQRT2)], `${hint}_scaled`)],
      `${hint}_erf`,
    );
    const cdf = graph.node(
      'Mul',
      [graph.node('Add', [erf, scalar(graph, `${hint}_one`, 1)], `${hint}_erf1`), scalar(graph, `${hint}_half`, 0.5)],
      `${hint}_cdf`,
    );
    return graph.node('Mul', [input, cdf], hint);
  },
};

/** Activation names kdkit can export, for error messages. */
export const supportedActivations: readonly string[] = ['linear', ...Object.keys(activationOps)];

/** Whether `name` is an activation exportOnnx supports. */
export function isSupportedActivation(name: string): boolean {
  return supportedActivations.includes(name);
}

/** `value` passed through the activation `name` (which must be supported); linear adds nothing. */
export function applyActivation(graph: OnnxGraphBuilder, value: GraphValue, name: string, hint: string): GraphValue {
  if (name === 'linear') return value;
  const ops = activationOps[name];
  if (ops === undefined) throw new Error(`unsupported activation '${name}'`);
  return graph.elementwise(value, (input, layout) => ops(graph, input, hint, layout, value.rank));
}
