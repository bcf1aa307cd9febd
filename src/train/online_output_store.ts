/** The soft-label store's online part for distill() in a run (Node): see StageExtras.onlineStore. */
import { MAX_FLOATS_PER_SAMPLE, onlineStore, type OnlineStore } from '../teachers/online_store.js';
import type { TrainEvent } from './events.js';
import type { TeacherSource } from './terms.js';

/** The store under `root` for a teacher of host arrays, or null (a TensorFlow.js teacher, outputs too large). */
export function onlineOutputStore(
  root: string,
  source: TeacherSource,
  taps: readonly { name: string; shape: number[] }[],
  classes: number,
  emit: (event: TrainEvent) => void,
): OnlineStore | null {
  // A TensorFlow.js teacher runs on the batch's tensors, on the device: reading them back to key a store would cost more.
  if (source.model) return null;
  const { fingerprint, description } = source.teacher.info;
  const store = onlineStore(root, { fingerprint, description, classes }, taps);
  if (!store)
    emit({
      type: 'info',
      message: `online soft labels: the teacher's taps (${taps.map(({ name }) => name).join(', ')}) are over ${MAX_FLOATS_PER_SAMPLE} floats a sample with the logits, too large to keep; it runs on every batch`,
    });
  return store;
}
