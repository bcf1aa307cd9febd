import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { expectedLogits, TOKEN_FIELDS, TOKENS, textModel } from '../models/inputs.test.util.js';
import { tfjsTeacher } from './tfjs.js';

await initEngine({ backend: 'wasm' });

test('a two-input TensorFlow.js teacher takes a record of int32 ids and masks, by name, and leaks nothing', async () => {
  const model = textModel();
  const expected = expectedLogits();
  for (const teacher of [await tfjsTeacher(model, 'text', TOKEN_FIELDS), await tfjsTeacher(model, 'text (shapes from the model)')]) {
    const before = tf.memory().numTensors;
    const logits = await teacher.logits(TOKENS, 5);
    expected.forEach((value, i) => {
      assert.ok(Math.abs(logits[i] - value) < 1e-5, `logit ${i}: ${logits[i]}, expected ${value}`);
    });
    const { penultimate } = await teacher.features(TOKENS, 5, ['penultimate']);
    assert.equal(penultimate.length, 5 * 2);
    assert.equal(tf.memory().numTensors, before);
    await assert.rejects(
      teacher.logits({ input_ids: TOKENS.input_ids }, 5),
      (error: unknown) => error instanceof InputError && /teacher text.*attention_mask/.test(error.message),
    );
  }
  model.dispose();
});
