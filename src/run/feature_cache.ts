/** How a run keeps a teacher's features for the feature terms (train/terms.ts): on disk, within a memory budget. */
import { totalmem } from 'node:os';
import { cachedTeacherFeatures } from '../teachers/cache.js';
import type { TeacherSource } from '../train/terms.js';

/**
 * A quarter of the machine's memory, from 1 GiB to 4 GiB: TinyBERT's taps of a 4-layer teacher
 * (attention scores and hidden states) on Banking77 take about 1.2 GiB at 32 tokens.
 */
const featureBudgetBytes = Math.min(4 * 2 ** 30, Math.max(2 ** 30, Math.floor(totalmem() / 4)));

/** The feature cache in the soft-label store entry `directory` (none without one), and the budget. */
export function featureCache(directory: string | undefined): Pick<TeacherSource, 'cacheFeatures' | 'featureBudgetBytes'> {
  return {
    featureBudgetBytes,
    ...(directory === undefined ? {} : { cacheFeatures: (options) => cachedTeacherFeatures({ directory, ...options }) }),
  };
}
