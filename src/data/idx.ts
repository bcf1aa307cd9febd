/**
 * Reader for IDX files, the format of MNIST and its drop-in relatives (Fashion-MNIST, KMNIST).
 * Layout (http://yann.lecun.com/exdb/mnist/): two zero bytes, a type byte, a dimension-count byte,
 * one big-endian uint32 per dimension, then the values in row-major order, big-endian.
 * Files may be gzipped; gzip is detected by its magic bytes 1f 8b, not by the file name.
 */
import { constants as zlibConstants, gunzipSync } from 'node:zlib';
import { InputError } from '../errors.js';
import { MAX_WHOLE_FILE_BYTES, withRegularFile } from '../util/regular_file.js';

export type IdxDataType = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type IdxValues = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  readonly dataType: IdxDataType;
  /** Size of each dimension, outermost first, e.g. [60000, 28, 28]. */
  readonly dims: readonly number[];
  /** The values in row-major order, converted to the platform's byte order. */
  readonly values: IdxValues;
}

interface TypeInfo {
  readonly dataType: IdxDataType;
  readonly bytesPerValue: number;
}

const TYPES_BY_CODE: ReadonlyMap<number, TypeInfo> = new Map([
  [0x08, { dataType: 'uint8', bytesPerValue: 1 }],
  [0x09, { dataType: 'int8', bytesPerValue: 1 }],
  [0x0b, { dataType: 'int16', bytesPerValue: 2 }],
  [0x0c, { dataType: 'int32', bytesPerValue: 4 }],
  [0x0d, { dataType: 'float32', bytesPerValue: 4 }],
  [0x0e, { dataType: 'float64', bytesPerValue: 8 }],
]);

/** Magic number of MNIST-style image files: uint8 values, 3 dimensions [count, height, width]. */
export const IDX_IMAGES_MAGIC = 0x00000803;
/** Magic number of MNIST-style label files: uint8 values, 1 dimension [count]. */
export const IDX_LABELS_MAGIC = 0x00000801;

const GZIP_MAGIC = [0x1f, 0x8b] as const;
/** A 10-byte header, an empty deflate block and the 8-byte trailer. */
const GZIP_MIN_BYTES = 20;
/** Largest decompressed file accepted; EMNIST ByClass train images, the largest common IDX file, are 547 MB. */
const MAX_GUNZIPPED_BYTES = 1024 * 1024 * 1024;

function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

function describeMagic(magic: number): string {
  const info = TYPES_BY_CODE.get((magic >>> 8) & 0xff);
  const type = info ? info.dataType : 'unknown type';
  return `${hex32(magic)} (${type}, ${magic & 0xff} dimensions)`;
}

/** The largest IDX header: magic plus 255 dimensions. */
export const IDX_MAX_HEADER = 4 + 4 * 255;

/**
 * Reads a file, gunzipping it when it starts with the gzip magic bytes. An uncompressed file's
 * header is checked against its size before the rest is read.
 */
