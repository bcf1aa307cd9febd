/**
 * README's first library example ("As a library") runs as a user would run it: the code block as
 * written, in a file of its own that imports 'kdkit' through the package, with a teacher directory
 * beside it and a few lines that give it data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as tf from './engine/tf.js';
import { initEngine } from './engine/index.js';
import { saveModelDir } from './models/io.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The first ```js block after README's "## As a library" heading. */
function libraryExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('\n## As a library\n'));
  const match = /```js\n([\s\S]*?)```/.exec(section);
  assert.ok(match, "README has a js block under '## As a library'");
  return match[1];
}

test("README's distill() example runs as written on a user's own teacher directory", async () => {
  await initEngine({ backend: 'wasm' });
  const work = mkdtempSync(join(tmpdir(), 'kdkit-readme-'));
  const teacher = tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: [28, 28, 1] }),
      tf.layers.dense({ units: 10, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
    ],
  });
  await saveModelDir(teacher, join(work, 'teacher'));
  teacher.dispose();

  const example = libraryExample();
  // The data the example leaves to the user: 64 + 32 images whose class is the brightest of ten bands.
  const data = `
const images = (count, offset) => {
  const pixels = new Float32Array(count * 784);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    labels[i] = (i + offset) % 10;
    for (let p = 0; p < 784; p++) pixels[i * 784 + p] = Math.floor(p / 78.4) === labels[i] ? 1 : 0.1;
  }
  return [tf.tensor4d(pixels, [count, 28, 28, 1]), labels];
};
const [trainImages, trainLabels] = images(64, 0);
const [testImages, testLabels] = images(32, 3);
`;
  const lines = example.split('\n');
  const importEnd = lines.findIndex((line) => line.includes('await initEngine(')) + 1;
  assert.ok(importEnd > 0, 'the example starts the engine before its first tensor');
  const script = [...lines.slice(0, importEnd), data, ...lines.slice(importEnd), 'console.log(JSON.stringify(history.at(-1)));'].join('\n');
  // Inside the package, so that 'kdkit' resolves through its self-reference as it does for a user's install.
  const scratch = join(root, 'dist', `.readme-example-${process.pid}`);
  mkdirSync(scratch, { recursive: true });
  const file = join(scratch, 'example.mjs');
  writeFileSync(file, script);
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [file], { cwd: work });
    const last = JSON.parse(stdout.trim().split('\n').at(-1)!) as { validationAccuracy: number };
    assert.ok(last.validationAccuracy > 0.5, `the student learned: ${stdout}`);
    assert.ok(existsSync(join(work, 'student', 'model.json')), 'the example saved the student');
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
});
