import { constants as zlibConstants, deflateRawSync } from 'node:zlib';

/** Test helper: an IDX file. Header: 0, 0, type byte, dims count, each dim as big-endian uint32; then the data. */
export function idxBytes(typeCode: number, dims: number[], data: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((size, axis) => {
    header.writeUInt32BE(size, 4 + 4 * axis);
  });
  return Buffer.concat([header, Buffer.from(Uint8Array.from(data))]);
}

/**
 * Test helper: a gzip file of `prefix` followed by `zeroMiB` MiB of zeros, whose trailer records
 * `trailerSize` bytes. Built from one deflated MiB of zeros repeated (each copy sync-flushed, so
 * copies concatenate), so a gigabyte-sized bomb costs about a megabyte and no time to make.
 * The trailer's CRC is left 0: zlib stops at maxOutputLength before it would check it.
 */
export function gzipBomb(prefix: Uint8Array, zeroMiB: number, trailerSize: number): Buffer {
  const flushed = { finishFlush: zlibConstants.Z_SYNC_FLUSH };
  const zeros = deflateRawSync(new Uint8Array(1 << 20), flushed);
  const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(trailerSize >>> 0, 4);
  return Buffer.concat([
    header,
    deflateRawSync(prefix, flushed),
    ...Array.from({ length: zeroMiB }, () => zeros),
    deflateRawSync(new Uint8Array(0)),
    trailer,
  ]);
}
