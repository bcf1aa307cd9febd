/** How a run keeps a teacher's features for the feature terms (train/terms.ts): in its soft-label store entry. */
import { cachedTeacherFeatures } from '../teachers/cache.js';
import type { TeacherSource } from '../train/terms.js';

/** The feature cache in the soft-label store entry `directory`; none without one. */
export function featureCache(directory: string | undefined): Pick<TeacherSource, 'cacheFeatures'> {
  return directory === undefined ? {} : { cacheFeatures: (options) => cachedTeacherFeatures({ directory, ...options }) };
}
