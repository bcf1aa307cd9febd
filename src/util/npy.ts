/**
 * NumPy `.npy` (format 1.0) for float32, float16 and int32 arrays, so numpy reads kdkit's caches
 * directly: magic "\x93NUMPY", version 1.0, uint16 LE header length, a Python-dict header padded
 * with spaces to a multiple of 64 bytes and ending in '\n', then the little-endian data.
 * JavaScript has no Float16Array in Node 20, so float16 data travels as its IEEE 754 binary16 bit
 * patterns in a Uint16Array (see @petamoriken/float16 to convert).
 */
import { InputError } from '../errors.js';

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
const DESCR = { float32: '<f4', float16: '<f2', int32: '<i4' } as const;
const ITEM_BYTES: Readonly<Record<string, number>> = { '<f4': 4, '<f2': 2, '<i4': 4 };

export type NpyArray =
  | { dtype: 'float32'; data: Float32Array; shape: number[] }
  | { dtype: 'float16'; data: Uint16Array; shape: number[] }
  | { dtype: 'int32'; data: Int32Array; shape: number[] };

export function encodeNpy(array: NpyArray): Uint8Array {
  const shape = array.shape.length === 1 ? `(${array.shape[0]},)` : `(${array.shape.join(', ')})`;
  let header = `{'descr': '${DESCR[array.dtype]}', 'fortran_order': False, 'shape': ${shape}, }`;
  const unpadded = MAGIC.length + 2 + 2 + header.length + 1;
  header += `${' '.repeat((64 - (unpadded % 64)) % 64)}\n`;
  const headerBytes = Buffer.from(header, 'latin1');
  const data = Buffer.from(array.data.buffer, array.data.byteOffset, array.data.byteLength);
  const out = Buffer.alloc(MAGIC.length + 4 + headerBytes.length + data.length);
  MAGIC.copy(out, 0);
  out[6] = 1;
  out[7] = 0;
  out.writeUInt16LE(headerBytes.length, 8);
  headerBytes.copy(out, 10);
  data.copy(out, 10 + headerBytes.length);
  return out;
}

/** What a `.npy` header says: the dtype string ('<f4', '|u1', …), the shape and where data starts. */
export interface NpyHeader {
  readonly descr: string;
  readonly shape: number[];
  /** Bytes per value, from the dtype string. */
  readonly itemBytes: number;
  /** Offset of the first value. */
  readonly dataStart: number;
}

/** The dtypes a reader takes, and how to say so in the error for any other. */
export interface NpyDtypes {
  readonly descrs: readonly string[];
  /** E.g. "expected '<f4', '<f2' or '<i4'". */
  readonly expected: string;
}

/** Bytes needed to hold any header: the 12-byte preamble of version 2.0 and up… */
export const NPY_PREAMBLE_BYTES = 12;

/**
 * Parses a C-order `.npy` header from the file's first bytes and checks the data size it claims
 * against `fileBytes`, the file's whole length. Call with at least NPY_PREAMBLE_BYTES bytes, then
 * again with `npyHeaderBytes()` bytes if that says more are needed. `file` names it in errors.
 */
export function parseNpyHeader(bytes: Uint8Array, fileBytes: number, file: string, accepts?: NpyDtypes): NpyHeader {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 10 || !buffer.subarray(0, 6).equals(MAGIC)) throw new InputError(`${file}: not a .npy file (bad magic)`);
  const major = buffer[6];
  // Versions 2.0 and 3.0 differ from 1.0 only in a 4-byte header length (and 3.0's UTF-8 header).
  if (major < 1 || major > 3)
    throw new InputError(`${file}: .npy format version ${major}.${buffer[7]} is not supported (expected 1.0, 2.0 or 3.0)`);
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.length >= 12 ? buffer.readUInt32LE(8) : -1;
  const headerStart = major === 1 ? 10 : 12;
  if (headerLength < 0 || headerStart + headerLength > buffer.length) throw new InputError(`${file}: truncated .npy header`);
  const header = buffer.subarray(headerStart, headerStart + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new InputError(`${file}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new InputError(`${file}: Fortran-ordered .npy is not supported; save with C order`);
  const shape = shapeText
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map(Number);
  if (shape.some((dim) => !Number.isSafeInteger(dim) || dim < 0)) throw new InputError(`${file}: bad shape (${shapeText}) in .npy header`);
  if (accepts && !accepts.descrs.includes(descr)) throw new InputError(`${file}: dtype '${descr}' is not supported (${accepts.expected})`);
  const itemBytes = Number(/^[<>|=][fiub](1|2|4|8)$/.exec(descr)?.[1] ?? NaN);
  if (Number.isNaN(itemBytes)) throw new InputError(`${file}: dtype '${descr}' is not a numeric dtype kdkit reads`);
  // A size past 2^53 bytes is inexact in a double, and no such file fits in memory anyway.
  const count = shape.reduce((product, dim) => product * dim, 1);
  const dataStart = headerStart + headerLength;
  if (!Number.isSafeInteger(count * itemBytes) || fileBytes - dataStart !== count * itemBytes) {
    throw new InputError(
      `${file}: header promises ${count * itemBytes} bytes of data for shape (${shape.join(', ')}), file has ${fileBytes - dataStart}`,
    );
  }
  return { descr, shape, itemBytes, dataStart };
}

/** How many leading bytes hold the whole header, from its first NPY_PREAMBLE_BYTES (or fewer, for a tiny file). */
export function npyHeaderBytes(preamble: Uint8Array): number {
  const buffer = Buffer.from(preamble.buffer, preamble.byteOffset, preamble.byteLength);
  if (buffer.length < 10) return buffer.length;
  return buffer[6] === 1 ? 10 + buffer.readUInt16LE(8) : buffer.length >= 12 ? 12 + buffer.readUInt32LE(8) : buffer.length;
}

/** Parses a little-endian, C-order float32, float16 or int32 `.npy`. `file` names it in errors. */
export function decodeNpy(bytes: Uint8Array, file: string): NpyArray {
  const { descr, shape, dataStart } = parseNpyHeader(bytes, bytes.length, file, {
    descrs: Object.keys(ITEM_BYTES),
    expected: "expected '<f4', '<f2' or '<i4'",
  });
  // A copy, so the typed array starts aligned whatever the header length was.
  const data = new Uint8Array(bytes.subarray(dataStart)).buffer;
  if (descr === '<f4') return { dtype: 'float32', data: new Float32Array(data), shape };
  if (descr === '<f2') return { dtype: 'float16', data: new Uint16Array(data), shape };
  return { dtype: 'int32', data: new Int32Array(data), shape };
}
