/**
 * TinyBERT's embedding- and hidden-state-based distillation: the student's hidden states, through
 * a learned linear map, regress onto the teacher's. Jiao et al. (2020), arXiv:1909.10351, eqs. 8–9;
 * as huawei-noah/Pretrained-Language-Model TinyBERT/task_distill.py, with fit_dense from
 * TinyBERT/transformer/modeling.py:
 *
 *   hidden = mean over batch, tokens and teacher width of (H_s · W_h + b − H_t)²
 *
 * over every token, padding included, as the official code does. The embeddings are hidden state 0
 * (kdkit's `embeddings` tap). W_h is the term's adapter (`adapter: auto`, a dense layer applied to
 * each token, when the widths differ); it trains with the student and is never exported. TinyBERT
 * shares one fit_dense across all layers; kdkit gives each term its own.
 *
 * Config: `{method: tinybert-hidden, weight: 1, student: layer_1.hidden, teacher: layer_2.hidden}`, or
 * `{method: tinybert-hidden, weight: 1, layers: uniform}` (the embeddings and every student layer, by
 * TinyBERT's mapping), or `layers: [[0, 0], [1, 2], [2, 4]]`.
 */
import type * as tf from '../engine/tf.js';
import { featureTermFields } from './feature_options.js';
import { hintLoss } from './hint.js';
import type { DistillationMethod } from './method.js';
import { layeredTermSchema, type LayeredTermOptions } from './tinybert_layers.js';

/** The loss on the projected student hidden states [batch, sequence, width_t] and the teacher's. */
export function tinybertHiddenLoss(projectedStudent: tf.Tensor, teacherHidden: tf.Tensor): tf.Scalar {
  return hintLoss(projectedStudent, teacherHidden);
}

export const tinybertHidden: DistillationMethod<LayeredTermOptions> = {
  name: 'tinybert-hidden',
  paper: 'Jiao et al. 2020, TinyBERT: Distilling BERT for Natural Language Understanding',
  needsTeacher: true,
  features: 'same-shape',
  options: layeredTermSchema(featureTermFields.adapter),
  build: () => (inputs) => tinybertHiddenLoss(inputs.studentFeature!, inputs.teacherFeature!),
};
