import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeNpy } from '../util/npy.js';
import { startKServeServer } from '../teachers/kserve_server.test.util.js';
import { assertBadInput, kdkit, type CliResult } from './cli.test.util.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/torch-teacher.onnx', import.meta.url));
const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-teachers-'));
const preprocessing = 'inputLayout: nchw, normalize: {mean: [0.3], std: [0.2]}';
const rest = 'student: {model: {type: mlp, hidden: [16]}}\nbaseline: false\ndistill: {epochs: 2, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}, {method: hint, weight: 1, student: dense_1, teacher: features}]}\nexport: {quantize: [], onnx: false}\n';

function config(name: string, teacher: string): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, `dataset: {name: digits}\nteacher: ${teacher}\n${rest}`);
  return path;
}

/** The CLI in a child process without blocking this one, so a server here can answer it. */
function kdkitAsync(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args]);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** A port nothing listens on: one the system just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Logits in a run's soft-label store, all shards in order. */
function storedLogits(out: string): Float32Array {
  const [entry] = readdirSync(join(out, 'cache')).filter((name) => name.startsWith('soft-labels-'));
  const shards = readdirSync(join(out, 'cache', entry)).filter((name) => /^logits-\d+\.npy$/.test(name)).sort();
  const arrays = shards.map((name) => decodeNpy(readFileSync(join(out, 'cache', entry, name)), name).data as Float32Array);
  const all = new Float32Array(arrays.reduce((total, array) => total + array.length, 0));
  let offset = 0;
  for (const array of arrays) {
    all.set(array, offset);
    offset += array.length;
  }
  return all;
}

const local = join(directory, 'onnx');

test('a PyTorch-exported ONNX teacher distils into a TensorFlow.js student; its extra output feeds a hint term', () => {
  const result = kdkit('run', config('onnx', `{onnx: ${fixture}, ${preprocessing}}`), '--out', local);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /teacher: ONNX .*torch-teacher\.onnx \(input 'image', NCHW; output 'logits'\)/);
  assert.match(result.stdout, /teacher features \(features\): computed/);
  const summary = JSON.parse(readFileSync(join(local, 'summary.json'), 'utf8'));
  assert.equal(summary.teacher.kind, 'onnx');
  assert.equal(summary.models.teacher.runtime, 'onnxruntime');
  assert.equal(summary.models.teacher.sizeBytes, readFileSync(fixture).byteLength);
  assert.equal(summary.models.teacher.macs, null);
  assert.equal(summary.artifacts.teacher, undefined, 'an ONNX teacher is not re-saved');
  assert.ok(existsSync(join(local, 'report.html')));
  // The same teacher and data again: no teacher inference.
  const again = kdkit('run', config('onnx', `{onnx: ${fixture}, ${preprocessing}}`), '--out', local);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /soft labels: cached in /);
  assert.match(again.stdout, /teacher features \(features\): cached/);
});

test('the same model behind a KServe v2 server gives the local ONNX teacher\'s logits', async () => {
  const server = await startKServeServer({ models: { teacher: { onnx: readFileSync(fixture), version: '1' } } });
  try {
    const out = join(directory, 'remote');
    const result = await kdkitAsync('run', config('remote', `{remote: {url: '${server.url}', model: teacher, featureOutputs: [features], ${preprocessing}, batchSize: 100}}`), '--out', out);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /teacher: remote model 'teacher'/);
    assert.ok(server.requests >= 13, `1294 samples in requests of 100: ${server.requests} requests`);
    const remote = storedLogits(out);
    const expected = storedLogits(local);
    assert.equal(remote.length, expected.length);
    let max = 0;
    for (let i = 0; i < remote.length; i++) max = Math.max(max, Math.abs(remote[i] - expected[i]));
    assert.ok(max <= 1e-5, `remote and local logits differ by ${max}`);
  } finally {
    await server.close();
  }
});

test('a teacher file that is not ONNX, an unreachable server and a server of another protocol exit 2, naming them', async () => {
  const notOnnx = join(directory, 'fake.onnx');
  writeFileSync(notOnnx, '<html>not a model</html>');
  assertBadInput(kdkit('run', config('fake', `{onnx: ${notOnnx}}`), '--out', join(directory, 'bad1')), /fake\.onnx: not an ONNX model/, join(directory, 'bad1'));
  const closed = await closedPort();
  assertBadInput(kdkit('run', config('unreachable', `{remote: {url: 'http://127.0.0.1:${closed}', model: teacher}}`), '--out', join(directory, 'bad2')), new RegExp(`http://127\\.0\\.0\\.1:${closed}/\\): cannot connect \\(ECONNREFUSED\\)`), join(directory, 'bad2'));
  const html = await startKServeServer({ models: {}, faults: { html: true } });
  try {
    const result = await kdkitAsync('run', config('html', `{remote: {url: '${html.url}', model: teacher}}`), '--out', join(directory, 'bad3'));
    assertBadInput(result, /protocol/i, join(directory, 'bad3'));
  } finally {
    await html.close();
  }
});
