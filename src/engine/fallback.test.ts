import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const engineModule = fileURLToPath(new URL('./index.js', import.meta.url));

/** Runs `script` (ESM) in a child Node in which koffi and onnxruntime-node cannot be loaded. */
function withoutOnnxRuntime(script: string) {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-fallback-'));
  const hook = join(directory, 'hide-onnxruntime.cjs');
  writeFileSync(
    hook,
    `
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === 'koffi' || request.startsWith('onnxruntime-node')) {
    const error = new Error("Cannot find module '" + request + "'");
    error.code = 'MODULE_NOT_FOUND';
    throw error;
  }
  return resolve.call(this, request, ...rest);
};
`,
  );
  const scriptFile = join(directory, 'script.mjs');
  writeFileSync(scriptFile, script);
  return spawnSync(process.execPath, ['--require', hook, scriptFile], { encoding: 'utf8' });
}

test('without ONNX Runtime the engine says so once on stderr and computes on the plain wasm kernels', () => {
  const run = withoutOnnxRuntime(`
import { initEngine, tf } from ${JSON.stringify(engineModule)};
const first = await initEngine();
const second = await initEngine();
const x = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
const filter = tf.ones([2, 2, 1, 1]);
const y = tf.conv2d(x, filter, 1, 'valid');
const product = tf.matMul(tf.tensor2d([[1, 2]]), tf.tensor2d([[3], [4]]));
console.log(JSON.stringify({ first, second, conv: Array.from(y.dataSync()), product: Array.from(product.dataSync()) }));
`);
  assert.equal(run.status, 0, run.stderr);
  const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
  assert.equal(result.first.accelerator, 'none');
  assert.equal(result.first.acceleratorThreads, 0);
  assert.equal(result.first.acceleratorInterface, null);
  assert.deepEqual(result.second, result.first);
  assert.deepEqual(result.conv, [1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9]);
  assert.deepEqual(result.product, [11]);
  const warnings = run.stderr.split('\n').filter((line) => line.includes('ONNX Runtime acceleration unavailable'));
  assert.equal(warnings.length, 1, run.stderr);
  assert.match(warnings[0], /koffi|C API/);
  assert.match(warnings[0], /onnxruntime-node/);
  assert.match(warnings[0], /using the plain wasm kernels/);
});
