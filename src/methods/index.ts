import { Registry } from '../util/registry.js';
import type { DistillationMethod } from './method.js';
import { kd, kdLoss } from './kd.js';
import { ce, crossEntropyLoss } from './ce.js';
import { dkd, dkdLoss } from './dkd.js';
import { hint, hintLoss } from './hint.js';
import { attention, attentionLoss } from './attention.js';
import { rkd, rkdLoss } from './rkd.js';
import { sp, spLoss } from './sp.js';
import { ctkd } from './ctkd.js';
import { dist, distLoss } from './dist.js';
import { crd } from './crd.js';
import { tinybertAttention, tinybertAttentionLoss } from './tinybert_attention.js';
import { tinybertHidden, tinybertHiddenLoss } from './tinybert_hidden.js';
import { softCe, softCrossEntropyLoss } from './soft_ce.js';
import { minilm, miniLmLoss } from './minilm.js';
import { distilbertCosine, distilbertCosineLoss } from './distilbert_cosine.js';

export type { DistillationMethod, FeatureRequirement, FeatureTermOptions, TermContext, TermInputs, TermLoss } from './method.js';

// Methods take different option types; each term is validated by its own schema before build().
export const methods = new Registry<DistillationMethod<unknown>>('method')
  .register(kd.name, kd)
  .register(ce.name, ce)
  .register(dkd.name, dkd)
  .register(hint.name, hint)
  .register(attention.name, attention)
  .register(rkd.name, rkd)
  .register(sp.name, sp)
  .register(ctkd.name, ctkd)
  .register(dist.name, dist)
  .register(crd.name, crd)
  .register(tinybertAttention.name, tinybertAttention)
  .register(tinybertHidden.name, tinybertHidden)
  .register(softCe.name, softCe)
  .register(minilm.name, minilm)
  .register(distilbertCosine.name, distilbertCosine);

/** The losses as pure functions of tensors, for users with their own training loop. */
export const losses = {
  kd: kdLoss,
  ce: crossEntropyLoss,
  dkd: dkdLoss,
  hint: hintLoss,
  attention: attentionLoss,
  rkd: rkdLoss,
  sp: spLoss,
  dist: distLoss,
  tinybertAttention: tinybertAttentionLoss,
  tinybertHidden: tinybertHiddenLoss,
  softCe: softCrossEntropyLoss,
  minilm: miniLmLoss,
  distilbertCosine: distilbertCosineLoss,
};
