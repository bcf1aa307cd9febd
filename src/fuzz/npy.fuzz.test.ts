// Fuzzes the `.npy` decoder that reads soft-label shards and teacher features: damaged bytes, and
// headers whose dict claims hostile dtypes and shapes. See mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InputError } from '../errors.js';
import { decodeNpy, encodeNpy } from '../util/npy.js';
import { applyByteMutations, byteMutations, expectParsedOrInputError, fuzzOptions } from './mutate.test.util.js';

const ITEM_BYTES = { float32: 4, float16: 2, int32: 4 } as const;

const seeds = [
  encodeNpy({ dtype: 'float32', data: Float32Array.from({ length: 6 }, (_, i) => i / 3), shape: [2, 3] }),
  encodeNpy({ dtype: 'float16', data: new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]), shape: [4] }),
  encodeNpy({ dtype: 'int32', data: new Int32Array([1, -2, 3, -4]), shape: [1, 2, 2] }),
  encodeNpy({ dtype: 'float32', data: new Float32Array(0), shape: [0, 5] }),
];
// Version bytes, the header length, and the start of the header dict.
const headerOffsets = [6, 7, 8, 9, 10];

/** A version 1.0 or 2.0 file with this header dict and data, padded as numpy pads it. */
function npyWithHeader(dict: string, data: Uint8Array, major: 1 | 2): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const header = `${dict}${' '.repeat((64 - ((prefix + dict.length + 1) % 64)) % 64)}\n`;
  const out = Buffer.alloc(prefix + header.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  if (major === 1) out.writeUInt16LE(header.length, 8);
  else out.writeUInt32LE(header.length, 8);
  out.write(header, prefix, 'latin1');
  out.set(data, prefix + header.length);
  return out;
}

function checkDecoded(decoded: ReturnType<typeof decodeNpy>, totalBytes: number): void {
  assert.ok(decoded.shape.every((dim) => Number.isSafeInteger(dim) && dim >= 0));
  assert.equal(
    decoded.data.length,
    decoded.shape.reduce((product, dim) => product * dim, 1),
  );
  assert.ok(decoded.data.length * ITEM_BYTES[decoded.dtype] <= totalBytes);
}

test('decodeNpy: truncated, bit-flipped and oversized .npy bytes decode consistently or are InputErrors', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(fc.nat(), byteMutations(headerOffsets), async (seedIndex, mutations) => {
      inputs++;
      const bytes = applyByteMutations(seeds[seedIndex % seeds.length], mutations);
      const decoded = await expectParsedOrInputError('fuzz.npy', bytes.length, () => decodeNpy(bytes, 'fuzz.npy'));
      if (decoded) checkDecoded(decoded, bytes.length);
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`decodeNpy (bytes): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

const dimText = fc.oneof(
  fc.constantFrom(
    '0',
    '-1',
    '1.5',
    '2147483648',
    '4294967296',
    '9007199254740993',
    '1e300',
    'NaN',
    'Infinity',
    '0x10',
    '',
    ' ',
    'None',
    "'3'",
  ),
  fc.nat({ max: 16 }).map(String),
);

test('decodeNpy: header dicts with hostile dtypes, orders and shapes are InputErrors, never a claimed-size allocation', async (t) => {
  let inputs = 0;
  const header = fc.record({
    descr: fc.constantFrom('<f4', '<f2', '<i4', '>f4', '|u1', '<f8', "<f4', 'x", ''),
    fortran: fc.constantFrom('False', 'True', 'false', '0'),
    dims: fc.array(dimText, { maxLength: 5 }),
    trailingComma: fc.boolean(),
    major: fc.constantFrom(1 as const, 2 as const),
    dataBytes: fc.nat({ max: 256 }),
  });
  await fc.assert(
    fc.asyncProperty(header, async ({ descr, fortran, dims, trailingComma, major, dataBytes }) => {
      inputs++;
      const shape = `(${dims.join(', ')}${trailingComma ? ',' : ''})`;
      const bytes = npyWithHeader(
        `{'descr': '${descr}', 'fortran_order': ${fortran}, 'shape': ${shape}, }`,
        new Uint8Array(dataBytes),
        major,
      );
      const decoded = await expectParsedOrInputError('hostile.npy', bytes.length, () => decodeNpy(bytes, 'hostile.npy'));
      if (decoded) checkDecoded(decoded, bytes.length);
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`decodeNpy (header dicts): ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('a header claiming shape (2^31, 2^31) over 8 bytes of data allocates nothing', () => {
  const bytes = npyWithHeader("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648, 2147483648), }", new Uint8Array(8), 1);
  const before = process.memoryUsage().arrayBuffers;
  assert.throws(
    () => decodeNpy(bytes, 'huge.npy'),
    (error: unknown) => error instanceof InputError && /huge\.npy: header promises/.test(error.message),
  );
  assert.ok(process.memoryUsage().arrayBuffers - before < 1024 * 1024);
});

test('an unknown format version is an InputError', () => {
  const bytes = Uint8Array.from(seeds[0]);
  bytes[6] = 9;
  assert.throws(() => decodeNpy(bytes, 'v9.npy'), /v9\.npy: \.npy format version 9\.0 is not supported/);
});
