/**
 * Quality metrics computed from test-set logits (row-major [n, classes]) on the host, in float64.
 * Ties in a row go to the lower class index, as in `argmaxRow`.
 */
import { argmaxRow } from '../util/argmax.js';

export interface ClassMetrics {
  precision: number;
  recall: number;
  f1: number;
  /** Test samples of this class. */
  support: number;
}

export interface ClassificationMetrics {
  /** Top-1 accuracy. */
  accuracy: number;
  /** Top-5 accuracy; null with fewer than 5 classes. */
  top5Accuracy: number | null;
  /** Per class, in class order. A class never predicted has precision 0 (scikit-learn's zero_division=0). */
  perClass: ClassMetrics[];
  /** Unweighted mean of the per-class F1. */
  macroF1: number;
  /** confusion[trueClass][predictedClass] = sample count. */
  confusion: number[][];
  /** Expected calibration error of the top-1 softmax confidence, 15 equal-width bins (Guo et al., 2017). */
  ece: number;
}

export const calibrationBins = 15;

export function classificationMetrics(logits: Float32Array, labels: Int32Array, numClasses: number): ClassificationMetrics {
  const count = labels.length;
  const confusion = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  const binCount = new Array<number>(calibrationBins).fill(0);
  const binConfidence = new Array<number>(calibrationBins).fill(0);
  const binCorrect = new Array<number>(calibrationBins).fill(0);
  let correct = 0;
  let top5 = 0;
  for (let i = 0; i < count; i++) {
    const predicted = argmaxRow(logits, i, numClasses);
    const label = labels[i];
    confusion[label][predicted]++;
    if (predicted === label) correct++;
    if (rankOf(logits, i, numClasses, label) < 5) top5++;
    const confidence = softmaxRow(logits, i, numClasses)[predicted];
    // Bins are (k/15, (k+1)/15]; a confidence is never 0.
    const bin = Math.min(calibrationBins - 1, Math.max(0, Math.ceil(confidence * calibrationBins) - 1));
    binCount[bin]++;
    binConfidence[bin] += confidence;
    if (predicted === label) binCorrect[bin]++;
  }
  let ece = 0;
  for (let b = 0; b < calibrationBins; b++) if (binCount[b] > 0) ece += Math.abs(binCorrect[b] - binConfidence[b]) / count;
  const perClass = confusion.map((row, c): ClassMetrics => {
    const truePositives = row[c];
    const support = row.reduce((sum, value) => sum + value, 0);
    const predictedAs = confusion.reduce((sum, other) => sum + other[c], 0);
    const precision = predictedAs === 0 ? 0 : truePositives / predictedAs;
    const recall = support === 0 ? 0 : truePositives / support;
    return { precision, recall, f1: precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall), support };
  });
  return {
    accuracy: count === 0 ? 0 : correct / count,
    top5Accuracy: numClasses >= 5 ? (count === 0 ? 0 : top5 / count) : null,
    perClass,
    macroF1: perClass.reduce((sum, metrics) => sum + metrics.f1, 0) / numClasses,
    confusion,
    ece,
  };
}

export interface TeacherComparison {
  /** Fraction of samples where the arg-max predictions agree (fidelity). */
  agreement: number;
  /** Mean KL(teacher ‖ model) of the softmax distributions at temperature 1, in nats. */
  klFromTeacher: number;
}

export function compareWithTeacher(logits: Float32Array, teacherLogits: Float32Array, numClasses: number): TeacherComparison {
  const count = logits.length / numClasses;
  let same = 0;
  let kl = 0;
  for (let i = 0; i < count; i++) {
    if (argmaxRow(logits, i, numClasses) === argmaxRow(teacherLogits, i, numClasses)) same++;
    const logP = logSoftmaxRow(teacherLogits, i, numClasses);
    const logQ = logSoftmaxRow(logits, i, numClasses);
    for (let c = 0; c < numClasses; c++) kl += Math.exp(logP[c]) * (logP[c] - logQ[c]);
  }
  return { agreement: count === 0 ? 0 : same / count, klFromTeacher: count === 0 ? 0 : kl / count };
}

/** Position of `target` when the row is sorted descending, ties broken toward the lower index. */
function rankOf(matrix: Float32Array, row: number, numClasses: number, target: number): number {
  const value = matrix[row * numClasses + target];
  let rank = 0;
  for (let c = 0; c < numClasses; c++) {
    const other = matrix[row * numClasses + c];
    if (other > value || (other === value && c < target)) rank++;
  }
  return rank;
}

function logSoftmaxRow(matrix: Float32Array, row: number, numClasses: number): Float64Array {
  const offset = row * numClasses;
  let max = -Infinity;
  for (let c = 0; c < numClasses; c++) max = Math.max(max, matrix[offset + c]);
  let sum = 0;
  for (let c = 0; c < numClasses; c++) sum += Math.exp(matrix[offset + c] - max);
  const logSum = max + Math.log(sum);
  const result = new Float64Array(numClasses);
  for (let c = 0; c < numClasses; c++) result[c] = matrix[offset + c] - logSum;
  return result;
}

function softmaxRow(matrix: Float32Array, row: number, numClasses: number): Float64Array {
  return logSoftmaxRow(matrix, row, numClasses).map(Math.exp);
}
