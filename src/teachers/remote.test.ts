import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '../engine/tf.js';
import { initEngine } from '../engine/index.js';
import { InputError } from '../errors.js';
import { imageField } from '../data/dataset.js';
import { exportOnnx } from '../export/onnx.js';
import { randomizeWeights } from '../export/onnx.test.util.js';
import { runOnnx } from '../export/onnx_run.js';
import { buildModel } from '../models/build.js';
import { sha256 } from '../util/hash.js';
import { startKServeServer, type InferFault, type KServeFaults, type ServedModel } from './kserve_server.test.util.js';
import { describePreprocessing, preprocess, type Preprocessing } from './preprocess.js';
import { connectRemoteTeacher, type RemoteTeacherOptions } from './remote.js';

await initEngine({ backend: 'wasm' });

const sampleShape = [8, 8, 3] as const;
const inputs = [imageField(sampleShape)];
const sampleSize = 8 * 8 * 3;
const classes = 5;
const model = buildModel(
  { type: 'cnn', filters: [4], kernelSize: 3, dense: [16], dropout: 0, batchNorm: true },
  { inputShape: sampleShape, numClasses: classes, seed: 3, name: 'teacher' },
);
randomizeWeights(model, 3);
const nchwBytes = exportOnnx(model, { layout: 'nchw' });
const nhwcBytes = exportOnnx(model, { layout: 'nhwc' });
model.dispose();

const normalized: Preprocessing = { inputLayout: 'nchw', normalize: { mean: [0.5, 0.4, 0.3], std: [0.2, 0.25, 0.3] } };
const images = (count: number, seed: number) =>
  tf.tidy(() => tf.randomUniform([count, ...sampleShape], 0, 1, 'float32', seed).dataSync() as Float32Array);

