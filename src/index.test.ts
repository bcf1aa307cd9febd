import { test } from 'node:test';
import assert from 'node:assert/strict';

test("import('kdkit') resolves through the package's self-reference and gives tf, initEngine and losses", async () => {
  const kdkit = await import('kdkit');
  const engine = await kdkit.initEngine({ backend: 'wasm' });
  assert.equal(engine.backend, 'wasm');
  const student = kdkit.tf.tensor2d([[0, 0]]);
  const teacher = kdkit.tf.tensor2d([[Math.log(3), 0]]);
  const loss = kdkit.losses.kd(student, teacher, { temperature: 1 });
  assert.ok(Math.abs(loss.dataSync()[0] - (0.75 * Math.log(1.5) + 0.25 * Math.log(0.5))) < 1e-6);
  kdkit.tf.dispose([student, teacher, loss]);
  assert.deepEqual(kdkit.methods.names(), [
    'kd',
    'ce',
    'dkd',
    'hint',
    'attention',
    'rkd',
    'sp',
    'ctkd',
    'dist',
    'crd',
    'tinybert-attention',
    'tinybert-hidden',
    'soft-ce',
    'minilm',
    'distilbert-cosine',
  ]);
  assert.deepEqual(Object.keys(kdkit.losses).sort(), [
    'attention',
    'ce',
    'dist',
    'distilbertCosine',
    'dkd',
    'hint',
    'kd',
    'minilm',
    'rkd',
    'softCe',
    'sp',
    'tinybertAttention',
    'tinybertHidden',
  ]);
});
