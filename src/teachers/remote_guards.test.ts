// What the remote teacher refuses or keeps to itself: credentials in URLs, header values,
// redirects, oversized answers, and long error bodies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { imageField } from '../data/dataset.js';
import { exportOnnx } from '../export/onnx.js';
import { randomizeWeights } from '../export/onnx.test.util.js';
import { buildModel } from '../models/build.js';
import { startKServeServer, type KServeFaults } from './kserve_server.test.util.js';
import type { Preprocessing } from './preprocess.js';
import { connectRemoteTeacher, type RemoteTeacherOptions } from './remote.js';

await initEngine({ backend: 'wasm' });

const sampleShape = [8, 8, 3] as const;
const inputs = [imageField(sampleShape)];
const classes = 5;
const model = buildModel(
  { type: 'mlp', hidden: [8], dropout: 0, activation: 'relu' },
  { inputShape: sampleShape, numClasses: classes, seed: 3, name: 'teacher' },
);
randomizeWeights(model, 3);
const onnx = exportOnnx(model, { layout: 'nhwc' });
model.dispose();
const preprocessing: Preprocessing = { inputLayout: 'nhwc' };
const images = (count: number) => tf.tidy(() => tf.randomUniform([count, ...sampleShape], 0, 1, 'float32', 1).dataSync() as Float32Array);
const secret = 's3cret-T0KEN';

