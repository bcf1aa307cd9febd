/**
 * DistilBERT's cosine embedding loss: each token's student hidden state points the way the
 * teacher's does. Sanh et al. (2019), "DistilBERT, a distilled version of BERT", arXiv:1910.01108,
 * §2; as huggingface/transformers examples/research_projects/distillation/distiller.py (loss_cos,
 * nn.CosineEmbeddingLoss(reduction="mean") on the tokens the attention mask keeps):
 *
 *   cos = h_s · h_t / √((‖h_s‖² + 1e-12) · (‖h_t‖² + 1e-12))      per token (torch's ε)
 *   cosine = mean over unmasked tokens of (1 − cos)
 *
 * DistilBERT's student has the teacher's width; a narrower one goes through the term's adapter
 * (`adapter: auto`, a dense layer per token). Its soft-label term is Hinton's `kd` (T²·KL,
 * batch mean), which kdkit already has.
 *
 * Config: `{method: distilbert-cosine, weight: 1, student: layer_2.hidden, teacher: layer_4.hidden}`.
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { featureTermFields } from './feature_options.js';
import { assertBatchPair } from './features.js';
import type { DistillationMethod, FeatureTermOptions } from './method.js';

/** torch.nn.functional.cosine_embedding_loss's EPSILON, added to each squared norm. */
const EPSILON = 1e-12;

export function distilbertCosineLoss(student: tf.Tensor, teacher: tf.Tensor, attentionMask?: tf.Tensor2D): tf.Scalar {
  assertBatchPair('distilbert-cosine', student, teacher, 3);
  if (!tf.util.arraysEqual(student.shape, teacher.shape)) {
    throw new Error(`distilbert-cosine: student [${student.shape.join(', ')}] and teacher [${teacher.shape.join(', ')}] differ in shape`);
  }
  return tf.tidy(() => {
    const dot = tf.sum(tf.mul(student, teacher), -1);
    const norms = tf.mul(tf.add(tf.sum(tf.square(student), -1), EPSILON), tf.add(tf.sum(tf.square(teacher), -1), EPSILON));
    const distance = tf.sub(1, tf.div(dot, tf.sqrt(norms)));
    if (!attentionMask) return tf.mean(distance) as tf.Scalar;
    const kept = tf.cast(attentionMask, 'float32');
    return tf.div(tf.sum(tf.mul(distance, kept)), tf.maximum(tf.sum(kept), 1)) as tf.Scalar;
  });
}

export const distilbertCosine: DistillationMethod<FeatureTermOptions> = {
  name: 'distilbert-cosine',
  paper: 'Sanh et al. 2019, DistilBERT, a distilled version of BERT: smaller, faster, cheaper and lighter',
  needsTeacher: true,
  features: 'same-shape',
  options: z.strictObject(featureTermFields),
  build: () => (inputs) => distilbertCosineLoss(inputs.studentFeature!, inputs.teacherFeature!, inputs.attentionMask),
};
