import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { buildModel } from '../models/build.js';
import { loadModelDir } from '../models/io.js';
import { quantizeUint8, quantizedSizes, saveQuantizedModelDir } from './quantize.js';

await initEngine({ backend: 'wasm' });

test('uint8 quantization widens the range to 0 and represents 0 exactly (tfjs-converter scheme)', () => {
  // Range [−0.5, 2]: scale 2.5/255; zero point round(0.5/scale) = 51, so min = −51·scale = −0.5.
  const { scale, min, quantized } = quantizeUint8(Float32Array.of(-0.5, 0, 1, 2));
  assert.ok(Math.abs(scale - 2.5 / 255) < 1e-15);
  assert.ok(Math.abs(min + 0.5) < 1e-12);
  assert.deepEqual([...quantized], [0, 51, 153, 255]);
  // All positive: the range starts at 0.
  const positive = quantizeUint8(Float32Array.of(1, 3));
  assert.equal(positive.min, 0);
  assert.deepEqual([...positive.quantized], [85, 255]);
  // A constant-zero tensor does not divide by zero.
  assert.deepEqual([...quantizeUint8(new Float32Array(3)).quantized], [0, 0, 0]);
});

test("quantized copies load with stock tf.loadLayersModel and keep their weights within the format's error", async () => {
  const model = buildModel(
    { type: 'cnn', filters: [8], kernelSize: 3, dense: [64], dropout: 0.2, batchNorm: true },
    { inputShape: [28, 28, 1], numClasses: 10, seed: 3, name: 'q' },
  );
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-quantize-'));
  const before = tf.memory().numTensors;
  const original = model.getWeights().map((weight) => weight.dataSync() as Float32Array);
  for (const quantization of ['float16', 'uint8'] as const) {
    const saved = await saveQuantizedModelDir(model, join(directory, quantization), quantization);
    const loaded = await loadModelDir(saved.modelJsonPath);
    loaded.getWeights().forEach((weight, index) => {
      const values = weight.dataSync() as Float32Array;
      const reference = original[index];
      let low = 0;
      let high = 0;
      for (const value of reference) [low, high] = [Math.min(low, value), Math.max(high, value)];
      for (let i = 0; i < values.length; i++) {
        // float16 keeps 11 significant bits; uint8 is within half a step of its per-tensor range.
        const bound = quantization === 'float16' ? Math.abs(reference[i]) * 2 ** -11 + 1e-7 : (high - low) / 255 / 2 + 1e-7;
        assert.ok(Math.abs(values[i] - reference[i]) <= bound, `${quantization} weight ${index}[${i}]: ${values[i]} vs ${reference[i]}`);
      }
    });
    loaded.dispose();
  }
  assert.equal(tf.memory().numTensors, before, 'no leaked tensors');
  model.dispose();
});

test('uint8 weights are at most 0.27× and float16 at most 0.52× the float32 size of a 100k-parameter model', async () => {
  const model = buildModel(
    { type: 'mlp', hidden: [128], dropout: 0, activation: 'relu' },
    { inputShape: [28, 28, 1], numClasses: 10, seed: 1, name: 'size' },
  );
  assert.ok(model.countParams() > 100_000);
  const sizes = await quantizedSizes(model);
  assert.ok(sizes.uint8 / sizes.float32 <= 0.27, `uint8 ratio ${sizes.uint8 / sizes.float32}`);
  assert.ok(sizes.float16 / sizes.float32 <= 0.52, `float16 ratio ${sizes.float16 / sizes.float32}`);
  assert.ok(sizes.uint8 >= model.countParams(), 'one byte per weight at least');
  model.dispose();
});
