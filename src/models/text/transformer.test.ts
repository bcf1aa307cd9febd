import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { initEngine } from '../../engine/index.js';
import * as tf from '../../engine/tf.js';
import { buildModel, multiplyAccumulates, specParameterCount } from '../build.js';
import { buildTransformer, type TransformerSpec } from './transformer.js';

// PyTorch's BERT arithmetic on the same weights and inputs (scripts/make_transformer_fixture.py).
interface Case {
  pooling: 'cls' | 'mean';
  weights: Record<string, number[] | number[][]>;
  logits: number[][];
  embeddings: number[][][];
  layers: { attention_scores: number[][][][]; hidden: number[][][] }[];
  gradients: Record<string, number[] | number[][]>;
}
const fixture = JSON.parse(readFileSync(new URL('../../../test/fixtures/transformer.json', import.meta.url), 'utf8')) as {
  sizes: { vocab: number; sequence: number; hidden: number; heads: number; intermediate: number; layers: number; classes: number };
  inputs: Record<'input_ids' | 'attention_mask' | 'token_type_ids', number[][]>;
  lossWeights: number[][];
  cases: Case[];
};
const { sizes } = fixture;
await initEngine({ backend: 'wasm' });

function maxDifference(actual: tf.Tensor, expected: unknown): number {
  const values = actual.dataSync();
  const flat = (expected as number[]).flat(4) as number[];
  assert.equal(values.length, flat.length);
  return flat.reduce((max, value, i) => Math.max(max, Math.abs(values[i] - value) / Math.max(1, Math.abs(value))), 0);
}

function model(pooling: 'cls' | 'mean'): tf.LayersModel {
  const spec: TransformerSpec = {
    layers: sizes.layers,
    hidden: sizes.hidden,
    heads: sizes.heads,
    intermediate: sizes.intermediate,
    pooling,
    dropout: 0,
  };
  return buildTransformer(spec, {
    vocabSize: sizes.vocab,
    maxLength: sizes.sequence,
    typeIds: true,
    numClasses: sizes.classes,
    seed: 1,
    name: 'bert',
  });
}

const inputs = () =>
  (['input_ids', 'attention_mask', 'token_type_ids'] as const).map((name) => tf.tensor2d(fixture.inputs[name], undefined, 'int32'));

describe('transformer: BERT against PyTorch on the same weights', () => {
  for (const reference of fixture.cases) {
    it(`pooling ${reference.pooling}: embeddings, attention scores, hidden states, logits and every weight's gradient`, () => {
      const bert = model(reference.pooling);
      const byName = new Map(bert.weights.map((weight) => [weight.originalName, weight]));
      assert.deepEqual([...byName.keys()].sort(), Object.keys(reference.weights).sort());
      for (const [name, values] of Object.entries(reference.weights)) byName.get(name)!.write(tf.tensor(values));

      const taps = ['embeddings', ...reference.layers.flatMap((_, i) => [`layer_${i + 1}.attention_scores`, `layer_${i + 1}.hidden`])];
      const tapped = tf.model({
        inputs: bert.inputs,
        outputs: [bert.outputs[0], ...taps.map((name) => bert.getLayer(name).output as tf.SymbolicTensor)],
      });
      const before = tf.memory().numTensors;
      const x = inputs();
      const [logits, embeddings, ...layers] = tapped.predict(x) as tf.Tensor[];
      assert.ok(maxDifference(logits, reference.logits) < 1e-5, 'logits');
      assert.ok(maxDifference(embeddings, reference.embeddings) < 1e-5, 'embeddings');
      reference.layers.forEach((layer, i) => {
        // Masked scores are about −10,000, where float32 steps by 0.001: relative error.
        assert.ok(maxDifference(layers[2 * i], layer.attention_scores) < 1e-5, `layer_${i + 1}.attention_scores`);
        assert.ok(maxDifference(layers[2 * i + 1], layer.hidden) < 1e-5, `layer_${i + 1}.hidden`);
      });

      const lossWeights = tf.tensor2d(fixture.lossWeights);
      const { value, grads } = tf.variableGrads(
        () => tf.sum(tf.mul(bert.apply(x, { training: true }) as tf.Tensor, lossWeights)) as tf.Scalar,
      );
      for (const [name, expected] of Object.entries(reference.gradients)) {
        const gradient = grads[byName.get(name)!.name];
        // Gradients that are 0 in exact arithmetic (the key biases') are compared absolutely.
        const flat = (expected as number[]).flat() as number[];
        const difference = Array.from(gradient.dataSync()).reduce((max, value, i) => Math.max(max, Math.abs(value - flat[i])), 0);
        const scale = Math.max(...flat.map(Math.abs));
        assert.ok(difference <= 1e-5 * Math.max(1, scale) + 1e-6, `${name}: gradient differs by ${difference}`);
      }
      tf.dispose([x, logits, embeddings, layers, lossWeights, value, Object.values(grads)]);
      assert.equal(tf.memory().numTensors, before, 'no tensor leaks');
    });
  }
});

