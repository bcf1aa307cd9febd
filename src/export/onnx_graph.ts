/**
 * Builds the node list and stored weights of an exported ONNX graph, and tracks the layout of
 * every image-shaped (rank-4) value.
 *
 * Layout design: ONNX's Conv and pooling ops are NCHW, TensorFlow.js is NHWC. A value of rank 4
 * can exist in either layout, or both; the other one is produced on first request by a Transpose
 * and then reused. Convolutions and pooling ask for NCHW, so a run of them stays in NCHW with no
 * Transposes in between; Flatten and Reshape ask for NHWC, because the Dense weights after them
 * expect Keras's NHWC flattening order. Element-wise ops run in whichever layout is at hand. So a
 * CNN with an NHWC input pays one Transpose at the input and one before Flatten, and an MLP with
 * an NHWC input pays none.
 */
import type { AttributeValue, InitializerSpec, NodeSpec } from '../engine/ort/onnx_model.js';
import { tensorDataTypes } from '../engine/ort/onnx_model.js';
import { float16Bytes, float32Bytes, int64Bytes, quantizeUint8 } from './onnx_quantize.js';

/** Weight-only quantization of the stored initializers (see onnx_quantize.ts). */
export type WeightQuantization = 'none' | 'float16' | 'uint8';

/** 'keras' is the layout TensorFlow.js holds the value in (channels last); 'nchw' exists for rank 4 only. */
export type ValueLayout = 'keras' | 'nchw';

/** A value of the TensorFlow.js graph, by the name(s) it has in the ONNX graph. */
export interface GraphValue {
  rank: number;
  names: Partial<Record<ValueLayout, string>>;
}

const toNchw = [0, 3, 1, 2];
const toKeras = [0, 2, 3, 1];

/** Where Keras's axis `axis` (negative counts from the end) of a rank-`rank` value is in `layout`. */
export function axisIn(layout: ValueLayout, axis: number, rank: number): number {
  const positive = axis < 0 ? axis + rank : axis;
  return layout === 'nchw' ? [0, 2, 3, 1][positive] : positive;
}

export class OnnxGraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: InitializerSpec[] = [];
  private readonly usedNames = new Set<string>();

  constructor(
    private readonly quantization: WeightQuantization,
    reservedNames: readonly string[],
  ) {
    for (const name of reservedNames) this.usedNames.add(name);
  }

  /** A name no other value has, based on `hint` (usually the layer's name). */
  uniqueName(hint: string): string {
    let name = hint;
    for (let suffix = 1; this.usedNames.has(name); suffix++) name = `${hint}_${suffix}`;
    this.usedNames.add(name);
    return name;
  }

  /** Adds a one-output node and returns its output's name. */
  node(opType: string, inputs: readonly string[], outputHint: string, attributes?: Record<string, AttributeValue>): string {
    const output = this.uniqueName(outputHint);
    this.nodes.push({ opType, inputs, outputs: [output], ...(attributes ? { attributes } : {}) });
    return output;
  }

  /** A float32 constant stored as is: biases, batch-norm vectors and scalars, which are small. */
  constant(hint: string, data: Float32Array, dims: readonly number[]): string {
    return this.store(hint, dims, tensorDataTypes.float32, float32Bytes(data));
  }

  int64Constant(hint: string, values: readonly number[]): string {
    return this.store(hint, [values.length], tensorDataTypes.int64, int64Bytes(values));
  }

  /**
   * A weight matrix or kernel, stored with the configured quantization; returns the name of its
   * float32 value. `channelAxis` is the output-channel axis uint8 scales are taken along.
   */
  weight(hint: string, data: Float32Array, dims: readonly number[], channelAxis: number): string {
    if (this.quantization === 'float16') {
      const stored = this.store(`${hint}_float16`, dims, tensorDataTypes.float16, float16Bytes(data));
      return this.node('Cast', [stored], hint, { to: { int: tensorDataTypes.float32 } });
    }
    if (this.quantization === 'uint8') {
      const { quantized, scales, zeroPoints } = quantizeUint8(data, dims, channelAxis);
      const stored = this.store(`${hint}_uint8`, dims, tensorDataTypes.uint8, quantized);
      // (float(q) − zeroPoint) · scale, DequantizeLinear's formula, written as Cast, Sub and Mul:
      // ONNX Runtime folds these into a float32 constant when the session loads, but leaves a
      // DequantizeLinear on a weight in the graph (for QDQ fusion) and runs it on every call.
      const channelDims = dims.map((size, axis) => (axis === channelAxis ? size : 1));
      const scale = this.constant(`${hint}_scale`, scales, channelDims);
      const zeroPoint = this.constant(`${hint}_zero_point`, Float32Array.from(zeroPoints), channelDims);
      const widened = this.node('Cast', [stored], `${hint}_float`, { to: { int: tensorDataTypes.float32 } });
      return this.node('Mul', [this.node('Sub', [widened, zeroPoint], `${hint}_centered`), scale], hint);
    }
    return this.constant(hint, data, dims);
  }

  /**
   * Gives the value `name` the graph-output name `outputName`: renames the node output in place,
   * or adds an Identity when `name` is not a node's output (a model that returns its input).
   */
  nameOutput(name: string, outputName: string): void {
    const producer = this.nodes.findIndex((node) => node.outputs.includes(name));
    if (producer < 0) {
      this.nodes.push({ opType: 'Identity', inputs: [name], outputs: [outputName] });
      return;
    }
    const rename = (names: readonly string[]) => names.map((each) => (each === name ? outputName : each));
    for (let i = producer; i < this.nodes.length; i++) {
      const node = this.nodes[i];
      this.nodes[i] = { ...node, inputs: rename(node.inputs), outputs: rename(node.outputs) };
    }
  }

  /** The value's name in `layout`, adding (once) the Transpose that produces it. */
  inLayout(value: GraphValue, layout: ValueLayout): string {
    const existing = value.names[layout];
    if (existing !== undefined) return existing;
    const other = value.names[layout === 'nchw' ? 'keras' : 'nchw'];
    if (value.rank !== 4 || other === undefined) throw new Error(`no ${layout} form of a rank-${value.rank} value`);
    const transposed = this.node('Transpose', [other], `${other}_${layout}`, { perm: { ints: layout === 'nchw' ? toNchw : toKeras } });
    value.names[layout] = transposed;
    return transposed;
  }

  /** A layout the value already has, NCHW first, so element-wise ops add no Transpose. */
  availableLayout(value: GraphValue): ValueLayout {
    return value.names.nchw !== undefined ? 'nchw' : 'keras';
  }

  /** Applies a one-input op that keeps the shape (an activation) in the layout at hand. */
  elementwise(value: GraphValue, build: (input: string, layout: ValueLayout) => string): GraphValue {
    const layout = this.availableLayout(value);
    return { rank: value.rank, names: { [layout]: build(this.inLayout(value, layout), layout) } };
  }

  private store(hint: string, dims: readonly number[], dataType: InitializerSpec['dataType'], rawData: Uint8Array): string {
    const name = this.uniqueName(hint);
    this.initializers.push({ name, dims: [...dims], dataType, rawData });
    return name;
  }
}