/** What onnxruntime-node gives on the same bytes and the same preprocessed batch, in one run. */
async function localLogits(bytes: Uint8Array, batch: Float32Array, count: number, preprocessing: Preprocessing): Promise<Float32Array> {
  const input = preprocess(batch, count, sampleShape, preprocessing);
  return runOnnx(bytes, input.data, input.dims);
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((max, value, i) => Math.max(max, Math.abs(value - b[i])), 0);

/** A server with the NCHW model as 'teacher' (version 3), and a teacher connected to it. */
async function serve(
  faults?: KServeFaults,
  options: Partial<RemoteTeacherOptions> = {},
  served: ServedModel = { onnx: nchwBytes, version: '3' },
) {
  const server = await startKServeServer({ models: { teacher: served }, faults });
  try {
    const teacher = await connectRemoteTeacher({
      url: server.url,
      model: 'teacher',
      preprocessing: normalized,
      inputs,
      backoffMs: 5,
      ...options,
    });
    return { server, teacher };
  } catch (error) {
    await server.close();
    throw error;
  }
}

/** A URL nothing listens on: a port the system just handed out and took back. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

test('remote logits equal local ONNX Runtime on the same bytes and normalized NCHW input, in order over odd batches', async (t) => {
  const { server, teacher } = await serve(undefined, { batchSize: 8, concurrency: 3, source: 'kd.yaml: teacher' });
  try {
    const batch = images(37, 1);
    const remote = await teacher.logits({ image: batch }, 37);
    const local = await localLogits(nchwBytes, batch, 37, normalized);
    const diff = maxAbsDiff(remote, local);
    t.diagnostic(`max |remote − local| = ${diff}`);
    assert.equal(remote.length, 37 * classes);
    assert.ok(diff <= 1e-5, `max |diff| ${diff}`);
    // ceil(37 / 8) = 5 requests: four of 8 samples and one of 5.
    assert.equal(server.requests, 5);
    assert.equal(teacher.batchSize, 8);
    assert.deepEqual(
      { ...teacher.info, fingerprint: undefined },
      {
        kind: 'remote',
        description: `remote model 'teacher' (version 3) at ${server.url}/`,
        fingerprint: undefined,
        classes,
        featureNames: [],
      },
    );
  } finally {
    await server.close();
  }
});

test('an NHWC model without normalization matches too, and an empty batch gives no logits', async () => {
  const plain: Preprocessing = { inputLayout: 'nhwc' };
  const { server, teacher } = await serve(undefined, { preprocessing: plain, batchSize: 16 }, { onnx: nhwcBytes });
  try {
    const batch = images(20, 2);
    assert.ok(maxAbsDiff(await teacher.logits({ image: batch }, 20), await localLogits(nhwcBytes, batch, 20, plain)) <= 1e-5);
    assert.deepEqual(await teacher.logits({ image: new Float32Array(0) }, 0), new Float32Array(0));
    assert.equal(teacher.info.description, `remote model 'teacher' at ${server.url}/`);
  } finally {
    await server.close();
  }
});

test('the fingerprint follows the endpoint, the served model and preprocessing, never the headers', async () => {
  // Two servers on two ports serving 'teacher' version 3 with other weights: other logits, so other soft labels.
  const otherModel = buildModel(
    { type: 'cnn', filters: [4], kernelSize: 3, dense: [16], dropout: 0, batchNorm: true },
    { inputShape: sampleShape, numClasses: classes, seed: 4, name: 'teacher' },
  );
  randomizeWeights(otherModel, 4);
  const otherBytes = exportOnnx(otherModel, { layout: 'nchw' });
  otherModel.dispose();
  const first = await serve();
  const second = await serve(undefined, {}, { onnx: otherBytes, version: '3' });
  const renormalized = await serve(undefined, { preprocessing: { inputLayout: 'nchw', normalize: { mean: [0.5], std: [0.2] } } });
  const fingerprint = async (headers: Record<string, string>) =>
    (await connectRemoteTeacher({ url: first.server.url, model: 'teacher', preprocessing: normalized, inputs, headers })).info.fingerprint;
  try {
    const batch = images(2, 12);
    assert.ok(
      maxAbsDiff(await first.teacher.logits({ image: batch }, 2), await second.teacher.logits({ image: batch }, 2)) > 1e-3,
      'the two servers answer differently',
    );
    assert.notEqual(first.teacher.info.fingerprint, second.teacher.info.fingerprint);
    assert.notEqual(first.teacher.info.fingerprint, renormalized.teacher.info.fingerprint);
    assert.equal(await fingerprint({ authorization: 'Bearer one' }), await fingerprint({ authorization: 'Bearer two' }));
    assert.equal(await fingerprint({ authorization: 'Bearer one' }), first.teacher.info.fingerprint);
    assert.equal(
      first.teacher.info.fingerprint,
      sha256(
        'remote',
        JSON.stringify({ endpoint: `${first.server.url}/`, model: 'teacher', version: '3' }),
        describePreprocessing(normalized),
      ),
    );
  } finally {
    await Promise.all([first.server.close(), second.server.close(), renormalized.server.close()]);
  }
});

test('a pinned version is requested under /versions/{v}; a version the server lacks is an InputError', async () => {
  const { server, teacher } = await serve(undefined, { version: '3', batchSize: 4 });
  try {
    const batch = images(6, 3);
    assert.ok(maxAbsDiff(await teacher.logits({ image: batch }, 6), await localLogits(nchwBytes, batch, 6, normalized)) <= 1e-5);
    await assert.rejects(
      connectRemoteTeacher({ url: server.url, model: 'teacher', version: '9', preprocessing: normalized, inputs }),
      (error: Error) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /GET \/v2\/models\/teacher\/versions\/9 answered 404: unknown model or version/);
        return true;
      },
    );
  } finally {
    await server.close();
  }
});

test('features() returns the named outputs; unknown names are InputErrors, at connect and at call', async () => {
  const { server, teacher } = await serve(undefined, { featureOutputs: ['logits'], batchSize: 4 });
  try {
    const batch = images(7, 4);
    assert.deepEqual(teacher.info.featureNames, ['logits']);
    const features = await teacher.features({ image: batch }, 7, ['logits']);
    assert.deepEqual(Object.keys(features), ['logits']);
    assert.ok(maxAbsDiff(features.logits, await localLogits(nchwBytes, batch, 7, normalized)) <= 1e-5);
    await assert.rejects(teacher.features({ image: batch }, 7, ['conv_1']), /no feature output 'conv_1'; featureOutputs lists 'logits'/);
    await assert.rejects(
      connectRemoteTeacher({ url: server.url, model: 'teacher', featureOutputs: ['pool_1'], preprocessing: normalized, inputs }),
      /model 'teacher' has no output 'pool_1'; its outputs are 'logits'/,
    );
  } finally {
    await server.close();
  }
  // A feature whose size per sample changes between responses cannot be one [count, ...] array.
  const shrinking = (body: { outputs: { shape: number[]; data: unknown }[] }) => {
    body.outputs[0].shape = [1, 4];
    body.outputs[0].data = (body.outputs[0].data as number[]).slice(0, 4);
  };
  const changing = await serve(
    { infer: (index) => (index === 1 ? { mutate: shrinking } : undefined) },
    { featureOutputs: ['logits'], batchSize: 2, concurrency: 1 },
  );
  try {
    await assert.rejects(
      changing.teacher.features({ image: images(3, 4) }, 3, ['logits']),
      /output 'logits' has 5 values per sample in the first response and 4 in response 2/,
    );
  } finally {
    await changing.server.close();
  }
});

test('a model served with a fixed batch of 4 gets 4-sample requests, the last one padded', async () => {
  const { server, teacher } = await serve(undefined, { batchSize: 64 }, { onnx: nchwBytes, inputShape: [4, 3, 8, 8] });
  try {
    const batch = images(9, 5);
    assert.equal(teacher.batchSize, 4);
    assert.ok(maxAbsDiff(await teacher.logits({ image: batch }, 9), await localLogits(nchwBytes, batch, 9, normalized)) <= 1e-5);
    // 4 + 4 + 1 padded to 4; the server rejects any other batch size.
    assert.equal(server.requests, 3);
  } finally {
    await server.close();
  }
});

test('no more than `concurrency` requests are ever in flight', async () => {
  const { server, teacher } = await serve({ infer: () => ({ delayMs: 20 }) }, { batchSize: 4, concurrency: 3 });
  try {
    const batch = images(40, 6);
    assert.ok(maxAbsDiff(await teacher.logits({ image: batch }, 40), await localLogits(nchwBytes, batch, 40, normalized)) <= 1e-5);
    assert.equal(server.requests, 10);
    assert.equal(server.maxInFlight, 3);
  } finally {
    await server.close();
  }
});

test('429 with Retry-After: 1 is waited out (not the 5 ms backoff), then succeeds', async () => {
  const { server, teacher } = await serve({ infer: (index) => (index === 0 ? { status: 429, retryAfter: '1' } : undefined) });
  try {
    const batch = images(3, 7);
    const started = performance.now();
    const logits = await teacher.logits({ image: batch }, 3);
    assert.ok(performance.now() - started >= 950, `retried after ${performance.now() - started} ms`);
    assert.ok(maxAbsDiff(logits, await localLogits(nchwBytes, batch, 3, normalized)) <= 1e-5);
    assert.equal(server.requests, 2);
  } finally {
    await server.close();
  }
});

test('503 twice, then success: three requests, the right logits', async () => {
  const { server, teacher } = await serve({ infer: (index) => (index < 2 ? { status: 503 } : undefined) });
  try {
    const batch = images(3, 8);
    assert.ok(maxAbsDiff(await teacher.logits({ image: batch }, 3), await localLogits(nchwBytes, batch, 3, normalized)) <= 1e-5);
    assert.equal(server.requests, 3);
  } finally {
    await server.close();
  }
});

test('a server that keeps failing: a plain Error naming the attempts and the last status', async () => {
  const { server, teacher } = await serve(
    { infer: () => ({ status: 503, message: 'model is loading' }) },
    { retries: 2, source: 'kd.yaml: teacher' },
  );
  try {
    await assert.rejects(teacher.logits({ image: images(2, 9) }, 2), (error: Error) => {
      assert.ok(!(error instanceof InputError));
      assert.equal(
        error.message,
        `kd.yaml: teacher (${server.url}/): model 'teacher': POST /v2/models/teacher/infer gave up after 3 attempts: last status 503 ({"error":"model is loading"})`,
      );
      return true;
    });
    assert.equal(server.requests, 3);
  } finally {
    await server.close();
  }
});

test('a timeout is retried: a slow first answer recovers, slow answers throughout give up', async () => {
  const recovering = await serve({ infer: (index) => (index === 0 ? { delayMs: 500 } : undefined) }, { timeoutMs: 100 });
  const stuck = await serve({ infer: () => ({ delayMs: 500 }) }, { timeoutMs: 50, retries: 1 });
  try {
    const batch = images(2, 10);
    assert.ok(maxAbsDiff(await recovering.teacher.logits({ image: batch }, 2), await localLogits(nchwBytes, batch, 2, normalized)) <= 1e-5);
    assert.equal(recovering.server.requests, 2);
    await assert.rejects(stuck.teacher.logits({ image: batch }, 2), /gave up after 2 attempts: last timeout: no answer within 50 ms/);
    assert.equal(stuck.server.requests, 2);
  } finally {
    await Promise.all([recovering.server.close(), stuck.server.close()]);
  }
});

test('a 400 is an InputError carrying the server text, not retried', async () => {
  const { server, teacher } = await serve({ infer: () => ({ status: 400, message: 'input tensor has wrong dtype' }) });
  try {
    await assert.rejects(teacher.logits({ image: images(2, 11) }, 2), (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.match(error.message, /POST \/v2\/models\/teacher\/infer answered 400: input tensor has wrong dtype$/);
      return true;
    });
    assert.equal(server.requests, 1);
  } finally {
    await server.close();
  }
});

test('a response that breaks the protocol is an InputError saying what was wrong', async () => {
  const cases: [InferFault['mutate'], RegExp][] = [
    [
      (body) => {
        body.outputs[0].datatype = 'FP64';
      },
      /POST \/v2\/models\/teacher\/infer: output 'logits' has datatype "FP64", expected "FP32"/,
    ],
    [
      (body) => {
        body.outputs[0].shape = [2, 4, 1];
        body.outputs[0].data = (body.outputs[0].data as number[]).slice(0, 8);
      },
      /output 'logits' has shape \[2, 4, 1\], expected \[2, 5\]/,
    ],
  ];
  for (const [mutate, message] of cases) {
    const { server, teacher } = await serve({ infer: () => ({ mutate }) });
    try {
      await assert.rejects(
        teacher.logits({ image: images(2, 13) }, 2),
        (error: Error) => error instanceof InputError && message.test(error.message),
      );
    } finally {
      await server.close();
    }
  }
});

test('an unreachable endpoint is an InputError naming the URL and the source', async () => {
  const url = await closedPortUrl();
  await assert.rejects(
    connectRemoteTeacher({ url, model: 'teacher', preprocessing: normalized, inputs, source: 'kd.yaml: teacher' }),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      assert.equal(
        error.message,
        `kd.yaml: teacher (${url}/): cannot connect (ECONNREFUSED); expected an inference server listening there`,
      );
      return true;
    },
  );
  await assert.rejects(
    connectRemoteTeacher({ url: 'localhost:8000', model: 'teacher', preprocessing: normalized, inputs }),
    /url localhost:8000 must be http:\/\/ or https:\/\//,
  );
  await assert.rejects(
    connectRemoteTeacher({ url, model: 'teacher', preprocessing: normalized, inputs, batchSize: 0 }),
    /batchSize is 0, expected an integer ≥ 1/,
  );
});

test('a server speaking another protocol is an InputError: an HTML page, a 404, JSON of another shape', async () => {
  const html = await startKServeServer({ models: {}, faults: { html: true } });
  const other = createServer((_request, response) =>
    response.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}'),
  );
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
  const connect = (url: string, model = 'teacher') => connectRemoteTeacher({ url, model, preprocessing: normalized, inputs });
  const { server } = await serve();
  try {
    await assert.rejects(
      connect(html.url),
      new InputError(
        `${html.url}/: GET /v2/models/teacher answered an HTML page (status 200); expected an inference server speaking the Open Inference Protocol (KServe v2 REST)`,
      ),
    );
    await assert.rejects(
      connect(server.url, 'student'),
      /GET \/v2\/models\/student answered 404: unknown model or version: \/v2\/models\/student; expected an inference server speaking the Open Inference Protocol \(KServe v2 REST\), serving model 'student'/,
    );
    await assert.rejects(
      connect(otherUrl),
      /the metadata has no inputs and outputs lists of \{name, datatype, shape\}; expected an inference server speaking the Open Inference Protocol/,
    );
  } finally {
    await Promise.all([html.close(), server.close(), new Promise((resolve) => other.close(resolve))]);
  }
});

test('an input shape that does not fit the dataset sample after layout is an InputError', async () => {
  const { server } = await serve();
  const connect = (options: Partial<RemoteTeacherOptions>) =>
    connectRemoteTeacher({ url: server.url, model: 'teacher', preprocessing: normalized, inputs, ...options });
  try {
    await assert.rejects(
      connect({ inputs: [imageField([10, 10, 3])] }),
      /input 'image' has shape \[-1, 3, 8, 8\], the dataset's samples after layout are \[batch, 3, 10, 10\]/,
    );
    // The NCHW model with NHWC preprocessing: the layout is wrong, not the data.
    await assert.rejects(
      connect({ preprocessing: { inputLayout: 'nhwc' } }),
      /input 'image' has shape \[-1, 3, 8, 8\], the dataset's samples after layout are \[batch, 8, 8, 3\]/,
    );
    await assert.rejects(connect({ inputName: 'pixels' }), /model 'teacher' has no input 'pixels'; its inputs are 'image'/);
  } finally {
    await server.close();
  }
});

test('a field that is not `count` samples of its shape and dtype, or is missing, is an InputError', async () => {
  const { server, teacher } = await serve();
  try {
    await assert.rejects(
      teacher.logits({ image: new Float32Array(sampleSize + 1) }, 1),
      /field 'image': expected 1 samples of float32 \[8, 8, 3\] \(192 values\), got 193 float32 values/,
    );
    await assert.rejects(
      teacher.logits({ image: new Int32Array(sampleSize) }, 1),
      /field 'image': expected 1 samples of float32 \[8, 8, 3\] \(192 values\), got 192 int32 values/,
    );
    await assert.rejects(
      teacher.logits({ pixels: new Float32Array(sampleSize) }, 1),
      /field 'image': expected 1 samples of float32 \[8, 8, 3\] \(192 values\), got none/,
    );
    assert.equal(server.requests, 0);
  } finally {
    await server.close();
  }
});
