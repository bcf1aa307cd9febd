/** Test helper: an IDX file. Header: 0, 0, type byte, dims count, each dim as big-endian uint32; then the data. */
export function idxBytes(typeCode: number, dims: number[], data: ArrayLike<number>): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header[2] = typeCode;
  header[3] = dims.length;
  dims.forEach((size, axis) => header.writeUInt32BE(size, 4 + 4 * axis));
  return Buffer.concat([header, Buffer.from(Uint8Array.from(data))]);
}
