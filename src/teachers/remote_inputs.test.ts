// A remote (KServe v2) teacher with two named int64 inputs: the PyTorch text classifier of
// scripts/make_onnx_named_inputs_fixture.py behind the test server, which, like Triton, refuses
// an input whose name, datatype or shape is not what its metadata declares.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InputField } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { startKServeServer } from './kserve_server.test.util.js';
import { connectRemoteTeacher, type RemoteTeacherOptions } from './remote.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
type Values = { shape: number[]; data: number[] };
const text = JSON.parse(readFileSync(join(fixtures, 'text-teacher.json'), 'utf8')) as {
  inputs: { input_ids: Values; attention_mask: Values };
  outputs: { logits: Values };
};
const [samples, length] = text.inputs.input_ids.shape;
const tokens: InputField[] = [
  { name: 'input_ids', dtype: 'int32', shape: [length] },
  { name: 'attention_mask', dtype: 'int32', shape: [length] },
];
const batch = { input_ids: Int32Array.from(text.inputs.input_ids.data), attention_mask: Int32Array.from(text.inputs.attention_mask.data) };

async function withServer(
  run: (
    connect: (change?: Partial<RemoteTeacherOptions>) => ReturnType<typeof connectRemoteTeacher>,
    requests: () => number,
  ) => Promise<void>,
): Promise<void> {
  const server = await startKServeServer({ models: { text: { onnx: readFileSync(join(fixtures, 'text-teacher.onnx')) } } });
  try {
    await run(
      (change = {}) =>
        connectRemoteTeacher({
          url: server.url,
          model: 'text',
          preprocessing: { inputLayout: 'nhwc' },
          inputs: tokens,
          backoffMs: 5,
          ...change,
        }),
      () => server.requests,
    );
  } finally {
    await server.close();
  }
}

test("each field goes as its own named INT64 input tensor, and the logits are PyTorch's, in order over several requests", async () => {
  await withServer(async (connect, requests) => {
    const teacher = await connect({ batchSize: 2 });
    const logits = await teacher.logits(batch, samples);
    const difference = text.outputs.logits.data.reduce((max, value, i) => Math.max(max, Math.abs(logits[i] - value)), 0);
    assert.ok(difference < 1e-5, `logits differ by ${difference}`);
    // 5 samples in requests of 2.
    assert.equal(requests(), 3);
  });
});

test('a dataset missing attention_mask, or image preprocessing on token ids, is an InputError before any request', async () => {
  await withServer(async (connect, requests) => {
    const rejects = (change: Partial<RemoteTeacherOptions>, pattern: RegExp) =>
      assert.rejects(connect(change), (error: unknown) => {
        assert.ok(error instanceof InputError, String(error));
        assert.match(error.message, pattern);
        return true;
      });
    await rejects({ inputs: [tokens[0]] }, /model 'text': the data has no field for input 'attention_mask'; its samples have 'input_ids'$/);
    await rejects({ preprocessing: { inputLayout: 'nchw' } }, /model 'text': inputLayout: nchw applies only to image inputs/);
    await rejects(
      { inputs: [tokens[0], { ...tokens[1], dtype: 'float32' }] },
      /model 'text': input 'attention_mask' takes INT64, expected FP32$/,
    );
    await rejects(
      { inputName: 'input_ids' },
      /inputName names the input of a one-input model; this one takes 'input_ids', 'attention_mask'/,
    );
    assert.equal(requests(), 0);
  });
});
