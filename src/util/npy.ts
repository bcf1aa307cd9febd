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
  header += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
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

/** Parses a little-endian, C-order float32, float16 or int32 `.npy`. `file` names it in errors. */
export function decodeNpy(bytes: Uint8Array, file: string): NpyArray {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buffer.length < 10 || !buffer.subarray(0, 6).equals(MAGIC)) throw new InputError(`${file}: not a .npy file (bad magic)`);
  const major = buffer[6];
  // Versions 2.0 and 3.0 differ from 1.0 only in a 4-byte header length (and 3.0's UTF-8 header).
  if (major < 1 || major > 3) throw new InputError(`${file}: .npy format version ${major}.${buffer[7]} is not supported (expected 1.0, 2.0 or 3.0)`);
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.length >= 12 ? buffer.readUInt32LE(8) : -1;
  const headerStart = major === 1 ? 10 : 12;
  if (headerLength < 0 || headerStart + headerLength > buffer.length) throw new InputError(`${file}: truncated .npy header`);
  const header = buffer.subarray(headerStart, headerStart + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw new InputError(`${file}: unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (fortran === 'True') throw new InputError(`${file}: Fortran-ordered .npy is not supported; save with C order`);
  const shape = shapeText.split(',').map((part) => part.trim()).filter(Boolean).map(Number);
  if (shape.some((dim) => !Number.isSafeInteger(dim) || dim < 0)) throw new InputError(`${file}: bad shape (${shapeText}) in .npy header`);
  const itemBytes = ITEM_BYTES[descr];
  if (itemBytes === undefined) throw new InputError(`${file}: dtype '${descr}' is not supported (expected '<f4', '<f2' or '<i4')`);
  // A size past 2^53 bytes is inexact in a double, and no such file fits in memory anyway.
  const count = shape.reduce((product, dim) => product * dim, 1);
  const dataStart = headerStart + headerLength;
  if (!Number.isSafeInteger(count * itemBytes) || buffer.length - dataStart !== count * itemBytes) {
    throw new InputError(`${file}: header promises ${count * itemBytes} bytes of data for shape (${shape.join(', ')}), file has ${buffer.length - dataStart}`);
  }
  // A copy, so the typed array starts aligned whatever the header length was.
  const data = new Uint8Array(buffer.subarray(dataStart)).buffer;
  if (descr === '<f4') return { dtype: 'float32', data: new Float32Array(data), shape };
  if (descr === '<f2') return { dtype: 'float16', data: new Uint16Array(data), shape };
  return { dtype: 'int32', data: new Int32Array(data), shape };
}
