// TinyBERT's attention, hidden-state and prediction losses, MiniLMv2's relation loss and
// DistilBERT's cosine loss against PyTorch values from each method's official code
// (test/fixtures/text_kd.json, written by scripts/make_text_kd_fixture.py), on both backends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as tf from '../engine/tf.js';
import { initEngine, type BackendName } from '../engine/index.js';
import { losses } from './index.js';
import { tinybertLayerMap } from './tinybert_layers.js';

type Nested = number | Nested[];
const fixture = JSON.parse(readFileSync(new URL('../../test/fixtures/text_kd.json', import.meta.url), 'utf8'));

const flat = (values: Nested): number[] => (Array.isArray(values) ? values.flatMap(flat) : [values]);
function shapeOf(values: Nested): number[] {
  return Array.isArray(values) ? [values.length, ...shapeOf(values[0])] : [];
}
const tensor = (values: Nested) => tf.tensor(flat(values), shapeOf(values), 'float32');
const mask = (values: Nested) => tf.tensor2d(flat(values), shapeOf(values) as [number, number], 'int32');

function allClose(actual: ArrayLike<number>, expected: Nested, label: string): void {
  const want = flat(expected);
  assert.equal(actual.length, want.length, `${label}: length`);
  const scale = Math.max(...want.map(Math.abs));
  for (let i = 0; i < want.length; i++) {
    const tolerance = Math.max(1e-5 * Math.abs(want[i]), 1e-5 * scale, 1e-7);
    assert.ok(Math.abs(actual[i] - want[i]) <= tolerance, `${label}[${i}]: got ${actual[i]}, expected ${want[i]}`);
  }
}

/** The loss and its gradients with respect to `inputs`. */
function lossAndGrads(f: (...inputs: tf.Tensor[]) => tf.Scalar, inputs: tf.Tensor[]): { loss: number; grads: Float32Array[] } {
  const { value, grads } = tf.valueAndGrads(f)(inputs);
  const result = { loss: value.dataSync()[0], grads: grads.map((grad) => grad.dataSync() as Float32Array) };
  tf.dispose([value, ...grads]);
  return result;
}

const backends: BackendName[] = ['cpu', 'wasm'];
for (const backend of backends) {
  test(`text distillation losses match the official code's PyTorch values (${backend})`, async (t) => {
    await initEngine({ backend });
    await t.test('tinybert-attention: masked scores zeroed, then MSE', () => {
      const c = fixture.tinybertAttention;
      const teacher = tensor(c.teacherScores);
      const { loss, grads } = lossAndGrads((s) => losses.tinybertAttention(s, teacher), [tensor(c.studentScores)]);
      allClose([loss], [c.loss], 'loss');
      allClose(grads[0], c.gradStudentScores, 'd/d student scores');
    });
    await t.test('tinybert-hidden: MSE after the learned linear map (fit_dense)', () => {
      const c = fixture.tinybertHidden;
      const teacher = tensor(c.teacherHidden);
      const [batch, sequence, widthS] = shapeOf(c.studentHidden);
      const widthT = shapeOf(c.teacherHidden)[2];
      const { loss, grads } = lossAndGrads(
        (student, kernel, bias) =>
          losses.tinybertHidden(
            tf.add(tf.reshape(tf.matMul(tf.reshape(student, [batch * sequence, widthS]), kernel), [batch, sequence, widthT]), bias),
            teacher,
          ),
        [tensor(c.studentHidden), tensor(c.fitDense.kernel), tensor(c.fitDense.bias)],
      );
      allClose([loss], [c.loss], 'loss');
      allClose(grads[0], c.gradStudentHidden, 'd/d student hidden');
      allClose(grads[1], c.gradFitDense.kernel, 'd/d kernel');
      allClose(grads[2], c.gradFitDense.bias, 'd/d bias');
    });
    for (const c of fixture.tinybertPrediction) {
      await t.test(`soft-ce at T = ${c.temperature}: mean over batch and classes, no T²`, () => {
        const teacher = tensor(c.teacherLogits);
        const { loss, grads } = lossAndGrads((s) => losses.softCe(s, teacher, c.temperature), [tensor(c.studentLogits)]);
        allClose([loss], [c.loss], 'loss');
        allClose(grads[0], c.gradStudentLogits, 'd/d student logits');
      });
    }
    await t.test('minilm: KL of query, key and value relations over 4 relation heads, widths 8 and 12', () => {
      const c = fixture.minilmRelation;
      const attention = mask(c.attentionMask);
      let total = 0;
      for (const relation of ['query', 'key', 'value']) {
        const teacher = tensor(c.teacher[relation]);
        const { loss, grads } = lossAndGrads((s) => losses.minilm(s, teacher, c.relationHeads, attention), [tensor(c.student[relation])]);
        allClose([loss], [c.relationLosses[relation]], `${relation} loss`);
        allClose(grads[0], c.gradStudent[relation], `d/d student ${relation}`);
        total += loss;
      }
      allClose([total], [c.loss], 'sum of the three');
    });
    await t.test('distilbert-cosine: 1 − cos averaged over the tokens the mask keeps', () => {
      const c = fixture.distilbertCosine;
      const teacher = tensor(c.teacherHidden);
      const attention = mask(c.attentionMask);
      const { loss, grads } = lossAndGrads((s) => losses.distilbertCosine(s, teacher, attention), [tensor(c.studentHidden)]);
      allClose([loss], [c.loss], 'loss');
      allClose(grads[0], c.gradStudentHidden, 'd/d student hidden');
    });
  });
}

test("TinyBERT's uniform layer mapping: student layer i takes teacher attention i·k and hidden state i·k (0: the embeddings)", () => {
  for (const c of fixture.tinybertLayerMapping.cases) {
    const map = tinybertLayerMap(c.teacherLayers, c.studentLayers);
    // The fixture's indices are into TinyBERT's lists: attentions from layer 1, hidden states from the embeddings.
    assert.deepEqual(
      map.attention.map(([, teacher]) => teacher - 1),
      c.attentionTeacherIndex,
    );
    assert.deepEqual(
      map.hidden.map(([, teacher]) => teacher),
      c.hiddenTeacherIndex,
    );
    assert.deepEqual(
      map.hidden.map(([student]) => student),
      Array.from({ length: c.studentLayers + 1 }, (_, i) => i),
    );
  }
  assert.throws(() => tinybertLayerMap(6, 4), /6 teacher layers do not divide into 4 student layers/);
});
