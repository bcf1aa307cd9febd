import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { decodeModel } from '../engine/ort/onnx_model.js';
import { memoryDataset, type InputField } from '../data/dataset.js';
import type { ModelSpec } from '../config/schema.js';
import { buildModel } from '../models/build.js';
import { Rng } from '../util/rng.js';
import { exportOnnx } from './onnx.js';
import { randomizeWeights } from './onnx.test.util.js';
import { OnnxSession, measureOnnxLatency, onnxLogits } from './onnx_run.js';

await initEngine({ backend: 'cpu' });

const SEQUENCE = 12;
const VOCABULARY = 50;
const fields = (typeIds: boolean): InputField[] => [
  { name: 'input_ids', dtype: 'int32', shape: [SEQUENCE], vocabulary: VOCABULARY },
  { name: 'attention_mask', dtype: 'int32', shape: [SEQUENCE], vocabulary: 2 },
  ...(typeIds ? [{ name: 'token_type_ids', dtype: 'int32' as const, shape: [SEQUENCE], vocabulary: 2 }] : []),
];

/** `count` padded token rows of lengths from 1 to SEQUENCE, as a tokenizer gives them. */
function tokens(count: number, typeIds: boolean, seed = 5): Record<string, Int32Array> {
  const rng = new Rng(seed);
  const ids = new Int32Array(count * SEQUENCE);
  const mask = new Int32Array(count * SEQUENCE);
  const types = new Int32Array(count * SEQUENCE);
  for (let row = 0; row < count; row++) {
    const length = 1 + (row % SEQUENCE);
    for (let i = 0; i < length; i++) {
      ids[row * SEQUENCE + i] = 1 + Math.floor(rng.next() * (VOCABULARY - 1));
      mask[row * SEQUENCE + i] = 1;
      types[row * SEQUENCE + i] = i >= length / 2 ? 1 : 0;
    }
  }
  return { input_ids: ids, attention_mask: mask, ...(typeIds ? { token_type_ids: types } : {}) };
}

function build(spec: ModelSpec, typeIds: boolean): tf.LayersModel {
  const model = buildModel(spec, { inputs: fields(typeIds), numClasses: 4, seed: 2, name: 'text' });
  // Larger than BERT's initial weights, so that every layer moves the logits.
  randomizeWeights(model, 3);
  return model;
}

const reference = (model: tf.LayersModel, values: Record<string, Int32Array>, count: number) =>
  tf.tidy(() => {
    const inputs = model.inputNames.map((name) => tf.tensor2d(values[name], [count, SEQUENCE], 'int32'));
    return (model.predict(inputs) as tf.Tensor).dataSync() as Float32Array;
  });

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);

const transformer = (pooling: 'cls' | 'mean'): ModelSpec => ({
  type: 'transformer',
  layers: 2,
  hidden: 16,
  heads: 4,
  intermediate: 32,
  pooling,
  dropout: 0.1,
});

describe('ONNX export of text models', () => {
  const cases: Array<[string, ModelSpec, boolean]> = [
    ['transformer, cls pooling, token types', transformer('cls'), true],
    ['transformer, mean pooling', transformer('mean'), false],
    ['embedding bag', { type: 'embeddingbag', dimensions: 8, hidden: [6], dropout: 0.2 }, false],
  ];
  for (const [name, spec, typeIds] of cases) {
    it(`${name}: ONNX Runtime gives TensorFlow.js' logits on padded rows`, async () => {
      const model = build(spec, typeIds);
      const count = 24;
      const values = tokens(count, typeIds);
      const dataset = memoryDataset({
        name: 'tokens',
        inputs: fields(typeIds),
        values,
        labels: new Int32Array(count),
        numClasses: 4,
        classNames: ['a', 'b', 'c', 'd'],
      });
      const logits = await onnxLogits(exportOnnx(model), dataset, { batchSize: 10 });
      const expected = reference(model, values, count);
      assert.ok(maxDiff(logits, expected) < 1e-4, `max |difference| ${maxDiff(logits, expected)}`);
      model.dispose();
    });
  }

  it('takes int64 input_ids, attention_mask and token_type_ids with symbolic batch and sequence, as Hugging Face exports BERT', () => {
    const model = build(transformer('cls'), true);
    const decoded = decodeModel(exportOnnx(model)) as {
      graph: { input: Array<{ name: string; type: { tensorType: { elemType: number; shape: { dim: Array<{ dimParam?: string }> } } } }> };
    };
    for (const [i, name] of ['input_ids', 'attention_mask', 'token_type_ids'].entries()) {
      const input = decoded.graph.input[i];
      assert.equal(input.name, name);
      assert.equal(input.type.tensorType.elemType, 7, 'int64');
      assert.deepEqual(
        input.type.tensorType.shape.dim.map((dim) => dim.dimParam),
        ['batch', 'sequence'],
      );
    }
    model.dispose();
  });

  it('runs a shorter sequence than the model was built for: the positions are sliced to the input', async () => {
    for (const spec of [transformer('cls'), transformer('mean')]) {
      const model = build(spec, false);
      const count = 3;
      const values = tokens(count, false, 9);
      // Rows no longer than 5 tokens: cut to 5 columns, they must give the same logits as padded to 12.
      for (const key of Object.keys(values)) for (let i = 0; i < values[key].length; i++) if (i % SEQUENCE >= 5) values[key][i] = 0;
      const expected = reference(model, values, count);
      const short = (array: Int32Array) =>
        BigInt64Array.from(
          Array.from({ length: count * 5 }, (_, i) => array[Math.floor(i / 5) * SEQUENCE + (i % 5)]),
          (value) => BigInt(value),
        );
      const session = await OnnxSession.create(exportOnnx(model));
      const logits = await session.runFeeds({
        input_ids: new ort.Tensor('int64', short(values.input_ids), [count, 5]),
        attention_mask: new ort.Tensor('int64', short(values.attention_mask), [count, 5]),
      });
      await session.release();
      assert.ok(maxDiff(logits, expected) < 1e-4, `${spec.type} ${'pooling' in spec ? spec.pooling : ''}: ${maxDiff(logits, expected)}`);
      model.dispose();
    }
  });

  it('times a text model on synthetic tokens, and names a model input the data lacks', async () => {
    const model = build(transformer('mean'), false);
    const bytes = exportOnnx(model);
    const stats = await measureOnnxLatency(bytes, fields(false), 1, { minRepeats: 3, minTotalMs: 0 });
    assert.ok(stats.p50Ms > 0 && stats.batchSize === 1);
    const onlyIds = memoryDataset({
      name: 'ids',
      inputs: [fields(false)[0]],
      values: { input_ids: new Int32Array(SEQUENCE) },
      labels: new Int32Array(1),
      numClasses: 4,
      classNames: ['a', 'b', 'c', 'd'],
    });
    await assert.rejects(
      onnxLogits(bytes, onlyIds, { source: 'student.onnx' }),
      /student\.onnx: input 'attention_mask' matches none of the data's fields/,
    );
    model.dispose();
  });
});
