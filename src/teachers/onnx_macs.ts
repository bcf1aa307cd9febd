/**
 * Multiply-accumulates per sample of an ONNX model, counted as for kdkit's own models
 * (models/macs.ts): the convolutions and matrix products, which are nearly all of the work.
 *
 *   Conv           output elements · (input channels / group) · kernel elements
 *   ConvTranspose  input elements · (output channels / group) · kernel elements
 *   Gemm, MatMul   output elements · the shared dimension K
 *
 * ONNX stores no intermediate shapes, so the shapes come from one run at batch 1 of a copy of
 * the model that also outputs every counted node's input and output (`probeModel`).
 */

/** The operators counted; every other node is taken as free, as elementwise work nearly is. */
const COUNTED = ['Conv', 'ConvTranspose', 'Gemm', 'MatMul'];

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

/** The values whose shapes the count needs: each counted node's first input (unless a weight) and output. */
export function probedValues(model: Record<string, unknown>): string[] {
  const graph = (model.graph ?? {}) as Graph;
  const weights = new Set((graph.initializer ?? []).map((initializer) => initializer.name));
  const inputs = new Set((graph.input ?? []).map((input) => input.name));
  const outputs = new Set((graph.output ?? []).map((output) => output.name));
  const names = new Set<string>();
  for (const node of counted(graph)) {
    for (const name of [node.input?.[0], node.output?.[0]]) {
      if (name && !weights.has(name) && !inputs.has(name) && !outputs.has(name)) names.add(name);
    }
  }
  return [...names];
}

/** `model` with `values` added to its outputs, typed by ONNX Runtime's own inference. */
export function probeModel(model: Record<string, unknown>, values: readonly string[]): Record<string, unknown> {
  const graph = (model.graph ?? {}) as Graph;
  return { ...model, graph: { ...graph, output: [...(graph.output ?? []), ...values.map((name) => ({ name }))] } };
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
  for (const node of counted(graph)) {
    const [a, b] = [dimsOf(node.input?.[0]), dimsOf(node.input?.[1])];
    const out = dimsOf(node.output?.[0]);
    if (a === undefined || b === undefined || out === undefined) return null;
    const attribute = (name: string, fallback: number) => Number(node.attribute?.find((entry) => entry.name === name)?.i ?? fallback);
    switch (node.opType) {
      case 'Conv':
        // W: [out channels, in channels / group, k…]
        total += product(out) * product(b.slice(1));
        break;
      case 'ConvTranspose':
        // W: [in channels, out channels / group, k…]
        total += product(a) * product(b.slice(1));
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
