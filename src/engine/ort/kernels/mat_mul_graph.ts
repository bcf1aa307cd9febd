/**
 * Plans the ONNX graph for a (fused) matrix product: Gemm when both operands are single matrices
 * (transA/transB and the bias C are Gemm's own), otherwise Transpose + MatMul + Add, which ONNX
 * Runtime fuses into one MatMul with transposed operands. An activation becomes one more node, which
 * ONNX Runtime fuses into the Gemm on the CPU.
 */
import type { GraphSpec, NodeSpec, ValueSpec } from '../onnx_model.js';
import type { KeyedGraph } from '../session_cache.js';
import { activationNodes, broadcastsInto, withoutLeadingOnes, type OrtActivation } from './activation.js';

export { isOrtActivation, type OrtActivation } from './activation.js';

export interface MatMulSpec {
  aShape: readonly number[];
  bShape: readonly number[];
  transposeA: boolean;
  transposeB: boolean;
  biasShape?: readonly number[];
  activation: OrtActivation;
  /** LeakyRelu's slope for negative inputs. */
  leakyreluAlpha?: number;
  /** PReLU's slopes (input `preluWeights`), which must broadcast into the product. */
  preluShape?: readonly number[];
}

export interface MatMulPlan {
  /** Inputs `a`, `b` and, with a bias, `bias`; output `y`. */
  graph: GraphSpec;
  /** The product's shape as TensorFlow.js reports it (the graph's output may drop batch dims of 1). */
  outputShape: number[];
}

/** Broadcasts two batch shapes NumPy-style, or undefined if they do not broadcast. */
function broadcastShapes(first: readonly number[], second: readonly number[]): number[] | undefined {
  const rank = Math.max(first.length, second.length);
  const shape: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = first[first.length - rank + i] ?? 1;
    const y = second[second.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return undefined;
    shape.push(x === 1 ? y : x);
  }
  return shape;
}

function product(shape: readonly number[]): number {
  return shape.reduce((total, size) => total * size, 1);
}

/** Appends the activation (if any), with PReLU's slopes as an input, and names the last value `y`. */
function finish(spec: MatMulSpec, nodes: NodeSpec[], inputs: ValueSpec[], outputShape: number[]): GraphSpec | undefined {
  const activation = activationNodes(spec.activation, 'preActivation', 'y', spec.leakyreluAlpha);
  if (activation.length === 0) return { inputs, outputs: [{ name: 'y', shape: outputShape }], nodes };
  const slopes: ValueSpec[] = [];
  if (spec.activation === 'prelu') {
    const shape = withoutLeadingOnes(spec.preluShape ?? []);
    if (spec.preluShape === undefined || !broadcastsInto(shape, outputShape)) return undefined;
    slopes.push({ name: 'preluWeights', shape: shape.length === 0 ? [1] : shape });
  }
  const renamed = { ...nodes[nodes.length - 1], outputs: ['preActivation'] };
  return {
    inputs: [...inputs, ...slopes],
    outputs: [{ name: 'y', shape: outputShape }],
    nodes: [...nodes.slice(0, -1), renamed, ...activation],
  };
}

/** The plan for `graph`, or undefined when the activation could not be expressed. */
function planOf(graph: GraphSpec | undefined, outputShape: number[]): MatMulPlan | undefined {
  return graph === undefined ? undefined : { graph, outputShape };
}

/**
 * The graph computing act(op(A)·op(B) + bias), or undefined when it is not worth a session or
 * not expressible: an empty operand, batch shapes that do not broadcast, or a bias that would
 * enlarge the product.
 */
