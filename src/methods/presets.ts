/**
 * Named sets of terms, for `distill: {preset: NAME}` in place of `terms`.
 *
 *   adaptive  The distillation process itself adapting: lean on the teacher's soft labels early,
 *             then shift the weight to the hard labels. kd (T = 4) falls from 0.9 to 0.1 along half
 *             a cosine while ce rises from 0.1 to 0.9, so the weights always sum to 1.
 *   hinton    The classic fixed mix of Hinton et al. 2015: 0.9 · kd (T = 4) + 0.1 · ce.
 */
import { Registry } from '../util/registry.js';

export interface PresetTerm {
  method: string;
  weight: number | { schedule: 'cosine' | 'linear'; from: number; to: number };
  [option: string]: unknown;
}

export const presets = new Registry<PresetTerm[]>('preset')
  .register('adaptive', [
    { method: 'kd', weight: { schedule: 'cosine', from: 0.9, to: 0.1 }, temperature: 4 },
    { method: 'ce', weight: { schedule: 'cosine', from: 0.1, to: 0.9 } },
  ])
  .register('hinton', [
    { method: 'kd', weight: 0.9, temperature: 4 },
    { method: 'ce', weight: 0.1 },
  ]);