async function serve(faults?: KServeFaults, options: Partial<RemoteTeacherOptions> = {}) {
  const server = await startKServeServer({ models: { teacher: { onnx, version: '1' } }, faults });
  try {
    const teacher = await connectRemoteTeacher({ url: server.url, model: 'teacher', preprocessing, inputs, backoffMs: 5, ...options });
    return { server, teacher };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** Rejects with an InputError whose message matches `pattern` and holds no secret. */
async function rejectsClean(promise: Promise<unknown>, pattern: RegExp): Promise<string> {
  let message = '';
  await assert.rejects(promise, (error: Error) => {
    assert.ok(error instanceof InputError, `${error.constructor.name}: ${error.message}`);
    message = error.message;
    return true;
  });
  assert.match(message, pattern);
  assert.ok(!message.includes(secret), `the secret is in: ${message}`);
  return message;
}

test('credentials in the URL (user:password@, a query) are refused before any request, redacted, pointing at headers', async () => {
  const server = await startKServeServer({ models: { teacher: { onnx, version: '1' } } });
  const host = server.url.slice('http://'.length);
  const connect = (url: string) =>
    connectRemoteTeacher({ url, model: 'teacher', preprocessing, inputs, retries: 0, source: 'kd.yaml: teacher.remote' });
  try {
    await rejectsClean(
      connect(`http://user:${secret}@${host}/`),
      new RegExp(`^kd\\.yaml: teacher\\.remote: url http://\\*\\*\\*@${host}/ holds credentials; .*headers`),
    );
    await rejectsClean(
      connect(`http://${host}/?token=${secret}&model=x`),
      new RegExp(`url http://${host}/\\?token=\\*\\*\\*&model=\\*\\*\\* has a query string; .*headers`),
    );
    await rejectsClean(connect(`http://${host}/#${secret}`), /url http:\/\/.*\/#\*\*\* has a fragment/);
  } finally {
    await server.close();
  }
});

test('headers reach the server on every request and appear in no description, fingerprint or error', async () => {
  const faults: KServeFaults = { requireHeaders: { authorization: `Bearer ${secret}` } };
  const { server, teacher } = await serve(faults, { headers: { Authorization: `Bearer ${secret}` }, batchSize: 2 });
  try {
    assert.equal((await teacher.logits({ image: images(5) }, 5)).length, 5 * classes);
    assert.equal(server.requests, 3);
    assert.ok(!JSON.stringify(teacher.info).includes(secret));
    await rejectsClean(
      connectRemoteTeacher({ url: server.url, model: 'teacher', preprocessing, inputs, headers: { Authorization: 'Bearer wrong' } }),
      /answered 401: missing or wrong authorization header/,
    );
    // A value fetch would refuse is caught first, without echoing it (fetch's own message does).
    await rejectsClean(
      connectRemoteTeacher({ url: server.url, model: 'teacher', preprocessing, inputs, headers: { Authorization: `Bearer ${secret}\n` } }),
      /header Authorization: the value has a line break or control character/,
    );
  } finally {
    await server.close();
  }
});

test('a redirect to another origin is refused at once, naming the redacted Location, and the pixels stay home', async () => {
  const target = await startKServeServer({ models: { teacher: { onnx, version: '1' } } });
  const location = `${target.url}/v2/models/teacher/infer?token=${secret}`;
  const { server, teacher } = await serve({ infer: () => ({ status: 307, location }) });
  try {
    const message = await rejectsClean(
      teacher.logits({ image: images(2) }, 2),
      /POST \/v2\/models\/teacher\/infer answered 307, a redirect to http:\/\/127\.0\.0\.1:\d+\/v2\/models\/teacher\/infer\?token=\*\*\*; kdkit does not follow redirects/,
    );
    assert.match(message, /set url to the address the server redirects to/);
    assert.equal(server.requests, 1, 'not retried');
    assert.equal(target.requests, 0, 'no pixels sent to the other origin');
  } finally {
    await Promise.all([server.close(), target.close()]);
  }
});

test('an answer past the size limit is refused while streaming, naming the URL and the limit', async () => {
  // 2 samples × 5 logits cannot need more than the 4 MiB floor; 32 MiB is sent in 64 KiB chunks.
  const { server, teacher } = await serve({ infer: () => ({ bodyBytes: 32 * 1024 * 1024 }) });
  try {
    await rejectsClean(
      teacher.logits({ image: images(2) }, 2),
      new RegExp(
        `^${server.url}/: model 'teacher': POST /v2/models/teacher/infer answered more than 4194304 bytes, the limit for 2 samples of outputs 'logits'; set maxResponseBytes to allow more$`,
      ),
    );
    assert.equal(server.requests, 1, 'not retried');
    assert.ok(server.streamedBytes < 16 * 1024 * 1024, `the client read on: ${server.streamedBytes} bytes sent`);
  } finally {
    await server.close();
  }
  const capped = await serve({ infer: () => ({ bodyBytes: 3000 }) }, { maxResponseBytes: 2000 });
  try {
    await rejectsClean(capped.teacher.logits({ image: images(2) }, 2), /answered more than 2000 bytes, the maxResponseBytes given$/);
  } finally {
    await capped.server.close();
  }
  const metadata = await startKServeServer({ models: { teacher: { onnx, version: '1' } }, faults: { metadataBytes: 2 * 1024 * 1024 } });
  try {
    await rejectsClean(
      connectRemoteTeacher({ url: metadata.url, model: 'teacher', preprocessing, inputs }),
      /GET \/v2\/models\/teacher answered more than 1048576 bytes, the limit for model metadata; expected an inference server speaking the Open Inference Protocol/,
    );
  } finally {
    await metadata.close();
  }
});

test('a long error body is cut to 200 characters, with its length', async () => {
  const { server, teacher } = await serve({ infer: () => ({ status: 400, message: `bad input ${'x'.repeat(5000)}` }) });
  try {
    const message = await rejectsClean(teacher.logits({ image: images(2) }, 2), /answered 400: bad input x+… \(5010 characters\)$/);
    assert.ok(message.length < 400, `${message.length} characters`);
  } finally {
    await server.close();
  }
});

test('timeoutMs past what Node timers hold (2147483647 ms) is refused', async () => {
  await rejectsClean(
    connectRemoteTeacher({ url: 'http://127.0.0.1:1', model: 'teacher', preprocessing, inputs, timeoutMs: 2 ** 31 }),
    /timeoutMs is 2147483648, expected an integer from 1 to 2147483647/,
  );
});