export function planMatMul(spec: MatMulSpec): MatMulPlan | undefined {
  const { aShape, bShape, transposeA, transposeB, biasShape } = spec;
  if (aShape.length < 2 || bShape.length < 2) return undefined;
  if (product(aShape) === 0 || product(bShape) === 0) return undefined;
  const rows = transposeA ? aShape[aShape.length - 1] : aShape[aShape.length - 2];
  const inner = transposeA ? aShape[aShape.length - 2] : aShape[aShape.length - 1];
  const innerB = transposeB ? bShape[bShape.length - 1] : bShape[bShape.length - 2];
  const columns = transposeB ? bShape[bShape.length - 2] : bShape[bShape.length - 1];
  if (inner !== innerB) return undefined;
  const batchA = aShape.slice(0, -2);
  const batchB = bShape.slice(0, -2);
  const batchShape = broadcastShapes(batchA, batchB);
  if (batchShape === undefined) return undefined;
  const outputShape = [...batchShape, rows, columns];
  if (biasShape !== undefined && !broadcastsInto(biasShape, outputShape)) return undefined;

  const biasInputs = (shape: readonly number[]): ValueSpec[] => (biasShape === undefined ? [] : [{ name: 'bias', shape }]);

  if (product(batchShape) === 1) {
    const bias = biasShape === undefined ? undefined : withoutLeadingOnes(biasShape);
    if (bias === undefined || bias.length <= 2) {
      // Gemm wants a bias of rank 1 or 2 that broadcasts to [rows, columns].
      const gemmBias = bias === undefined ? [] : bias.length === 0 ? [1] : bias;
      const inputs: ValueSpec[] = [{ name: 'a', shape: aShape.slice(-2) }, { name: 'b', shape: bShape.slice(-2) }, ...biasInputs(gemmBias)];
      const gemm: NodeSpec = {
        opType: 'Gemm',
        inputs: biasShape === undefined ? ['a', 'b'] : ['a', 'b', 'bias'],
        outputs: ['y'],
        attributes: { transA: { int: transposeA ? 1 : 0 }, transB: { int: transposeB ? 1 : 0 } },
      };
      return planOf(finish(spec, [gemm], inputs, [rows, columns]), outputShape);
    }
  }

  const nodes: NodeSpec[] = [];
  const transposed = (name: string, rank: number): string => {
    const perm = Array.from({ length: rank }, (_, axis) => axis);
    [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1], perm[rank - 2]];
    nodes.push({ opType: 'Transpose', inputs: [name], outputs: [`${name}T`], attributes: { perm: { ints: perm } } });
    return `${name}T`;
  };
  const left = transposeA ? transposed('a', aShape.length) : 'a';
  const right = transposeB ? transposed('b', bShape.length) : 'b';
  nodes.push({ opType: 'MatMul', inputs: [left, right], outputs: ['y'] });
  if (biasShape !== undefined) {
    nodes[nodes.length - 1] = { ...nodes[nodes.length - 1], outputs: ['product'] };
    nodes.push({ opType: 'Add', inputs: ['product', 'bias'], outputs: ['y'] });
  }
  const inputs: ValueSpec[] = [{ name: 'a', shape: aShape }, { name: 'b', shape: bShape }, ...biasInputs(biasShape ?? [])];
  return planOf(finish(spec, nodes, inputs, outputShape), outputShape);
}

/** A plan whose graph carries a short cache key, so that a session lookup never serializes it. */
export interface KeyedMatMulPlan {
  graph: KeyedGraph;
  outputShape: number[];
}

const plans = new Map<string, KeyedMatMulPlan | null>();
/** Distinct products remembered; past it the memo starts over (a run uses a few dozen). */
const planCapacity = 512;

/**
 * planMatMul, memoized by the spec: a training step asks for the same few products every time,
 * and building the graph and serializing it as a session key cost ~10 µs a call.
 */
export function cachedMatMulPlan(spec: MatMulSpec): KeyedMatMulPlan | undefined {
  const key = [
    'matMul',
    spec.aShape.join(','),
    spec.bShape.join(','),
    `${Number(spec.transposeA)}${Number(spec.transposeB)}`,
    spec.biasShape?.join(',') ?? '-',
    spec.activation,
    spec.leakyreluAlpha ?? '-',
    spec.preluShape?.join(',') ?? '-',
  ].join(' ');
  let plan = plans.get(key);
  if (plan === undefined) {
    const built = planMatMul(spec);
    plan =
      built === undefined
        ? null
        : {
            outputShape: built.outputShape,
            graph: { key, inputs: built.graph.inputs, outputs: built.graph.outputs, nodes: () => built.graph.nodes },
          };
    if (plans.size >= planCapacity) plans.clear();
    plans.set(key, plan);
  }
  return plan ?? undefined;
}