export function readMaybeGzipped(path: string, expectedMagic?: number): Uint8Array {
  return withRegularFile(path, `cannot read ${path}`, (file) => {
    const head = file.read(0, IDX_MAX_HEADER);
    if (isGzip(head)) return maybeGunzip(file.readAll(MAX_WHOLE_FILE_BYTES), path, expectedMagic);
    parseIdxHeader(head, file.sizeBytes, path, expectedMagic);
    return file.readAll(MAX_WHOLE_FILE_BYTES);
  });
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

/** Deflate's largest expansion: a 258-byte match in 2 bits. */
const DEFLATE_MAX_RATIO = 1032;
/** Compressed bytes inflated first to reach the IDX header; doubled while a gzip file name hides it. */
const HEADER_PROBE_BYTES = 256;

/**
 * The bytes, gunzipped when they start with the gzip magic bytes. The IDX header is read first,
 * from a bounded inflate of a prefix; the whole file is then inflated with zlib stopping at the
 * size that header promises, so a file that inflates past it (a gzip bomb) costs no more memory
 * than an honest file of its header. `path` names the file in errors.
 */
export function maybeGunzip(bytes: Buffer, path: string, expectedMagic?: number): Uint8Array {
  if (!isGzip(bytes)) return bytes;
  const corrupt = (reason: string) =>
    new InputError(`${path} starts like a gzip file but ${reason}; the download is probably truncated or corrupt`);
  if (bytes.length < GZIP_MIN_BYTES) throw corrupt(`has only ${bytes.length} bytes, fewer than a gzip header and trailer`);
  const inflate = (input: Buffer, options: { maxOutputLength: number; finishFlush?: number }) => {
    try {
      return gunzipSync(input, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') return null;
      throw corrupt(`could not be decompressed (${(error as Error).message})`);
    }
  };
  let header: IdxDims;
  for (let probe = HEADER_PROBE_BYTES; ; probe *= 2) {
    const end = Math.min(probe, bytes.length);
    // A sync flush takes a prefix without "unexpected end of file"; the ratio bounds its output.
    const head = inflate(bytes.subarray(0, end), {
      finishFlush: zlibConstants.Z_SYNC_FLUSH,
      maxOutputLength: DEFLATE_MAX_RATIO * end + 1024,
    });
    if (head === null) throw corrupt(`inflates its first ${end} bytes past deflate's limit`);
    if (end === bytes.length || (head.length >= 4 && head.length >= 4 + 4 * head[3])) {
      header = parseIdxDims(head, path, expectedMagic);
      break;
    }
  }
  const promised = BigInt(header.headerBytes) + header.claimedBytes;
  const what = `${header.dims.join('×')} ${header.dataType}`;
  if (promised > BigInt(MAX_GUNZIPPED_BYTES)) {
    throw new InputError(
      `${path}: its IDX header promises ${promised} bytes (${what}), more than the ${MAX_GUNZIPPED_BYTES} kdkit decompresses; decompress it (gunzip -k) and use the result`,
    );
  }
  const whole = inflate(bytes, { maxOutputLength: Math.max(1, Number(promised)) });
  if (whole === null)
    throw new InputError(
      `${path}: decompresses to more than the ${promised} bytes its IDX header promises (${what}); the file is corrupt or not what its header says`,
    );
  return whole;
}

/** What an IDX header says: the value type, the dimensions and where the values start. */
export interface IdxHeader {
  readonly dataType: IdxDataType;
  readonly bytesPerValue: number;
  /** Size of each dimension, outermost first, e.g. [60000, 28, 28]. */
  readonly dims: readonly number[];
  /** Bytes before the first value: 4 + 4 × rank. */
  readonly headerBytes: number;
}

/**
 * Parses an IDX header from the file's first bytes (`bytes`, at least the header when the file
 * has one) and checks every size it claims against `fileBytes`, the file's whole length, so
 * nothing is allocated or read on a header's word. `source` names the file in errors.
 */
export function parseIdxHeader(bytes: Uint8Array, fileBytes: number, source: string, expectedMagic?: number): IdxHeader {
  const { claimedBytes, ...header } = parseIdxDims(bytes, source, expectedMagic);
  const dataBytes = fileBytes - header.headerBytes;
  if (claimedBytes !== BigInt(dataBytes)) {
    throw new InputError(
      `${source}: wrong length, the header (${header.dims.join('×')} ${header.dataType}) says ${claimedBytes} bytes of data, ` +
        `the file has ${dataBytes} bytes after the ${header.headerBytes}-byte header`,
    );
  }
  return header;
}

/** An IDX header as it reads, sizes not yet checked against anything. */
interface IdxDims extends IdxHeader {
  /** Bytes of values the dimensions promise. */
  readonly claimedBytes: bigint;
}

function parseIdxDims(bytes: Uint8Array, source: string, expectedMagic?: number): IdxDims {
  if (bytes.length < 4) {
    throw new InputError(`${source} is not an IDX file: it has ${bytes.length} bytes, fewer than the 4-byte magic number`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (expectedMagic !== undefined && magic !== expectedMagic) {
    throw new InputError(`${source}: wrong IDX magic number ${hex32(magic)}, expected ${describeMagic(expectedMagic)}`);
  }
  if (bytes[0] !== 0 || bytes[1] !== 0) {
    throw new InputError(`${source} is not an IDX file: magic number ${hex32(magic)} should start with two zero bytes`);
  }
  const typeCode = bytes[2];
  const typeInfo = TYPES_BY_CODE.get(typeCode);
  if (typeInfo === undefined) {
    const known = [...TYPES_BY_CODE].map(([code, info]) => `0x${code.toString(16).padStart(2, '0')} ${info.dataType}`);
    throw new InputError(
      `${source}: unsupported IDX type byte 0x${typeCode.toString(16).padStart(2, '0')}, expected one of ${known.join(', ')}`,
    );
  }
  const rank = bytes[3];
  if (rank === 0) throw new InputError(`${source}: IDX header declares 0 dimensions, expected at least 1`);
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new InputError(
      `${source}: truncated IDX header, ${rank} dimensions need ${headerBytes} header bytes but the file has ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  for (let axis = 0; axis < rank; axis++) dims.push(view.getUint32(4 + 4 * axis, false));

  // BigInt because a product of uint32 dimensions can exceed 2^53.
  const claimedBytes = dims.reduce((product, size) => product * BigInt(size), BigInt(typeInfo.bytesPerValue));
  return { ...typeInfo, dims, headerBytes, claimedBytes };
}

/**
 * Parses IDX bytes. `source` names the file in error messages. When `expectedMagic` is given,
 * any other magic number is an error. Every size the header claims is checked against the
 * actual byte length before anything is allocated.
 */
export function parseIdx(bytes: Uint8Array, source: string, expectedMagic?: number): IdxArray {
  const header = parseIdxHeader(bytes, bytes.length, source, expectedMagic);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    dataType: header.dataType,
    dims: header.dims,
    values: decodeValues(view, header.headerBytes, bytes.length - header.headerBytes, header),
  };
}

function decodeValues(view: DataView, offset: number, byteLength: number, typeInfo: TypeInfo): IdxValues {
  const start = view.byteOffset + offset;
  const count = byteLength / typeInfo.bytesPerValue;
  switch (typeInfo.dataType) {
    case 'uint8':
      return new Uint8Array(view.buffer, start, count);
    case 'int8':
      return new Int8Array(view.buffer, start, count);
    case 'int16': {
      const values = new Int16Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getInt16(offset + 2 * i, false);
      return values;
    }
    case 'int32': {
      const values = new Int32Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getInt32(offset + 4 * i, false);
      return values;
    }
    case 'float32': {
      const values = new Float32Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getFloat32(offset + 4 * i, false);
      return values;
    }
    case 'float64': {
      const values = new Float64Array(count);
      for (let i = 0; i < count; i++) values[i] = view.getFloat64(offset + 8 * i, false);
      return values;
    }
  }
}

/** Reads and parses an IDX file, gzipped or not. */
export function readIdxFile(path: string, expectedMagic?: number): IdxArray {
  return parseIdx(readMaybeGzipped(path, expectedMagic), path, expectedMagic);
}
