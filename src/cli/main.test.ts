import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { assertBadInput, kdkit } from './cli.test.util.js';
import { idxBytes } from '../data/idx.test.util.js';

function temporaryDirectory(): string {
  return mkdtempSync(join(tmpdir(), 'kdkit-cli-'));
}

/** A tiny Fashion-MNIST-shaped directory; `change` can corrupt one file. */
function fakeFashionMnist(change?: (files: Record<string, Buffer>) => void): string {
  const directory = temporaryDirectory();
  const labels = (count: number) => Uint8Array.from({ length: count }, (_, i) => i % 10);
  const files: Record<string, Buffer> = {
    'train-images-idx3-ubyte': idxBytes(0x08, [40, 28, 28], new Uint8Array(40 * 784).fill(7)),
    'train-labels-idx1-ubyte': idxBytes(0x08, [40], labels(40)),
    't10k-images-idx3-ubyte': idxBytes(0x08, [20, 28, 28], new Uint8Array(20 * 784).fill(9)),
    't10k-labels-idx1-ubyte': idxBytes(0x08, [20], labels(20)),
  };
  change?.(files);
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(directory, `${name}.gz`), gzipSync(bytes));
  return directory;
}

test('kdkit demo --quick runs the whole pipeline and writes the run directory', () => {
  const out = join(temporaryDirectory(), 'run');
  const result = kdkit('demo', '--quick', '--out', out, '--seed', '3');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /teacher[\s\S]*scratch[\s\S]*student/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.seed, 3);
  assert.equal(summary.backend, 'wasm');
  assert.deepEqual(summary.dataset, {
    name: 'digits',
    train: 1294,
    validation: 144,
    test: 359,
    classes: 10,
    classNames: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    inputs: [{ name: 'image', dtype: 'float32', shape: [8, 8, 1] }],
    sampleShape: [8, 8, 1],
  });
  for (const name of ['teacher', 'scratch', 'student']) {
    const model = summary.models[name];
    assert.ok(model.accuracy >= 0 && model.accuracy <= 1, `${name}.accuracy`);
    assert.ok(model.params > 0 && model.sizeBytes > 0 && model.macs > 0, `${name} cost figures`);
    assert.ok(model.latencyMs.batch1 > 0 && model.latencyMs.batchN > 0, `${name}.latencyMs`);
    assert.ok(model.trainSeconds > 0, `${name}.trainSeconds`);
  }
  assert.equal(summary.models.student.params, summary.models.scratch.params);
  assert.deepEqual(
    summary.stages.map((stage: { name: string }) => stage.name),
    ['teacher', 'scratch', 'student'],
  );
  const student = summary.stages[2];
  assert.deepEqual(
    student.terms.map((term: { method: string; weight: number }) => [term.method, term.weight]),
    [
      ['kd', 0.9],
      ['ce', 0.1],
    ],
  );
  assert.deepEqual(Object.keys(student.history[0].terms), ['kd', 'ce']);
  assert.deepEqual(summary.gate, { passed: true, model: 'student', quantization: 'float32', runtime: 'tfjs', checks: [] });
  for (const artifact of Object.values(summary.artifacts) as string[]) assert.ok(existsSync(join(out, artifact)), `artifact ${artifact}`);
  const modelJson = JSON.parse(readFileSync(join(out, 'student/model.json'), 'utf8'));
  assert.equal(modelJson.format, 'layers-model');
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /\| student \|/);
  assert.ok(
    readFileSync(join(out, 'logs.jsonl'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .every((line) => JSON.parse(line).type),
  );
});

test('a second run with the same seed reuses the soft labels and loads a saved teacher', () => {
  const out = join(temporaryDirectory(), 'run');
  assert.equal(kdkit('demo', '--quick', '--out', out).status, 0);
  const again = kdkit('demo', '--quick', '--out', out);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /soft labels: cached/);
  const figures = (summary: { models: Record<string, { accuracy: number; params: number }> }) =>
    Object.entries(summary.models).map(([name, model]) => [name, model.accuracy, model.params]);
  const summaryOf = () => JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const secondSummary = summaryOf();
  assert.equal(kdkit('demo', '--quick', '--out', out).status, 0);
  // Same seed, same backend: the same numbers, timings excepted.
  assert.deepEqual(figures(summaryOf()), figures(secondSummary));
  const config = join(temporaryDirectory(), 'load.yaml');
  writeFileSync(
    config,
    `dataset: {name: digits}\nteacher: {load: ${join(out, 'teacher')}}\nstudent: {model: {type: mlp, hidden: [8]}}\nbaseline: false\ndistill: {epochs: 1, terms: [{method: kd, weight: 1, temperature: 2}]}\n`,
  );
  const loaded = kdkit('run', config, '--out', join(temporaryDirectory(), 'run2'));
  assert.equal(loaded.status, 0, loaded.stderr);
  assert.match(loaded.stdout, /teacher: loading/);
  assert.match(loaded.stdout, /soft labels: computed/);
});

