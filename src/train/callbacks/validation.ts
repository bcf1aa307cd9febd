/**
 * Validation after every epoch: the student's accuracy and mean cross-entropy on the validation
 * split, in inference mode (dropout off, batch-norm moving statistics), as Keras' `validation_data`.
 */
import type { Dataset } from '../../data/dataset.js';
import { accuracy, predictLogitsAsync } from '../../models/predict.js';
import type { Callback } from './callback.js';

export function validation(data: Dataset): Callback {
  return {
    name: 'validation',
    async onEpochMetrics(record, loop) {
      if (data.labels.length === 0) return;
      const logits = await predictLogitsAsync(loop.model, data);
      record.validationAccuracy = accuracy(logits, data.labels);
      record.validationLoss = crossEntropy(logits, data.labels);
    },
  };
}

/** Mean −log softmax(logits)[label] over the rows, in float64 with the log-sum-exp shift. */
function crossEntropy(logits: Float32Array, labels: Int32Array): number {
  const classes = logits.length / labels.length;
  let total = 0;
  for (let row = 0; row < labels.length; row++) {
    const offset = row * classes;
    let largest = -Infinity;
    for (let c = 0; c < classes; c++) largest = Math.max(largest, logits[offset + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(logits[offset + c] - largest);
    total += largest + Math.log(sum) - logits[offset + labels[row]];
  }
  return total / labels.length;
}
