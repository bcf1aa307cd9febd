import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeNpy, encodeNpy } from './npy.js';
import { InputError } from '../errors.js';

test('npy round trip keeps shape, dtype and values', () => {
  const data = new Float32Array([1.5, -2, 3.25, 0, 7, 8]);
  const decoded = decodeNpy(encodeNpy({ dtype: 'float32', data, shape: [2, 3] }), 'x.npy');
  assert.deepEqual(decoded.shape, [2, 3]);
  assert.equal(decoded.dtype, 'float32');
  assert.deepEqual([...decoded.data], [...data]);
});

test('npy header is padded so the data starts on a 64-byte boundary', () => {
  const bytes = encodeNpy({ dtype: 'int32', data: new Int32Array([1, 2, 3]), shape: [3] });
  const headerLength = bytes[8] | (bytes[9] << 8);
  assert.equal((10 + headerLength) % 64, 0);
  assert.equal(bytes[10 + headerLength - 1], 0x0a);
});

test('numpy reads what kdkit writes', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-npy-'));
  const path = join(directory, 'a.npy');
  writeFileSync(path, encodeNpy({ dtype: 'float32', data: new Float32Array([0.5, 1, 2, 4]), shape: [2, 2] }));
  const printed = execFileSync('/usr/bin/python3', [
    '-c',
    `import numpy; a = numpy.load(${JSON.stringify(path)}); print(a.dtype, a.shape, a.sum())`,
  ])
    .toString()
    .trim();
  assert.equal(printed, 'float32 (2, 2) 7.5');
});

test('a truncated npy is an InputError naming the file', () => {
  const bytes = encodeNpy({ dtype: 'float32', data: new Float32Array(10), shape: [10] });
  assert.throws(
    () => decodeNpy(bytes.subarray(0, bytes.length - 4), 'soft.npy'),
    (error: unknown) => error instanceof InputError && /soft\.npy/.test(error.message),
  );
  assert.throws(() => decodeNpy(new Uint8Array([1, 2, 3]), 'soft.npy'), InputError);
});

test('float16 travels as binary16 bit patterns and numpy reads it as float16', () => {
  // 1 = 0x3c00, -2 = 0xc000, 0.5 = 0x3800, 65504 (the largest finite half) = 0x7bff.
  const bits = new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]);
  const bytes = encodeNpy({ dtype: 'float16', data: bits, shape: [2, 2] });
  const decoded = decodeNpy(bytes, 'h.npy');
  assert.equal(decoded.dtype, 'float16');
  assert.deepEqual(decoded.shape, [2, 2]);
  assert.deepEqual([...decoded.data], [...bits]);
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-npy-'));
  const path = join(directory, 'h.npy');
  writeFileSync(path, bytes);
  const printed = execFileSync('/usr/bin/python3', [
    '-c',
    `import numpy; a = numpy.load(${JSON.stringify(path)}); print(a.dtype, a.shape, a.ravel().tolist())`,
  ])
    .toString()
    .trim();
  assert.equal(printed, 'float16 (2, 2) [1.0, -2.0, 0.5, 65504.0]');
});

test('kdkit reads a float16 .npy that numpy wrote', () => {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-npy-'));
  const path = join(directory, 'n.npy');
  execFileSync('/usr/bin/python3', ['-c', `import numpy; numpy.save(${JSON.stringify(path)}, numpy.array([1.5, -0.25], dtype='<f2'))`]);
  const decoded = decodeNpy(readFileSync(path), 'n.npy');
  // 1.5 = sign 0, exponent 15, mantissa 0x200 → 0x3e00; -0.25 = sign 1, exponent 13 → 0xb400.
  assert.deepEqual({ dtype: decoded.dtype, data: [...decoded.data] }, { dtype: 'float16', data: [0x3e00, 0xb400] });
});

test('an unsupported dtype is an InputError naming the file and the dtypes kdkit reads', () => {
  const bytes = Buffer.from(encodeNpy({ dtype: 'float32', data: new Float32Array(2), shape: [2] }));
  bytes.write("'<f8'", bytes.indexOf("'<f4'"), 'latin1');
  assert.throws(
    () => decodeNpy(bytes, 'wide.npy'),
    (error: unknown) => error instanceof InputError && /wide\.npy: dtype '<f8'.*'<f2'/.test(error.message),
  );
});
