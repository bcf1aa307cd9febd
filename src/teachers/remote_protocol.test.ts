import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../errors.js';
import { checkInput, inputSampleDims, parseJson, parseMetadata, pick, readOutput, serverMessage } from './remote_protocol.js';

const noCheck = () => undefined;
const json = (text: string, contentType = 'application/json') => ({ status: 200, contentType, text });

test('readOutput takes flat or nested row-major data and rounds each number to float32', () => {
  const expected = { shape: [2, 2], values: new Float32Array([1, 2.5, -3, Math.fround(0.1)]) };
  assert.deepEqual(
    readOutput([{ name: 'logits', datatype: 'FP32', shape: [2, 2], data: [1, 2.5, -3, 0.1] }], 'logits', 2, noCheck),
    expected,
  );
  assert.deepEqual(
    readOutput(
      [
        {
          name: 'logits',
          datatype: 'FP32',
          shape: [2, 2],
          data: [
            [1, 2.5],
            [-3, 0.1],
          ],
        },
      ],
      'logits',
      2,
      noCheck,
    ),
    expected,
  );
  // A float32 printed in full as a double comes back as the same float32.
  const third = Math.fround(1 / 3);
  assert.equal(
    (readOutput([{ name: 'x', datatype: 'FP32', shape: [1], data: [third] }], 'x', 1, noCheck) as { values: Float32Array }).values[0],
    third,
  );
});

test('readOutput says what is wrong with an output', () => {
  const output = (fields: object) => [{ name: 'logits', datatype: 'FP32', shape: [2, 2], data: [1, 2, 3, 4], ...fields }];
  assert.equal(readOutput(output({ name: 'probabilities' }), 'logits', 2, noCheck), 'is missing from the response');
  assert.equal(readOutput(output({ datatype: 'FP16' }), 'logits', 2, noCheck), 'has datatype "FP16", expected "FP32"');
  assert.equal(readOutput(output({ shape: '2x2' }), 'logits', 2, noCheck), 'has shape "2x2", expected a list of sizes');
  assert.equal(readOutput(output({ shape: [1, 4] }), 'logits', 2, noCheck), 'has shape [1, 4], expected 2 rows, one per sample sent');
  assert.equal(readOutput(output({ shape: [2, 3] }), 'logits', 2, noCheck), 'has 4 data values for shape [2, 3] (6)');
  assert.equal(readOutput(output({ data: undefined }), 'logits', 2, noCheck), 'has no data values for shape [2, 2] (4)');
  // JSON.stringify writes NaN as null.
  assert.equal(readOutput(output({ data: [1, null, 3, 4] }), 'logits', 2, noCheck), 'has data values that are not numbers');
  assert.equal(
    readOutput(output({}), 'logits', 2, () => 'fails the caller'),
    'fails the caller',
  );
});

test('checkInput: FP32 [batch, ...sample], -1 matching any size; a fixed batch is returned', () => {
  assert.equal(checkInput({ name: 'image', datatype: 'FP32', shape: [-1, 3, 8, 6] }, [3, 8, 6], 'm'), undefined);
  assert.equal(checkInput({ name: 'image', datatype: 'FP32', shape: [-1, 3, -1, -1] }, [3, 8, 6], 'm'), undefined);
  assert.equal(checkInput({ name: 'image', datatype: 'FP32', shape: [4, 3, 8, 6] }, [3, 8, 6], 'm'), 4);
  assert.throws(
    () => checkInput({ name: 'image', datatype: 'FP32', shape: [-1, 8, 6, 3] }, [3, 8, 6], 'm'),
    new InputError(
      "m: input 'image' has shape [-1, 8, 6, 3], the dataset's samples after layout are [batch, 3, 8, 6] (check the dataset's samples and preprocessing.inputLayout)",
    ),
  );
  assert.throws(() => checkInput({ name: 'image', datatype: 'FP32', shape: [-1, 144] }, [3, 8, 6], 'm'), /has shape \[-1, 144\]/);
  assert.throws(
    () => checkInput({ name: 'image', datatype: 'UINT8', shape: [-1, 3, 8, 6] }, [3, 8, 6], 'm'),
    new InputError("m: input 'image' takes UINT8, expected FP32"),
  );
  assert.deepEqual(inputSampleDims([8, 6, 3], 'nchw'), [3, 8, 6]);
  assert.deepEqual(inputSampleDims([8, 6, 3], 'nhwc'), [8, 6, 3]);
});

test('parseMetadata needs inputs and outputs of {name, datatype, shape}; pick finds them by name', () => {
  const tensor = { name: 'image', datatype: 'FP32', shape: [-1, 3, 8, 8] };
  const logits = { name: 'logits', datatype: 'FP32', shape: [-1, 10] };
  assert.deepEqual(
    parseMetadata({ name: 'm', versions: ['1', '2'], platform: 'onnxruntime_onnx', inputs: [tensor], outputs: [logits] }, 'c'),
    { versions: ['1', '2'], inputs: [tensor], outputs: [logits] },
  );
  assert.deepEqual(parseMetadata({ inputs: [tensor], outputs: [logits] }, 'c').versions, []);
  for (const body of [
    null,
    [],
    { status: 'ok' },
    { inputs: [], outputs: [logits] },
    { inputs: [{ ...tensor, shape: [-1, 'c'] }], outputs: [logits] },
  ]) {
    assert.throws(
      () => parseMetadata(body, 'c'),
      /^InputError: c: the metadata has no inputs and outputs lists of \{name, datatype, shape\}; expected an inference server speaking the Open Inference Protocol \(KServe v2 REST\)$/,
    );
  }
  const outputs = [logits, { name: 'features', datatype: 'FP32', shape: [-1, 64] }];
  assert.equal(pick(outputs, undefined, 'output', 'w', 'm'), logits);
  assert.equal(pick(outputs, 'features', 'output', 'w', 'm'), outputs[1]);
  assert.throws(
    () => pick(outputs, 'probs', 'output', 'w', 'm'),
    new InputError("w: model 'm' has no output 'probs'; its outputs are 'logits', 'features'"),
  );
});

test('parseJson refuses HTML and non-JSON text; serverMessage finds the reason in an error body', () => {
  assert.deepEqual(parseJson(json('{"a": 1}'), 'w', 'GET /v2/models/m'), { a: 1 });
  assert.throws(
    () => parseJson(json('<html></html>', 'text/html; charset=utf-8'), 'w', 'GET /v2/models/m'),
    /^InputError: w: GET \/v2\/models\/m answered an HTML page \(status 200\); expected an inference server/,
  );
  assert.throws(() => parseJson(json('  <!doctype html>', 'text/plain'), 'w', 'GET /v2/models/m'), /answered an HTML page/);
  assert.throws(
    () => parseJson(json('OK', 'text/plain'), 'w', 'GET /v2/models/m'),
    /^InputError: w: GET \/v2\/models\/m answered 200 with text that is not JSON \(OK\); expected/,
  );
  assert.equal(serverMessage(json('{"error": "unknown model"}')), ': unknown model');
  assert.equal(serverMessage(json('{"code": 404, "type": "ModelNotFoundException", "message": "Model not found"}')), ': Model not found');
  assert.equal(serverMessage(json('Not Found', 'text/plain')), ' (Not Found)');
  assert.equal(serverMessage(json('')), '');
});
