/**
 * Small ONNX models built from a plain description of their graph: float32 inputs and outputs
 * with fixed shapes, and nodes with typed attributes. Kernels describe the op they need (a Gemm,
 * a Transpose then MatMul, later Conv or ConvTranspose) and this encodes it with protobufjs.
 * Exported models (src/export/onnx.ts) add stored weights and a symbolic batch dimension.
 */
import protobuf from 'protobufjs';
import { onnxSubsetProto } from './onnx_schema.js';

/** ONNX opset the graphs are written against (Gemm-13, MatMul-13, Transpose-13, Relu-14, …). */
export const opsetVersion = 17;
/** IR version 8 goes with opset 17. */
const irVersion = 8;
/** TensorProto.DataType.FLOAT */
const float32Type = 1;

/** TensorProto.DataType values of the initializers kdkit stores. */
export const tensorDataTypes = { float32: 1, uint8: 2, int64: 7, float16: 10 } as const;
export type TensorDataType = (typeof tensorDataTypes)[keyof typeof tensorDataTypes];

/** An attribute value with its ONNX type made explicit (Gemm's alpha is a float even when 1). */
export type AttributeValue =
  | { int: number }
  | { float: number }
  | { ints: readonly number[] }
  | { floats: readonly number[] }
  | { string: string };

export interface ValueSpec {
  name: string;
  /** Fixed dimensions; sessions are cached per shape, so there are no symbolic ones. */
  shape: readonly number[];
}

export interface NodeSpec {
  opType: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes?: Readonly<Record<string, AttributeValue>>;
  /** Operator set domain; ONNX's default ('') unless given. */
  domain?: string;
}

/** A graph of float32 values; its nodes are listed in topological order. */
export interface GraphSpec {
  inputs: readonly ValueSpec[];
  outputs: readonly ValueSpec[];
  nodes: readonly NodeSpec[];
}

/** A graph input or output whose dimensions may be symbolic (a name, such as 'batch'). */
export interface SymbolicValueSpec {
  name: string;
  shape: readonly (number | string)[];
  /** The element type; float32 unless given (exported text models take int64 token ids). */
  dataType?: TensorDataType;
}

/** A constant tensor stored in the model (TensorProto): its bytes, row-major, little-endian. */
export interface InitializerSpec {
  name: string;
  dims: readonly number[];
  dataType: TensorDataType;
  rawData: Uint8Array;
}

/** A GraphSpec that may also have symbolic dimensions and stored weights, as exported models do. */
export interface ModelGraphSpec {
  inputs: readonly SymbolicValueSpec[];
  outputs: readonly SymbolicValueSpec[];
  nodes: readonly NodeSpec[];
  initializers?: readonly InitializerSpec[];
}

let modelType: protobuf.Type | undefined;

function onnxModelType(): protobuf.Type {
  modelType ??= protobuf.parse(onnxSubsetProto, { keepCase: false }).root.lookupType('onnx.ModelProto');
  return modelType;
}

// AttributeProto.AttributeType
const attributeTypes = { float: 1, int: 2, string: 3, floats: 6, ints: 7 } as const;

function encodeAttribute(name: string, value: AttributeValue): object {
  if ('int' in value) return { name, type: attributeTypes.int, i: value.int };
  if ('float' in value) return { name, type: attributeTypes.float, f: value.float };
  if ('ints' in value) return { name, type: attributeTypes.ints, ints: [...value.ints] };
  if ('floats' in value) return { name, type: attributeTypes.floats, floats: [...value.floats] };
  return { name, type: attributeTypes.string, s: new TextEncoder().encode(value.string) };
}

function encodeValueInfo({ name, shape, dataType = float32Type }: SymbolicValueSpec): object {
  const dim = shape.map((size) => (typeof size === 'string' ? { dimParam: size } : { dimValue: size }));
  return { name, type: { tensorType: { elemType: dataType, shape: { dim } } } };
}

function encodeInitializer({ name, dims, dataType, rawData }: InitializerSpec): object {
  return { name, dims: [...dims], dataType, rawData };
}

/** ONNX's own opset, plus version 1 of any other domain a node uses (e.g. com.microsoft). */
function opsetImports(graph: ModelGraphSpec): object[] {
  const otherDomains = new Set(graph.nodes.map((node) => node.domain ?? '').filter((domain) => domain !== ''));
  return [{ domain: '', version: opsetVersion }, ...[...otherDomains].map((domain) => ({ domain, version: 1 }))];
}

/** The serialized ONNX model (ModelProto) for `graph`. */
export function encodeModel(graph: ModelGraphSpec): Uint8Array {
  const type = onnxModelType();
  const model = type.fromObject({
    irVersion,
    producerName: 'kdkit',
    opsetImport: opsetImports(graph),
    graph: {
      name: 'kdkit',
      input: graph.inputs.map(encodeValueInfo),
      output: graph.outputs.map(encodeValueInfo),
      node: graph.nodes.map((node, index) => ({
        name: `${node.opType}_${index}`,
        opType: node.opType,
        domain: node.domain ?? '',
        input: [...node.inputs],
        output: [...node.outputs],
        attribute: Object.entries(node.attributes ?? {}).map(([name, value]) => encodeAttribute(name, value)),
      })),
      initializer: (graph.initializers ?? []).map(encodeInitializer),
    },
  });
  return type.encode(model).finish();
}

/**
 * `model`'s bytes with `names` added to its graph's outputs, untyped (ONNX Runtime infers their
 * types). The bytes are not decoded and encoded again, which would drop what kdkit's schema does
 * not cover (a Constant node's tensor, subgraphs): a ModelProto holding only the new outputs is
 * appended, and protobuf merges a message field met twice, appending to its repeated fields.
 */
export function withExtraOutputs(model: Uint8Array, names: readonly string[]): Uint8Array {
  const type = onnxModelType();
  const extra = type.encode(type.fromObject({ graph: { output: names.map((name) => ({ name })) } })).finish();
  const merged = new Uint8Array(model.byteLength + extra.byteLength);
  merged.set(model, 0);
  merged.set(extra, model.byteLength);
  return merged;
}

/** The model decoded back into plain objects, for tests and debugging. */
export function decodeModel(bytes: Uint8Array): Record<string, unknown> {
  const type = onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, defaults: false }) as Record<string, unknown>;
}
