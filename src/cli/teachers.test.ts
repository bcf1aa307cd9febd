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
const rest =
  'student: {model: {type: mlp, hidden: [16]}}\nbaseline: false\ndistill: {epochs: 2, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}, {method: hint, weight: 1, student: dense_1, teacher: features}]}\nexport: {quantize: [], onnx: false}\n';

function config(name: string, teacher: string): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(path, `dataset: {name: digits}\nteacher: ${teacher}\n${rest}`);
  return path;
}

/** The CLI in a child process without blocking this one, so a server here can answer it. */
function kdkitAsync(...args: string[]): Promise<CliResult> {
  return kdkitWithEnv({}, ...args);
}

/** kdkitAsync with variables added to the child's environment. */
function kdkitWithEnv(env: Record<string, string>, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
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

/** Every file under `root`, recursively. */
function filesUnder(root: string): string[] {
  return readdirSync(root, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/** Logits in a run's soft-label store, all shards in order. */
function storedLogits(out: string): Float32Array {
  const [entry] = readdirSync(join(out, 'cache')).filter((name) => name.startsWith('soft-labels-'));
  const shards = readdirSync(join(out, 'cache', entry))
    .filter((name) => /^logits-\d+\.npy$/.test(name))
    .sort();
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
  // By hand: Conv2d(1, 4, 3, padding 1) on 8×8, 2,304, and Linear(64, 10), 640 (teachers/onnx_macs.ts).
  assert.equal(summary.models.teacher.macs, 2304 + 640);
  assert.equal(summary.artifacts.teacher, undefined, 'an ONNX teacher is not re-saved');
  assert.ok(existsSync(join(local, 'report.html')));
  // The same teacher and data again: no teacher inference.
  const again = kdkit('run', config('onnx', `{onnx: ${fixture}, ${preprocessing}}`), '--out', local);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /soft labels: cached in /);
  assert.match(again.stdout, /teacher features \(features\): cached/);
});

test("the same model behind a KServe v2 server gives the local ONNX teacher's logits; its token is written nowhere", async () => {
  const token = 'kdkit-test-token-0123456789';
  const server = await startKServeServer({
    models: { teacher: { onnx: readFileSync(fixture), version: '1' } },
    faults: { requireHeaders: { authorization: `Bearer ${token}` } },
  });
  try {
    const out = join(directory, 'remote');
    const teacher = `{remote: {url: '${server.url}', model: teacher, headers: {Authorization: {env: KDKIT_TEST_TOKEN, prefix: 'Bearer '}}, featureOutputs: [features], ${preprocessing}, batchSize: 100}}`;
    const result = await kdkitWithEnv({ KDKIT_TEST_TOKEN: token }, 'run', config('remote', teacher), '--out', out);
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /teacher: remote model 'teacher'/);
    assert.ok(server.requests >= 13, `1294 samples in requests of 100: ${server.requests} requests`);
    const remote = storedLogits(out);
    const expected = storedLogits(local);
    assert.equal(remote.length, expected.length);
    let max = 0;
    for (let i = 0; i < remote.length; i++) max = Math.max(max, Math.abs(remote[i] - expected[i]));
    assert.ok(max <= 1e-5, `remote and local logits differ by ${max}`);
    assert.ok(!`${result.stdout}${result.stderr}`.includes(token), 'the token is not printed');
    for (const file of filesUnder(out)) assert.ok(!readFileSync(file).includes(token), `the token is in ${file}`);
    assert.match(readFileSync(join(out, 'summary.json'), 'utf8'), /"env": "KDKIT_TEST_TOKEN"/);
  } finally {
    await server.close();
  }
});

test("the same model name and version on another port is another teacher: its soft labels are not the first server's", async () => {
  const out = join(directory, 'two-servers');
  const shifted = (body: { outputs: { data: unknown }[] }) => {
    body.outputs[0].data = (body.outputs[0].data as number[]).map((value) => value + 1);
  };
  const first = await startKServeServer({ models: { teacher: { onnx: readFileSync(fixture), version: '1' } } });
  const second = await startKServeServer({
    models: { teacher: { onnx: readFileSync(fixture), version: '1' } },
    faults: { infer: () => ({ mutate: shifted }) },
  });
  const teacher = (url: string) => `{remote: {url: '${url}', model: teacher, outputName: logits, ${preprocessing}, batchSize: 200}}`;
  const plain =
    'student: {model: {type: mlp, hidden: [16]}}\nbaseline: false\ndistill: {epochs: 1, batchSize: 64, terms: [{method: kd, weight: 1, temperature: 4}]}\nexport: {quantize: [], onnx: false}\n';
  const write = (name: string, url: string) => {
    const path = join(directory, `${name}.yaml`);
    writeFileSync(path, `dataset: {name: digits}\nteacher: ${teacher(url)}\n${plain}`);
    return path;
  };
  try {
    const once = await kdkitAsync('run', write('first', first.url), '--out', out);
    assert.equal(once.status, 0, once.stderr);
    const twice = await kdkitAsync('run', write('second', second.url), '--out', out);
    assert.equal(twice.status, 0, twice.stderr);
    assert.match(twice.stdout, /soft labels: computed/);
    assert.ok(second.requests > 0, 'the second server was asked');
    assert.equal(readdirSync(join(out, 'cache')).filter((name) => name.startsWith('soft-labels-')).length, 2);
  } finally {
    await Promise.all([first.close(), second.close()]);
  }
});

