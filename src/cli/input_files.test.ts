// Inputs that are not regular files: a FIFO or a device where kdkit expects a file is exit 2,
// naming the file, within seconds (they used to block forever, or read /dev/zero until OOM).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertBadInput, type CliResult } from './cli.test.util.js';
import { gzipBomb, idxBytes } from '../data/idx.test.util.js';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-input-files-'));
const rest =
  'student: {model: {type: mlp, hidden: [4]}}\nbaseline: false\ndistill: {epochs: 1, terms: [{method: kd, weight: 1}]}\nexport: {quantize: [], onnx: false}\n';

/** The CLI, killed (SIGKILL: a process blocked in a read ignores SIGTERM) after `seconds`. */
function kdkitWithin(seconds: number, ...args: string[]): CliResult {
  const result = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: seconds * 1000, killSignal: 'SIGKILL' });
  assert.equal(result.signal, null, `still running after ${seconds} s: kdkit ${args.join(' ')}`);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function fifo(name: string): string {
  const path = join(directory, name);
  execFileSync('mkfifo', [path]);
  return path;
}

function config(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** A version-1.0 `.npy` of uint8 `data` shaped `shape`. */
function npyUint8(shape: number[], data: Uint8Array): Buffer {
  let header = `{'descr': '|u1', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const preamble = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), data]);
}

test('a FIFO as the config file is exit 2 naming it, at once', () => {
  const path = fifo('config.yaml');
  assertBadInput(
    kdkitWithin(20, 'run', path, '--out', join(directory, 'run1')),
    /config\.yaml: cannot read config file: it is a FIFO \(named pipe\), not a regular file/,
  );
});

test("a FIFO as kdkit eval's model.json is exit 2 naming it", () => {
  mkdirSync(join(directory, 'model'));
  fifo('model/model.json');
  assertBadInput(
    kdkitWithin(30, 'eval', join(directory, 'model')),
    /model\/model\.json: cannot read a TensorFlow\.js model\.json: it is a FIFO/,
  );
});

test('a FIFO as a .npy shard is exit 2 naming it and its config field', () => {
  const shard = join(directory, 'images-0.npy');
  writeFileSync(shard, npyUint8([4, 2, 2], new Uint8Array(16)));
  writeFileSync(join(directory, 'labels.npy'), npyUint8([8], Uint8Array.of(0, 1, 0, 1, 0, 1, 0, 1)));
  const pipe = fifo('images-1.npy');
  const dataset = `dataset: {name: npy, train: {images: [${shard}, ${pipe}], labels: ${join(directory, 'labels.npy')}}, test: {images: ${shard}, labels: ${join(directory, 'labels.npy')}}, classes: 2, validation: 1}\n`;
  const path = config('npy.yaml', `${dataset}teacher: {model: {type: mlp, hidden: [4]}, epochs: 1}\n${rest}`);
  assertBadInput(
    kdkitWithin(30, 'run', path, '--out', join(directory, 'run2')),
    /dataset\.train\.images\[1\]: cannot read .*images-1\.npy: it is a FIFO/,
    join(directory, 'run2'),
  );
});

test('a FIFO or /dev/zero as the ONNX teacher is exit 2 naming it', () => {
  const pipe = fifo('teacher.onnx');
  assertBadInput(
    kdkitWithin(
      30,
      'run',
      config('fifo-teacher.yaml', `dataset: {name: digits}\nteacher: {onnx: ${pipe}}\n${rest}`),
      '--out',
      join(directory, 'run3'),
    ),
    /teacher\.onnx: cannot read the ONNX teacher: it is a FIFO/,
    join(directory, 'run3'),
  );
  assertBadInput(
    kdkitWithin(
      30,
      'run',
      config('zero-teacher.yaml', `dataset: {name: digits}\nteacher: {onnx: /dev/zero}\n${rest}`),
      '--out',
      join(directory, 'run4'),
    ),
    /\/dev\/zero: cannot read the ONNX teacher: it is a character device, not a regular file/,
    join(directory, 'run4'),
  );
});

test('a gzipped IDX file that inflates past its header is exit 2 naming it', () => {
  const images = join(directory, 'bomb-images.gz');
  writeFileSync(images, gzipBomb(idxBytes(0x08, [100, 28, 28], new Uint8Array(100 * 784)), 1024, 1024 ** 3));
  const labels = join(directory, 'bomb-labels');
  writeFileSync(
    labels,
    idxBytes(
      0x08,
      [100],
      Array.from({ length: 100 }, (_, i) => i % 10),
    ),
  );
  const dataset = `dataset: {name: idx, train: {images: ${images}, labels: ${labels}}, test: {images: ${images}, labels: ${labels}}, classes: 10}\n`;
  const path = config('bomb.yaml', `${dataset}teacher: {model: {type: mlp, hidden: [4]}, epochs: 1}\n${rest}`);
  assertBadInput(
    kdkitWithin(60, 'run', path, '--out', join(directory, 'run5')),
    /bomb-images\.gz: decompresses to more than the 78416 bytes its IDX header promises/,
    join(directory, 'run5'),
  );
});
