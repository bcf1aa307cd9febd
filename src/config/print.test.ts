import { test } from 'node:test';
import assert from 'node:assert/strict';
import { demoConfig } from './demo.js';
import { parseConfig, parseConfigText } from './parse.js';
import { configInput, formatConfig } from './print.js';
import type { ExperimentConfig } from './schema.js';

/** parse(print(config)) is config, through the object and through the YAML text. */
function assertRoundTrip(config: ExperimentConfig): void {
  assert.deepEqual(parseConfig(configInput(config), 'printed'), config);
  assert.deepEqual(parseConfigText(formatConfig(config), 'printed.yaml'), config);
}

test('the demo configs print as configs that parse back to themselves', () => {
  for (const [dataset, quick] of [
    ['digits', false],
    ['digits', true],
    ['fashion-mnist', false],
  ] as const) {
    assertRoundTrip(parseConfig(demoConfig(dataset, { seed: 7, quick, dataPath: '/data/fmnist' }), 'demo'));
  }
});

test('feature terms, schedules, stages, a preset and every optional section survive the round trip', () => {
  const config = parseConfig(
    {
      seed: 3,
      backend: 'cpu',
      dataset: {
        name: 'npy',
        train: { images: 'x-*.npy', labels: ['y-1.npy', 'y-2.npy'] },
        test: { images: 'tx.npy', labels: 'ty.npy' },
        classes: ['cat', 'dog'],
        layout: 'nchw',
        stream: true,
        validation: 0,
      },
      teacher: {
        model: { type: 'cnn', filters: [8, 16], dense: [32], batchNorm: true },
        epochs: 2,
        batchSize: 16,
        optimizer: { type: 'momentum', learningRate: 0.01, momentum: 0.8 },
      },
      student: { model: { type: 'mlp', hidden: [16], dropout: 0.1, activation: 'tanh' } },
      baseline: false,
      distill: { epochs: 3, batchSize: 8, preset: 'adaptive' },
      stages: [
        { model: 'teacher', epochs: 1 },
        {
          model: { type: 'cnn', filters: [4] },
          batchSize: 4,
          terms: [
            {
              method: 'kd',
              weight: { schedule: 'warmup', to: 0.5, epochs: 2 },
              temperature: { schedule: 'step', values: [4, 2], at: [0.5] },
            },
            { method: 'hint', weight: 1, student: 'conv_1', teacher: 'penultimate', adapter: 'none' },
            { method: 'rkd', weight: 0.5, student: 'penultimate', teacher: 'penultimate', distanceWeight: 10 },
            { method: 'dkd', weight: { schedule: 'linear', from: 1, to: 0 } },
          ],
        },
      ],
      softLabels: { store: '/tmp/store', dtype: 'float16', topK: 3, shardSize: 100 },
      checkpoints: { everyMinutes: 2.5, keep: 1 },
      divergence: { maxGradNorm: 50, lrBackoff: 2 },
      deploy: { maxSizeBytes: 1e5, minAccuracy: 0.9, quantization: 'uint8', runtime: 'onnxruntime' },
      export: { quantize: ['uint8'], onnxLayout: 'nchw' },
    },
    'full',
  );
  assertRoundTrip(config);
  // The printed preset stays a preset, and stage terms are written out in full.
  const printed = configInput(config);
  assert.equal(printed.distill.preset, 'adaptive');
  assert.equal(printed.distill.terms, undefined);
  assert.deepEqual(printed.stages?.[1].terms?.[1], {
    method: 'hint',
    weight: 1,
    student: 'conv_1',
    teacher: 'penultimate',
    adapter: 'none',
  });
});

test('a config with explicit terms prints them with their options inline, as a config file has them', () => {
  const config = parseConfig(demoConfig('digits', { seed: 1, quick: true }), 'demo');
  assert.deepEqual(configInput(config).distill.terms, [
    { method: 'kd', weight: 0.9, temperature: 4 },
    { method: 'ce', weight: 0.1 },
  ]);
  assert.doesNotMatch(formatConfig(config), /options/);
});
