import { test } from 'node:test';
import assert from 'node:assert/strict';
import { memoryDataset, type FieldArray, type InputField } from '../data/dataset.js';
import { datasetFingerprint } from './cache.js';

const fields: InputField[] = [
  { name: 'input_ids', dtype: 'int32', shape: [3] },
  { name: 'attention_mask', dtype: 'int32', shape: [3] },
];
const ids = Int32Array.from([5, 6, 7, 8, 9, 0]);
const mask = Int32Array.from([1, 1, 1, 1, 1, 0]);
const labels = Int32Array.from([0, 1]);

/** A fresh two-sample dataset (fingerprints are cached per object), with `change` applied to copies of its arrays. */
function dataset(change: { inputs?: InputField[]; values?: Record<string, FieldArray>; labels?: Int32Array } = {}) {
  return memoryDataset({
    name: 'text',
    inputs: change.inputs ?? fields,
    values: change.values ?? { input_ids: ids.slice(), attention_mask: mask.slice() },
    labels: change.labels ?? labels.slice(),
    numClasses: 2,
    classNames: ['a', 'b'],
  });
}

test("the dataset fingerprint covers every field's name, dtype, shape and bytes, and the labels, not the dataset's name", () => {
  const reference = datasetFingerprint(dataset());
  assert.match(reference, /^[0-9a-f]{64}$/);
  assert.equal(datasetFingerprint({ ...dataset(), name: 'renamed' }), reference);
  const differs = (what: string, changed: Parameters<typeof dataset>[0]) =>
    assert.notEqual(datasetFingerprint(dataset(changed)), reference, what);
  // One value of one field, each field in turn: a token id, then a mask bit.
  for (const name of ['input_ids', 'attention_mask']) {
    const values = { input_ids: ids.slice(), attention_mask: mask.slice() };
    values[name as keyof typeof values][4] ^= 1;
    differs(`a byte of ${name}`, { values });
  }
  // The same bytes under another name, dtype or shape.
  differs('a field renamed', {
    inputs: [fields[0], { ...fields[1], name: 'token_type_ids' }],
    values: { input_ids: ids.slice(), token_type_ids: mask.slice() },
  });
  differs('a field as float32', {
    inputs: [fields[0], { ...fields[1], dtype: 'float32' }],
    values: { input_ids: ids.slice(), attention_mask: new Float32Array(mask.buffer.slice(0)) },
  });
  differs('the fields swapped', { values: { input_ids: mask.slice(), attention_mask: ids.slice() } });
  differs('the labels', { labels: Int32Array.from([1, 1]) });
  // The same values as samples of [1, 3] instead of [3].
  differs('a field reshaped', { inputs: fields.map((field) => ({ ...field, shape: [1, 3] })) });
});
