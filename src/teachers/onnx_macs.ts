/**
 * Multiply-accumulates per sample of an ONNX model, counted as for kdkit's own models
 * (`multiplyAccumulates` in models/build.ts): the convolutions and matrix products, which are
 * nearly all of the work.
 *
 *   Conv           output elements · (input channels / group) · kernel elements
 *   ConvTranspose  input elements · (output channels / group) · kernel elements
 *   Gemm, MatMul   output elements · the shared dimension K
 *
 * ONNX stores no intermediate shapes, so the shapes come from one run at batch 1 of the model
 * with every counted node's inputs and output added to its outputs (engine/ort/onnx_model.ts
 * withExtraOutputs).
 */

/** The operators counted; other standard nodes are taken as free, as elementwise work nearly is. */
const COUNTED = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'];

/**
 * Heavy operators this count does not know: a model with any of them gets no count rather than
 * one that leaves them out (quantized and fused products, recurrent layers, Einsum, and every
 * operator of another domain, such as ONNX Runtime's fused and blocked convolutions).
 */
const UNCOUNTED = ['ConvInteger', 'MatMulInteger', 'QLinearConv', 'QLinearMatMul', 'Einsum', 'LSTM', 'GRU', 'RNN'];

interface Node {
  opType?: string;
  domain?: string;
  input?: string[];
  output?: string[];
  attribute?: { name?: string; i?: number }[];
}

interface Graph {
  node?: Node[];
  input?: { name?: string }[];
  output?: { name?: string }[];
  initializer?: { name?: string; dims?: number[] }[];
}

function counted(graph: Graph): Node[] {
  return (graph.node ?? []).filter((node) => COUNTED.includes(node.opType ?? '') && (node.domain ?? '') === '');
}

/** Whether the count can cover `model`: no node of an operator it does not know. */
export function countable(model: Record<string, unknown>): boolean {
  const graph = (model.graph ?? {}) as Graph;
  return (graph.node ?? []).every((node) => (node.domain ?? '') === '' && !UNCOUNTED.includes(node.opType ?? ''));
}

/** The values whose shapes the count needs: each counted node's two inputs and output, but for weights and the graph's own. */
export function probedValues(model: Record<string, unknown>): string[] {
  const graph = (model.graph ?? {}) as Graph;
  const weights = new Set((graph.initializer ?? []).map((initializer) => initializer.name));
  const inputs = new Set((graph.input ?? []).map((input) => input.name));
  const outputs = new Set((graph.output ?? []).map((output) => output.name));
  const names = new Set<string>();
  for (const node of counted(graph)) {
    for (const name of [node.input?.[0], node.input?.[1], node.output?.[0]]) {
      if (name && !weights.has(name) && !inputs.has(name) && !outputs.has(name)) names.add(name);
    }
  }
  return [...names];
}

const product = (dims: readonly number[]) => dims.reduce((total, dim) => total * dim, 1);

/**
 * Multiply-accumulates per sample from the shapes of one run at batch 1 (`shapes`: every value
 * probedValues named, the graph's inputs and outputs), or null when a counted node's shape is missing.
 */
export function countMacs(model: Record<string, unknown>, shapes: ReadonlyMap<string, readonly number[]>): number | null {
  const graph = (model.graph ?? {}) as Graph;
  const weightDims = new Map((graph.initializer ?? []).map((initializer) => [initializer.name, (initializer.dims ?? []).map(Number)]));
  const dimsOf = (name: string | undefined) => (name === undefined ? undefined : (shapes.get(name) ?? weightDims.get(name)));
  let total = 0;
  if (!countable(model)) return null;
  for (const node of counted(graph)) {
    const [a, b] = [dimsOf(node.input?.[0]), dimsOf(node.input?.[1])];
    const out = dimsOf(node.output?.[0]);
    if (a === undefined || out === undefined) return null;
    // A convolution's weight shape gives its kernel; a product needs only A and the output.
    if (b === undefined && (node.opType === 'Conv' || node.opType === 'ConvTranspose')) return null;
    const attribute = (name: string, fallback: number) => Number(node.attribute?.find((entry) => entry.name === name)?.i ?? fallback);
    switch (node.opType) {
      case 'Conv':
        // W: [out channels, in channels / group, k…]
        total += product(out) * product(b!.slice(1));
        break;
      case 'ConvTranspose':
        // W: [in channels, out channels / group, k…]
        total += product(a) * product(b!.slice(1));
        break;
      case 'Gemm':
        total += product(out) * (attribute('transA', 0) ? a[0] : a[a.length - 1]);
        break;
      case 'MatMul':
        total += product(out) * a[a.length - 1];
        break;
    }
  }
  return total;
}