test('--help works on every command', () => {
  for (const args of [
    ['--help'],
    ['demo', '--help'],
    ['run', '--help'],
    ['eval', '--help'],
    ['export', '--help'],
    ['bench', '--help'],
    ['cache', '--help'],
  ]) {
    const result = kdkit(...args);
    assert.equal(result.status, 0);
    assert.match(result.stdout, /Usage: kdkit/);
  }
});

test('bad usage exits 2', () => {
  assertBadInput(kdkit('demo', '--dataset', 'cifar'), /--dataset.*cifar/);
  assertBadInput(kdkit('frobnicate'), /unknown command 'frobnicate'/);
  assertBadInput(kdkit('demo', '--seed', 'abc'), /--seed.*non-negative integer/);
  assertBadInput(
    kdkit('bench', 'speed'),
    /'speed' is invalid for argument 'suite'\. Allowed choices are step, epoch, zoo, text, inference, stream/,
  );
  assertBadInput(
    kdkit('bench', 'stream', '/nonexistent'),
    /no dataset in \/nonexistent; make one with \/usr\/bin\/python3 scripts\/make_streaming_dataset\.py/,
  );
});

test('a missing data directory exits 2 and says how to get Fashion-MNIST', () => {
  const out = join(temporaryDirectory(), 'run');
  assertBadInput(
    kdkit('demo', '--dataset', 'fashion-mnist', '--data', '/nonexistent/fmnist', '--out', out),
    /\/nonexistent\/fmnist[\s\S]*apt-get install dataset-fashion-mnist/,
    out,
  );
});

test('a corrupt IDX file exits 2 and names the file', () => {
  const wrongMagic = fakeFashionMnist((files) => files['train-images-idx3-ubyte'].writeUInt32BE(0x1234, 0));
  assertBadInput(
    kdkit('demo', '--dataset', 'fashion-mnist', '--data', wrongMagic, '--out', join(wrongMagic, 'run')),
    /train-images-idx3-ubyte\.gz.*magic/,
    join(wrongMagic, 'run'),
  );
  const truncated = fakeFashionMnist((files) => (files['t10k-images-idx3-ubyte'] = files['t10k-images-idx3-ubyte'].subarray(0, 1000)));
  assertBadInput(
    kdkit('demo', '--dataset', 'fashion-mnist', '--data', truncated, '--out', join(truncated, 'run')),
    /t10k-images-idx3-ubyte\.gz/,
    join(truncated, 'run'),
  );
});

test('a label outside the class range exits 2 and names the file', () => {
  const directory = fakeFashionMnist((files) => (files['train-labels-idx1-ubyte'][8 + 5] = 12));
  assertBadInput(
    kdkit('demo', '--dataset', 'fashion-mnist', '--data', directory, '--out', join(directory, 'run')),
    /train-labels-idx1-ubyte\.gz.*12/,
    join(directory, 'run'),
  );
});

test('invalid YAML, an unknown key and a wrong type exit 2 naming the file and field', () => {
  const directory = temporaryDirectory();
  const write = (name: string, text: string) => {
    writeFileSync(join(directory, name), text);
    return join(directory, name);
  };
  const base =
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: mlp, hidden: [4]}}\ndistill: {epochs: 1, terms: [{method: kd, weight: 1}]}\n';
  assertBadInput(kdkit('run', write('broken.yaml', 'dataset: [digits\n')), /broken\.yaml: not valid YAML/);
  assertBadInput(kdkit('run', write('unknown.yaml', `${base}epochz: 3\n`)), /unknown\.yaml: invalid config\nepochz: unknown key/);
  assertBadInput(
    kdkit('run', write('type.yaml', base.replace('epochs: 1}', 'epochs: "one"}'))),
    /type\.yaml: invalid config\nteacher\.epochs: expected number, received string/,
  );
  assertBadInput(kdkit('run', join(directory, 'absent.yaml')), /absent\.yaml: cannot read config file/);
});

test('a student spec that cannot be built exits 2 and names the field', () => {
  const directory = temporaryDirectory();
  const config = join(directory, 'deep.yaml');
  mkdirSync(join(directory, 'run'));
  writeFileSync(
    config,
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: cnn, filters: [4, 4, 4, 4]}}\ndistill: {epochs: 1, terms: [{method: ce, weight: 1}]}\n',
  );
  assertBadInput(
    kdkit('run', config, '--out', join(directory, 'run')),
    /student\.model\.filters: 4 conv\+pool blocks need a larger input than 8×8×1/,
    join(directory, 'run'),
  );
});