describe('transformer: model.json', () => {
  it('round-trips topology and weights exactly, custom layers included', async () => {
    for (const pooling of ['cls', 'mean'] as const) {
      const bert = model(pooling);
      let saved: tf.io.ModelArtifacts | undefined;
      await bert.save(
        tf.io.withSaveHandler(async (artifacts) => {
          saved = artifacts;
          return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
        }),
      );
      const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved!));
      const x = inputs();
      const [expected, actual] = [bert, loaded].map((each) => each.predict(x) as tf.Tensor);
      assert.deepEqual(Array.from(actual.dataSync()), Array.from(expected.dataSync()));
      assert.deepEqual(
        loaded.layers.map((layer) => layer.getClassName()).filter((name) => name.startsWith('Kdkit')),
        bert.layers.map((layer) => layer.getClassName()).filter((name) => name.startsWith('Kdkit')),
      );
      tf.dispose([x, expected, actual]);
    }
  });
});

describe('text models from a spec', () => {
  const tokens = [
    { name: 'input_ids', dtype: 'int32', shape: [16], vocabulary: 1000 },
    { name: 'attention_mask', dtype: 'int32', shape: [16], vocabulary: 2 },
    { name: 'token_type_ids', dtype: 'int32', shape: [16], vocabulary: 2 },
  ] as const;
  const options = { inputs: tokens, numClasses: 5, seed: 3, name: 'text' };

  it('counts weights and multiply-accumulates by hand', () => {
    const spec = { type: 'transformer', layers: 2, hidden: 32, heads: 4, intermediate: 64, pooling: 'cls', dropout: 0.1 } as const;
    const bert = buildModel(spec, options);
    // Embeddings (1000 + 16 + 2)·32 + 64; per layer 4·(32·32 + 32) + 64 + 32·64 + 64 + 64·32 + 32 + 64; pooler 32·32 + 32; logits 32·5 + 5.
    const expected = 1018 * 32 + 64 + 2 * (4 * 1056 + 64 + 2048 + 64 + 2048 + 32 + 64) + 1056 + 165;
    assert.equal(bert.countParams(), expected);
    assert.equal(specParameterCount(spec, options), expected);
    // Per layer: 4 projections of 16 tokens 32×32, attention 2 · 16·16·32, feed-forward 16 · 2 · 32·64; pooler 32·32, logits 32·5.
    assert.equal(multiplyAccumulates(bert), 2 * (4 * 16 * 1024 + 2 * 16 * 16 * 32 + 16 * 2 * 2048) + 1024 + 160);
    const bag = buildModel({ type: 'embeddingbag', dimensions: 8, hidden: [6], dropout: 0 }, options);
    assert.equal(bag.countParams(), 1000 * 8 + 8 * 6 + 6 + 6 * 5 + 5);
    assert.deepEqual(
      bag.inputLayers.map((layer) => layer.name),
      ['input_ids', 'attention_mask'],
    );
    tf.dispose([bert, bag].flatMap((model) => model.weights.map((weight) => weight.read())));
  });

  it('names the field when a text model meets images, and the other way round', () => {
    assert.throws(
      () =>
        buildModel(
          { type: 'transformer', layers: 1, hidden: 8, heads: 2, intermediate: 8, pooling: 'cls', dropout: 0 },
          { inputShape: [8, 8, 1], numClasses: 3, seed: 1, name: 'x', field: 'student.model' },
        ),
      /student\.model: type 'transformer' reads text: int32 input_ids \(with a tokenizer's vocabulary\) and attention_mask; the dataset's samples are images \[8, 8, 1\]/,
    );
    assert.throws(
      () =>
        buildModel(
          { type: 'cnn', filters: [4], kernelSize: 3, dense: [], dropout: 0, batchNorm: false },
          { ...options, field: 'teacher.model' },
        ),
      /teacher\.model \(type cnn\): this model needs images .*input_ids int32 \[16\]/,
    );
    assert.throws(
      () =>
        buildModel(
          { type: 'transformer', layers: 1, hidden: 10, heads: 4, intermediate: 8, pooling: 'cls', dropout: 0 },
          { ...options, field: 'student.model' },
        ),
      /student\.model\.heads: 4 heads do not divide hidden 10/,
    );
  });
});
