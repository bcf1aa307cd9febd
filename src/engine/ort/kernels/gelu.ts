/**
 * KdkitGelu and KdkitGeluGrad (../../kernels/gelu.ts) as ONNX Runtime graphs on its threads, with
 * its vectorized Erf and Exp:
 *
 *   y = x · ½ · (1 + erf(x / √2))
 *   dx = dy · (½ · (1 + erf(x / √2)) + x · exp(−x² / 2) / √(2π))
 *
 * Tensors below `minElements` take the wasm kernels.
 */
import { type KernelConfig, type TensorInfo, util } from '@tensorflow/tfjs-core';
import { Gelu, GeluGrad } from '../../kernels/gelu.js';
import { heapFloat32 } from '../../kernels/wasm.js';
import type { NodeSpec } from '../onnx_model.js';
import type { SessionCache } from '../session_cache.js';
import { runOnViews, withWasmFallback } from './run_graph.js';

/** Below this many elements the wasm kernel is faster than a session call. */
const minElements = 1 << 14;

const constant = (name: string, value: number): NodeSpec => ({
  opType: 'Constant',
  inputs: [],
  outputs: [name],
  attributes: { value_float: { float: value } },
});

/** Φ(x) = ½ · (1 + erf(x / √2)) as `phi`. */
const cdfNodes: NodeSpec[] = [
  constant('sqrtHalf', Math.SQRT1_2),
  constant('half', 0.5),
  constant('one', 1),
  { opType: 'Mul', inputs: ['x', 'sqrtHalf'], outputs: ['scaled'] },
  { opType: 'Erf', inputs: ['scaled'], outputs: ['erf'] },
  { opType: 'Add', inputs: ['erf', 'one'], outputs: ['onePlusErf'] },
  { opType: 'Mul', inputs: ['onePlusErf', 'half'], outputs: ['phi'] },
];

function geluKernel(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ x: TensorInfo }, Record<string, never>>(fallback, ({ x }, _attrs, backend) => {
    const size = util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || size < minElements) return undefined;
    const y = backend.makeOutput([...x.shape], 'float32');
    runOnViews(
      cache,
      {
        key: `Gelu ${size}`,
        inputs: [{ name: 'x', shape: [size] }],
        outputs: [{ name: 'y', shape: [size] }],
        nodes: () => [...cdfNodes, { opType: 'Mul', inputs: ['x', 'phi'], outputs: ['y'] }],
      },
      { x: heapFloat32(backend, x) },
      { y: heapFloat32(backend, y) },
    );
    return y;
  });
}

function geluGradKernel(fallback: KernelConfig, cache: SessionCache): KernelConfig {
  return withWasmFallback<{ dy: TensorInfo; x: TensorInfo }, Record<string, never>>(fallback, ({ dy, x }, _attrs, backend) => {
    const size = util.sizeFromShape(x.shape);
    if (x.dtype !== 'float32' || dy.dtype !== 'float32' || size < minElements) return undefined;
    const dx = backend.makeOutput([...x.shape], 'float32');
    runOnViews(
      cache,
      {
        key: `GeluGrad ${size}`,
        inputs: [
          { name: 'dy', shape: [size] },
          { name: 'x', shape: [size] },
        ],
        outputs: [{ name: 'dx', shape: [size] }],
        nodes: () => [
          ...cdfNodes,
          constant('minusHalf', -0.5),
          constant('invSqrtTwoPi', 1 / Math.sqrt(2 * Math.PI)),
          { opType: 'Mul', inputs: ['x', 'x'], outputs: ['square'] },
          { opType: 'Mul', inputs: ['square', 'minusHalf'], outputs: ['exponent'] },
          { opType: 'Exp', inputs: ['exponent'], outputs: ['gaussian'] },
          { opType: 'Mul', inputs: ['gaussian', 'invSqrtTwoPi'], outputs: ['density'] },
          { opType: 'Mul', inputs: ['x', 'density'], outputs: ['xDensity'] },
          { opType: 'Add', inputs: ['phi', 'xDensity'], outputs: ['slope'] },
          { opType: 'Mul', inputs: ['dy', 'slope'], outputs: ['dx'] },
        ],
      },
      { dy: heapFloat32(backend, dy), x: heapFloat32(backend, x) },
      { dx: heapFloat32(backend, dx) },
    );
    return dx;
  });
}

export const ortGeluKernelNames: readonly string[] = [Gelu, GeluGrad];

export function ortGeluKernels(fallback: (kernelName: string) => KernelConfig, cache: SessionCache): KernelConfig[] {
  return [geluKernel(fallback(Gelu), cache), geluGradKernel(fallback(GeluGrad), cache)];
}
