/**
 * Runs a cached ONNX Runtime session on tensors of the TensorFlow.js wasm backend: inputs are read
 * from the wasm heap where they lie and the output is written straight into the memory of a new
 * tensor, so no data is copied on either side.
 */
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OrtTensor } from '../runtime.js';
import type { GraphSpec, ValueSpec } from '../onnx_model.js';
import type { KeyedGraph, SessionCache } from '../session_cache.js';
import { heapFloat32, wasmKernel } from '../../kernels/wasm.js';

/**
 * Runs `graph` (one output) on `inputs`, keyed by the graph's input names, and returns a new
 * tensor of `outputShape` holding the result. The graph's output has the same number of elements.
 */
export function runGraph(
  backend: BackendWasm,
  cache: SessionCache,
  graph: GraphSpec | KeyedGraph,
  inputs: Record<string, TensorInfo>,
  outputShape: number[],
): TensorInfo {
  const output = backend.makeOutput(outputShape, 'float32');
  // Views only after the output exists: allocating can grow the heap and detach earlier views.
  const views: Record<string, Float32Array> = {};
  for (const input of graph.inputs) views[input.name] = heapFloat32(backend, inputs[input.name]);
  runOnViews(cache, graph, views, { [graph.outputs[0].name]: heapFloat32(backend, output) });
  return output;
}

/**
 * Runs `graph` on data already in place: each input and output is a view whose length is the
 * product of its shape in the graph (a slice of a tensor on the wasm heap, or a scratch array).
 */
export function runOnViews(
  cache: SessionCache,
  graph: GraphSpec | KeyedGraph,
  inputs: Record<string, Float32Array>,
  outputs: Record<string, Float32Array>,
): void {
  const session = cache.session(graph);
  session.run(tensorsOf(graph.inputs, inputs), tensorsOf(graph.outputs, outputs));
}

function tensorsOf(specs: readonly ValueSpec[], views: Record<string, Float32Array>): Record<string, OrtTensor> {
  const tensors: Record<string, OrtTensor> = {};
  for (const { name, shape } of specs) {
    const data = views[name];
    const size = shape.reduce((total, length) => total * length, 1);
    if (data?.length !== size) {
      throw new Error(`kdkit engine: graph value ${name} needs ${size} values, got ${data?.length ?? 'none'}.`);
    }
    tensors[name] = { data, dims: shape };
  }
  return tensors;
}

/**
 * A wasm kernel computed by `body` on ONNX Runtime, or by `fallback` (the plain wasm kernel of the
 * same name) for any call where `body` returns undefined. The fallback's setup and dispose
 * functions are kept, so the fallback works whenever the backend initializes.
 */
export function withWasmFallback<Inputs, Attrs>(
  fallback: KernelConfig,
  body: (inputs: Inputs, attrs: Attrs, backend: BackendWasm) => TensorInfo | undefined,
): KernelConfig {
  const config = wasmKernel<Inputs, Attrs>(
    fallback.kernelName,
    (inputs, attrs, backend) =>
      body(inputs, attrs, backend) ??
      (fallback.kernelFunc({
        inputs: { ...inputs } as Record<string, TensorInfo>,
        attrs: { ...attrs } as Record<string, never>,
        backend,
      }) as TensorInfo),
  );
  return { ...config, setupFunc: fallback.setupFunc, disposeFunc: fallback.disposeFunc };
}
