import { test } from 'node:test';
import assert from 'node:assert/strict';
import { calibrationBins, classificationMetrics, compareWithTeacher } from './metrics.js';

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} vs ${expected}`);

test('accuracy, per-class precision/recall/F1, the confusion matrix and ECE, worked by hand', () => {
  // Row 2 ties classes 0 and 2: the lower index wins, so it is predicted 0 (wrong).
  const logits = Float32Array.of(2, 1, 0, 0, 3, 0, 1, 0, 1, 0, 0, 5);
  const labels = Int32Array.of(0, 1, 2, 2);
  const metrics = classificationMetrics(logits, labels, 3);
  assert.equal(metrics.accuracy, 3 / 4);
  assert.equal(metrics.top5Accuracy, null, 'no top-5 with 3 classes');
  assert.deepEqual(metrics.confusion, [
    [1, 0, 0],
    [0, 1, 0],
    [1, 0, 1],
  ]);
  // Class 0 is predicted twice (once right): precision 1/2, recall 1. Class 2: precision 1, recall 1/2.
  assert.deepEqual(
    metrics.perClass.map((c) => [c.precision, c.recall, c.support]),
    [
      [0.5, 1, 1],
      [1, 1, 1],
      [1, 0.5, 2],
    ],
  );
  close(metrics.perClass[0].f1, 2 / 3, 'F1 of class 0');
  close(metrics.macroF1, (2 / 3 + 1 + 2 / 3) / 3, 'macro F1');
  // Top-1 softmax confidences; each falls in its own fifteenth: ×15 = 9.98, 13.6, 6.33, 14.8.
  const e = Math.exp;
  const confidences = [e(2) / (e(2) + e(1) + 1), e(3) / (e(3) + 2), e(1) / (2 * e(1) + 1), e(5) / (e(5) + 2)];
  const correct = [1, 1, 0, 1];
  close(metrics.ece, confidences.reduce((sum, confidence, i) => sum + Math.abs(correct[i] - confidence), 0) / 4, 'ECE');
  assert.equal(calibrationBins, 15);
});

test('samples in one calibration bin are averaged before the gap is taken', () => {
  // Two samples with confidence 0.5 (logits 0, 0): one right, one wrong, so the bin is calibrated.
  const metrics = classificationMetrics(Float32Array.of(0, 0, 0, 0), Int32Array.of(0, 1), 2);
  close(metrics.ece, 0, 'ECE of a calibrated bin');
  // A class never predicted has precision 0, not NaN.
  assert.deepEqual(
    metrics.perClass.map((c) => c.precision),
    [0.5, 0],
  );
});

test('top-5 counts a label ranked fifth or better, ties going to the lower class index', () => {
  const ascending = Float32Array.of(0, 1, 2, 3, 4, 5);
  assert.equal(classificationMetrics(ascending, Int32Array.of(0), 6).top5Accuracy, 0, 'smallest of 6 is 6th');
  assert.equal(classificationMetrics(ascending, Int32Array.of(1), 6).top5Accuracy, 1, 'second smallest is 5th');
  const flat = new Float32Array(6);
  assert.equal(classificationMetrics(flat, Int32Array.of(5), 6).top5Accuracy, 0, 'five lower indices tie ahead of it');
  assert.equal(classificationMetrics(flat, Int32Array.of(4), 6).top5Accuracy, 1);
});

test('fidelity and KL(teacher ‖ student) at temperature 1', () => {
  // Teacher [0, ln 3] → p = (1/4, 3/4); student [0, 0] → q = (1/2, 1/2); predictions 1 vs 0.
  const comparison = compareWithTeacher(Float32Array.of(0, 0), Float32Array.of(0, Math.log(3)), 2);
  assert.equal(comparison.agreement, 0);
  assert.ok(Math.abs(comparison.klFromTeacher - (0.25 * Math.log(0.25 / 0.5) + 0.75 * Math.log(0.75 / 0.5))) < 1e-7);
  const same = compareWithTeacher(Float32Array.of(1, 2, 3, 0), Float32Array.of(1, 2, 3, 0), 2);
  assert.equal(same.agreement, 1);
  assert.equal(same.klFromTeacher, 0);
});
