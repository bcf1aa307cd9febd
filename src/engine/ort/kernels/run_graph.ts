/**
 * Runs a cached ONNX Runtime session on tensors of the TensorFlow.js wasm backend: inputs are read
 * from the wasm heap where they lie and the output is written straight into the memory of a new
 * tensor, so no data is copied on either side.
 */
import type { TensorInfo } from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import type { OrtTensor } from '../binding.js';
import type { GraphSpec } from '../onnx_model.js';
import type { SessionCache } from '../session_cache.js';
import { heapFloat32 } from '../../kernels/wasm.js';

/**
 * Runs `graph` (one output) on `inputs`, keyed by the graph's input names, and returns a new
 * tensor of `outputShape` holding the result. The graph's output has the same number of elements.
 */
export function runGraph(
  backend: BackendWasm,
  cache: SessionCache,
  graph: GraphSpec,
  inputs: Record<string, TensorInfo>,
  outputShape: number[],
): TensorInfo {
  const session = cache.session(graph);
  const output = backend.makeOutput(outputShape, 'float32');
  // Views only after the output exists: allocating can grow the heap and detach earlier views.
  const feeds: Record<string, OrtTensor> = {};
  for (const input of graph.inputs) feeds[input.name] = { data: heapFloat32(backend, inputs[input.name]), dims: input.shape };
  const [result] = graph.outputs;
  session.run(feeds, { [result.name]: { data: heapFloat32(backend, output), dims: result.shape } });
  return output;
}
