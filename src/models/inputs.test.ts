import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { imageDataset, memoryDataset } from '../data/dataset.js';
import { subset } from '../data/split.js';
import { InputError } from '../errors.js';
import { buildModel } from './build.js';
import { checkModelInputs, modelInputs, pairInputs } from './inputs.js';
import { expectedLogits, LENGTH, TOKEN_FIELDS, TOKENS, textDataset, textModel } from './inputs.test.util.js';
import { predictLogits } from './predict.js';

await initEngine({ backend: 'wasm' });

function throwsInput(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, String(error));
    assert.match(error.message, pattern);
    return true;
  });
}

test("pairInputs: one field and one input pair whatever their names; otherwise by name or alias, in the inputs' order", () => {
  assert.deepEqual(pairInputs([{ name: 'input_1' }], ['image'], 'm'), ['image']);
  assert.deepEqual(pairInputs([{ name: 'attention_mask' }, { name: 'input_ids' }], ['input_ids', 'attention_mask'], 'm'), [
    'attention_mask',
    'input_ids',
  ]);
  assert.deepEqual(pairInputs([{ name: 'ids_layer', aliases: ['input_ids'] }], ['input_ids', 'token_type_ids'], 'm'), ['input_ids']);
  throwsInput(
    () => pairInputs([{ name: 'input_ids' }, { name: 'attention_mask' }], ['input_ids'], "model 'm'"),
    /^model 'm': the data has no field for input 'attention_mask'; its samples have 'input_ids'$/,
  );
  throwsInput(
    () => pairInputs([{ name: 'input_ids' }], ['ids', 'mask'], 'm'),
    /^m: the data has no field for input 'input_ids'; its samples have 'ids', 'mask'$/,
  );
});

test('predictLogits of a two-input model (embedding, masking by multiplication) over two int32 fields gives the logits computed by hand, and leaks nothing', () => {
  const model = textModel();
  const dataset = textDataset();
  const before = tf.memory().numTensors;
  // Batches of 2 (the last one partial) over 5 samples.
  const logits = predictLogits(model, dataset, 2);
  assert.equal(tf.memory().numTensors, before);
  const expected = expectedLogits();
  assert.equal(logits.length, expected.length);
  expected.forEach((value, i) => {
    assert.ok(Math.abs(logits[i] - value) < 1e-5, `logit ${i}: ${logits[i]}, expected ${value}`);
  });
  // A subset (as a split makes) predicts its own samples, in its order.
  const part = predictLogits(model, subset(dataset, [4, 1]));
  [4, 1].forEach((sample, row) => {
    for (const c of [0, 1]) assert.ok(Math.abs(part[row * 2 + c] - expected[sample * 2 + c]) < 1e-5);
  });
  model.dispose();
});

test("a second model with the same input names pairs by its layers' names, though its symbolic tensors are renamed", () => {
  const first = textModel('first');
  const second = textModel('second');
  assert.notEqual(second.inputs[1].name, 'input_ids', "tfjs gives the second model's input tensors new names");
  const batch = {
    input_ids: tf.tensor2d(TOKENS.input_ids, [5, LENGTH], 'int32'),
    attention_mask: tf.tensor2d(TOKENS.attention_mask, [5, LENGTH], 'int32'),
  };
  const fed = modelInputs(second, batch);
  assert.deepEqual(fed, [batch.attention_mask, batch.input_ids]);
  tf.dispose(Object.values(batch));
  first.dispose();
  second.dispose();
});

test('a dataset missing attention_mask is an InputError naming it and the fields present; a shape that does not fit names the input', () => {
  const model = textModel();
  const idsOnly = idsOnlyDataset();
  throwsInput(
    () => predictLogits(model, idsOnly),
    /^text\/ids: model 'text': the data has no field for input 'attention_mask'; its samples have 'input_ids'$/,
  );
  throwsInput(
    () => checkModelInputs(model, idsOnly.inputs, 'teacher.load'),
    /^teacher\.load: the data has no field for input 'attention_mask'/,
  );
  checkModelInputs(model, TOKEN_FIELDS, 'teacher.load');
  throwsInput(
    () =>
      checkModelInputs(
        model,
        TOKEN_FIELDS.map((field) => ({ ...field, shape: [LENGTH + 1] })),
        'teacher.load',
      ),
    /^teacher\.load: the model expects input 'attention_mask' of \[3\], the data's 'attention_mask' samples are \[4\]$/,
  );
  model.dispose();
});

test('a one-input image model takes the one field of an image dataset whatever the names', () => {
  const model = buildModel(
    { type: 'mlp', hidden: [4], dropout: 0, activation: 'relu' },
    { inputShape: [2, 2, 1], numClasses: 3, seed: 1, name: 'images' },
  );
  const images = Float32Array.from({ length: 12 }, (_, i) => i / 12);
  const dataset = imageDataset({
    name: 'tiny',
    images,
    labels: new Int32Array(3),
    sampleShape: [2, 2, 1],
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
  });
  const direct = tf.tidy(() => (model.predict(tf.tensor4d(images, [3, 2, 2, 1])) as tf.Tensor).dataSync());
  assert.deepEqual(predictLogits(model, dataset), direct);
  throwsInput(
    () => checkModelInputs(model, [{ name: 'image', dtype: 'float32', shape: [3, 3, 1] }], 'm'),
    /^m: the model expects input '[\w]+' of \[2, 2, 1\], the data's 'image' samples are \[3, 3, 1\]$/,
  );
  model.dispose();
});

/** The text dataset with its input_ids alone. */
function idsOnlyDataset() {
  return memoryDataset({
    name: 'text/ids',
    inputs: [TOKEN_FIELDS[0]],
    values: { input_ids: TOKENS.input_ids },
    labels: new Int32Array(5),
    numClasses: 2,
    classNames: ['neg', 'pos'],
  });
}