test('a teacher file that is not ONNX, an unreachable server and a server of another protocol exit 2, naming them', async () => {
  const notOnnx = join(directory, 'fake.onnx');
  writeFileSync(notOnnx, '<html>not a model</html>');
  assertBadInput(
    kdkit('run', config('fake', `{onnx: ${notOnnx}}`), '--out', join(directory, 'bad1')),
    /fake\.onnx: not an ONNX model/,
    join(directory, 'bad1'),
  );
  const closed = await closedPort();
  assertBadInput(
    kdkit('run', config('unreachable', `{remote: {url: 'http://127.0.0.1:${closed}', model: teacher}}`), '--out', join(directory, 'bad2')),
    new RegExp(`http://127\\.0\\.0\\.1:${closed}/\\): cannot connect \\(ECONNREFUSED\\)`),
    join(directory, 'bad2'),
  );
  const html = await startKServeServer({ models: {}, faults: { html: true } });
  try {
    const result = await kdkitAsync(
      'run',
      config('html', `{remote: {url: '${html.url}', model: teacher}}`),
      '--out',
      join(directory, 'bad3'),
    );
    assertBadInput(result, /protocol/i, join(directory, 'bad3'));
  } finally {
    await html.close();
  }
});

test('credentials in a remote URL, and a header whose variable is unset, exit 2 without printing the secret', async () => {
  const secret = 'hunter2-secret';
  const refused = kdkit(
    'run',
    config('query', `{remote: {url: 'http://127.0.0.1:1/?token=${secret}', model: teacher}}`),
    '--out',
    join(directory, 'bad4'),
  );
  assertBadInput(
    refused,
    /teacher\.remote\.url: http:\/\/127\.0\.0\.1:1\/\?token=\*\*\* has a query string; .*headers/,
    join(directory, 'bad4'),
  );
  assert.ok(!`${refused.stdout}${refused.stderr}`.includes(secret));
  const userinfo = kdkit(
    'run',
    config('userinfo', `{remote: {url: 'http://kd:${secret}@127.0.0.1:1/', model: teacher}}`),
    '--out',
    join(directory, 'bad5'),
  );
  assertBadInput(userinfo, /teacher\.remote\.url: http:\/\/\*\*\*@127\.0\.0\.1:1\/ holds credentials/, join(directory, 'bad5'));
  assert.ok(!`${userinfo.stdout}${userinfo.stderr}`.includes(secret));
  const server = await startKServeServer({ models: { teacher: { onnx: readFileSync(fixture), version: '1' } } });
  try {
    const unset = await kdkitAsync(
      'run',
      config('unset', `{remote: {url: '${server.url}', model: teacher, headers: {Authorization: {env: KDKIT_TEST_UNSET_TOKEN}}}}`),
      '--out',
      join(directory, 'bad6'),
    );
    assertBadInput(
      unset,
      /teacher\.remote\.headers\.Authorization: the environment variable KDKIT_TEST_UNSET_TOKEN is not set/,
      join(directory, 'bad6'),
    );
  } finally {
    await server.close();
  }
});

test('a normalize with 3 channels for 1-channel data is exit 2 naming the field', () => {
  const out = join(directory, 'normalize-channels');
  const onnx = kdkit(
    'run',
    config('normalize-rgb', `{onnx: ${fixture}, inputLayout: nchw, normalize: {mean: [0.485, 0.456, 0.406], std: [0.2]}}`),
    '--out',
    out,
  );
  assertBadInput(onnx, /teacher\.normalize\.mean has 3 values; the dataset's samples have 1 channel: give one value for all of them/, out);
  const remote = kdkit(
    'run',
    config('normalize-remote', "{remote: {url: 'http://127.0.0.1:9/', model: m, normalize: {mean: [0.5], std: [0.2, 0.2]}}}"),
    '--out',
    out,
  );
  assertBadInput(remote, /teacher\.remote\.normalize\.std has 2 values; the dataset's samples have 1 channel/, out);
});

test('run --store: online, a second run with the same seed runs the ONNX teacher on no batch and trains the same student', () => {
  const path = join(directory, 'online-store.yaml');
  writeFileSync(
    path,
    `dataset: {name: digits, augment: {crop: {padding: 1}, flip: horizontal}}\nteacher: {onnx: ${fixture}, ${preprocessing}}\n${rest}`,
  );
  const store = join(directory, 'shared-store');
  const first = kdkit('run', path, '--out', join(directory, 'online-store-1'), '--store', store);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout + first.stderr, /outputs are kept by content in .*shared-store/);
  const batches = Number(/student: the teacher ran on (\d+) batches; 0 came from the store/.exec(first.stdout + first.stderr)?.[1]);
  assert.ok(batches > 0, first.stdout + first.stderr);
  const second = kdkit('run', path, '--out', join(directory, 'online-store-2'), '--store', store);
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout + second.stderr, new RegExp(`student: the teacher ran on 0 batches; ${batches} came from the store`));
  const accuracy = (run: string) => JSON.parse(readFileSync(join(directory, run, 'summary.json'), 'utf8')).models.student.accuracy;
  assert.equal(accuracy('online-store-2'), accuracy('online-store-1'));
  // cache ls shows the group (the teacher, its tap, the batches kept); cache rm takes its key.
  const listed = kdkit('cache', 'ls', '--store', store);
  assert.equal(listed.status, 0, listed.stderr);
  const row = new RegExp(`^([0-9a-f]{24})\\s+ONNX .*torch-teacher\\.onnx.*features \\[\\d+\\]\\s+${batches}\\s`, 'm').exec(listed.stdout);
  assert.ok(row, listed.stdout);
  const removed = kdkit('cache', 'rm', row[1].slice(0, 6), '--store', store);
  assert.equal(removed.status, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`removed online outputs ${row[1]} \\(${batches} batches`));
  assert.match(kdkit('cache', 'ls', '--store', store).stdout, /no soft-label entries/);
});
