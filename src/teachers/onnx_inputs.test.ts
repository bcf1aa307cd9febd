// ONNX teachers whose inputs are not one float image: a text classifier taking int64 `input_ids`
// and `attention_mask` (Hugging Face's names), and a model whose input and output are float16, both
// exported by PyTorch with PyTorch's own outputs (scripts/make_onnx_named_inputs_fixture.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryDataset, type InputField } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { teacherLogits } from './logits.js';
import { openOnnxTeacher, type OnnxTeacherOptions } from './onnx.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
type Values = { shape: number[]; data: number[] };
const text = JSON.parse(readFileSync(join(fixtures, 'text-teacher.json'), 'utf8')) as {
  inputs: { input_ids: Values; attention_mask: Values };
  outputs: { logits: Values; pooled: Values };
};
const half = JSON.parse(readFileSync(join(fixtures, 'half-teacher.json'), 'utf8')) as { input: Values; outputs: { logits: Values } };

const [samples, length] = text.inputs.input_ids.shape;
const tokens: InputField[] = [
  { name: 'input_ids', dtype: 'int32', shape: [length] },
  { name: 'attention_mask', dtype: 'int32', shape: [length] },
];
// kdkit holds token ids and masks as int32; the teacher feeds them to the model's int64 inputs.
const batch = { input_ids: Int32Array.from(text.inputs.input_ids.data), attention_mask: Int32Array.from(text.inputs.attention_mask.data) };

const options = (change: Partial<OnnxTeacherOptions> = {}): OnnxTeacherOptions => ({
  path: join(fixtures, 'text-teacher.onnx'),
  preprocessing: { inputLayout: 'nhwc' },
  inputs: tokens,
  numClasses: 3,
  source: 'text.yaml: teacher.onnx',
  ...change,
});

const maxDifference = (actual: Float32Array, expected: number[]) =>
  expected.reduce((max, value, i) => Math.max(max, Math.abs(actual[i] - value)), 0);

function rejectsInput(promise: Promise<unknown>, ...patterns: RegExp[]): Promise<void> {
  return assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof InputError, String(error));
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

test("a PyTorch text teacher with int64 input_ids and attention_mask gives PyTorch's logits and features from kdkit's int32 fields", async () => {
  const teacher = await openOnnxTeacher(options());
  assert.equal(
    teacher.info.description,
    `ONNX ${join(fixtures, 'text-teacher.onnx')} (inputs 'input_ids', 'attention_mask'; output 'logits')`,
  );
  const logits = await teacher.logits(batch, samples);
  assert.equal(logits.length, samples * 3);
  // By hand: the embedding is a Gather and the pooling elementwise; Linear(8, 3) is 24. The graph
  // holds Constant nodes, whose tensors the probe must keep.
  assert.equal(await teacher.multiplyAccumulates(), 8 * 3);
  assert.ok(maxDifference(logits, text.outputs.logits.data) < 1e-5, `logits differ by ${maxDifference(logits, text.outputs.logits.data)}`);
  // The record's key order is not the model's input order: names decide.
  const reordered = await teacher.logits({ attention_mask: batch.attention_mask, input_ids: batch.input_ids }, samples);
  assert.deepEqual(reordered, logits);
  assert.deepEqual(teacher.featureShape('pooled'), [8]);
  const { pooled } = await teacher.features(batch, samples, ['pooled']);
  assert.ok(maxDifference(pooled, text.outputs.pooled.data) < 1e-5);
  await teacher.dispose();
});

test("over a dataset of the two int32 fields, the teacher's logits come back in sample order across batches", async () => {
  const teacher = await openOnnxTeacher(options({ batchSize: 2 }));
  const dataset = memoryDataset({
    name: 'text/train',
    inputs: tokens,
    values: batch,
    labels: new Int32Array(samples),
    numClasses: 3,
    classNames: ['a', 'b', 'c'],
  });
  const logits = await teacherLogits(teacher, dataset);
  assert.ok(maxDifference(logits, text.outputs.logits.data) < 1e-5, `logits differ by ${maxDifference(logits, text.outputs.logits.data)}`);
  await teacher.dispose();
});

test('a dataset missing attention_mask is an InputError naming it and the fields there are', async () => {
  await rejectsInput(
    openOnnxTeacher(options({ inputs: [tokens[0]] })),
    /text\.yaml: teacher\.onnx: .*text-teacher\.onnx: the data has no field for input 'attention_mask'; its samples have 'input_ids'$/,
  );
  // Renamed fields: both inputs are missing, and the message names both.
  await rejectsInput(
    openOnnxTeacher(
      options({
        inputs: [
          { ...tokens[0], name: 'ids' },
          { ...tokens[1], name: 'mask' },
        ],
      }),
    ),
    /no field for inputs 'input_ids', 'attention_mask'; its samples have 'ids', 'mask'$/,
  );
  // A batch without the field, after opening: the teacher names the input and the field.
  const teacher = await openOnnxTeacher(options());
  await rejectsInput(
    teacher.logits({ input_ids: batch.input_ids }, samples),
    /input 'attention_mask' takes field 'attention_mask', 5 samples of int32 \[6\] \(30 values\); got none$/,
  );
  await teacher.dispose();
});

test('image preprocessing, a float field for an int64 input and inputName on a two-input model are InputErrors', async () => {
  await rejectsInput(
    openOnnxTeacher(options({ preprocessing: { inputLayout: 'nchw' } })),
    /teacher: inputLayout: nchw applies only to image inputs \(float32 \[height, width, channels\]\), and the teacher is fed input_ids int32 \[6\], attention_mask int32 \[6\]; remove it$/,
  );
  await rejectsInput(
    openOnnxTeacher(options({ preprocessing: { inputLayout: 'nhwc', normalize: { mean: [0.5], std: [0.2] } } })),
    /teacher: normalize applies only to image inputs/,
  );
  await rejectsInput(
    openOnnxTeacher(options({ inputs: [tokens[0], { name: 'attention_mask', dtype: 'float32', shape: [length] }] })),
    /input 'attention_mask' takes int64; the data's field 'attention_mask' is float32, which kdkit feeds as float32 or float16$/,
  );
  await rejectsInput(
    openOnnxTeacher(options({ inputName: 'input_ids' })),
    /teacher\.inputName names the input of a one-input model; this one takes 'input_ids', 'attention_mask'/,
  );
});

test('a float16 input and output: one field feeds the one input whatever its name, and logits come back as float32', async () => {
  const [count, width] = half.input.shape;
  const teacher = await openOnnxTeacher({
    path: join(fixtures, 'half-teacher.onnx'),
    preprocessing: { inputLayout: 'nhwc' },
    numClasses: 3,
    source: 'half.yaml: teacher.onnx',
    inputs: [{ name: 'features', dtype: 'float32', shape: [width] }],
  });
  const logits = await teacher.logits({ features: Float32Array.from(half.input.data) }, count);
  assert.ok(logits instanceof Float32Array);
  // Both sides compute in float32 and round to float16: at most one float16 step apart (2⁻¹⁰ relative).
  half.outputs.logits.data.forEach((expected, i) => {
    assert.ok(Math.abs(logits[i] - expected) <= Math.abs(expected) * 2 ** -10 + 1e-7, `logit ${i}: ${logits[i]} against ${expected}`);
  });
  await teacher.dispose();
});
