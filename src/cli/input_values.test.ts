// Inputs whose values make no sense: non-finite model weights, non-finite or huge pixels, and
// labels past int32 are exit 2 naming the file and where in it, not silent garbage or exit 1.
import { test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { exportOnnx } from '../export/onnx.js';
import { saveModelDir } from '../models/io.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-input-values-'));
const rest =
  'student: {model: {type: mlp, hidden: [4]}}\nbaseline: false\ndistill: {epochs: 1, terms: [{method: kd, weight: 1}]}\nexport: {quantize: [], onnx: false}\n';

function config(name: string, text: string): string {
  const path = join(directory, name);
  writeFileSync(path, text);
  return path;
}

/** A version-1.0 `.npy` with dtype `descr`, `shape` and the little-endian bytes of `data`. */
function npy(descr: string, shape: number[], data: ArrayBufferView): Buffer {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const preamble = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  preamble.writeUInt16LE(header.length, 8);
  return Buffer.concat([preamble, Buffer.from(header, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

/** A digits-shaped model (8×8×1 → 10) whose kernel holds NaN at 17 and ±Infinity at 40 and 41; saved, and exported to ONNX. */
async function modelWithNonFiniteWeights(): Promise<{ saved: string; onnx: string }> {
  await initEngine({ backend: 'wasm' });
  const input = tf.input({ shape: [8, 8, 1] });
  const logits = tf.layers.dense({ units: 10, name: 'dense_1' }).apply(tf.layers.flatten().apply(input)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: input, outputs: logits });
  const kernel = new Float32Array(64 * 10).fill(0.01);
  kernel[17] = NaN;
  kernel[40] = Infinity;
  kernel[41] = -Infinity;
  model.layers[2].setWeights([tf.tensor2d(kernel, [64, 10]), tf.zeros([10])]);
  const saved = join(directory, 'nan-model');
  await saveModelDir(model, saved);
  const onnx = join(directory, 'nan-model.onnx');
  writeFileSync(onnx, exportOnnx(model));
  model.dispose();
  return { saved, onnx };
}

test('a TensorFlow.js model with NaN or infinite weights is exit 2 naming the file and the weight, in eval, export and as a teacher', async () => {
  const { saved, onnx } = await modelWithNonFiniteWeights();
  const refused =
    /nan-model\/model\.json: weight 'dense_1\/kernel' has 3 non-finite values \(NaN at index 17\); the model cannot be evaluated or exported/;
  assertBadInput(kdkit('eval', saved), refused);
  assertBadInput(kdkit('export', saved, '--format', 'tfjs', '--quantize', 'float16', '--out', join(directory, 'float16')), refused);
  assertBadInput(
    kdkit('run', config('load.yaml', `dataset: {name: digits}\nteacher: {load: ${saved}}\n${rest}`), '--out', join(directory, 'run1')),
    refused,
    join(directory, 'run1'),
  );
  assertBadInput(kdkit('eval', onnx), /nan-model\.onnx: initializer '[^']+' has 3 non-finite values \(NaN at index 17\)/);
});

test('float pixels that are NaN or beyond ±1e4 are exit 2 naming the file and the sample, streamed or in memory', () => {
  const labels = join(directory, 'labels.npy');
  writeFileSync(labels, npy('|u1', [6], Uint8Array.of(0, 1, 0, 1, 0, 1)));
  const pixels = (bad: number) => Float32Array.from({ length: 6 * 4 }, (_, i) => (i === 4 * 3 + 2 ? bad : 0.5));
  const datasetWith = (images: string, stream: boolean) =>
    `dataset: {name: npy, train: {images: ${images}, labels: ${labels}}, test: {images: ${images}, labels: ${labels}}, classes: 2, validation: 1, stream: ${stream}}\nteacher: {model: {type: mlp, hidden: [4]}, epochs: 1}\n${rest}`;
  const nan = join(directory, 'nan-images.npy');
  writeFileSync(nan, npy('<f4', [6, 2, 2], pixels(NaN)));
  const huge = join(directory, 'huge-images.npy');
  writeFileSync(huge, npy('<f4', [6, 2, 2], pixels(1e30)));
  for (const stream of [false, true]) {
    assertBadInput(
      kdkit('run', config(`nan-${stream}.yaml`, datasetWith(nan, stream)), '--out', join(directory, `nan-${stream}`)),
      /nan-images\.npy: sample 3 holds NaN; kdkit expects pixels scaled to about \[0, 1\] or standardized, finite and within ±10000/,
      join(directory, `nan-${stream}`),
    );
    assertBadInput(
      kdkit('run', config(`huge-${stream}.yaml`, datasetWith(huge, stream)), '--out', join(directory, `huge-${stream}`)),
      /huge-images\.npy: sample 3 holds 1\.0000000150474662e\+30; kdkit expects pixels/,
      join(directory, `huge-${stream}`),
    );
  }
});

test('an int64 label of 2^40 is exit 2 naming its true value, the file and the index', () => {
  const images = join(directory, 'label-images.npy');
  writeFileSync(images, npy('|u1', [4, 2, 2], new Uint8Array(16)));
  const labels = join(directory, 'wide-labels.npy');
  writeFileSync(labels, npy('<i8', [4], BigInt64Array.of(0n, 1n, 2n ** 40n, 1n)));
  const path = config(
    'wide.yaml',
    `dataset: {name: npy, train: {images: ${images}, labels: ${labels}}, test: {images: ${images}, labels: ${labels}}, classes: 2, validation: 1}\nteacher: {model: {type: mlp, hidden: [4]}, epochs: 1}\n${rest}`,
  );
  assertBadInput(
    kdkit('run', path, '--out', join(directory, 'run2')),
    /wide-labels\.npy: label at index 2 is 1099511627776/,
    join(directory, 'run2'),
  );
});
