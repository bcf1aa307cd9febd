import { forEachBatch, type Dataset } from '../data/dataset.js';
import { InputError } from '../errors.js';
import type { Teacher } from './teacher.js';

/** The teacher's logits for samples [start, end) of `dataset`, in the teacher's batch size, checked for width and finiteness. */
export async function teacherLogits(teacher: Teacher, dataset: Dataset, start = 0, end = dataset.labels.length): Promise<Float32Array> {
  const classes = dataset.numClasses;
  const out = new Float32Array((end - start) * classes);
  await forEachBatch(
    dataset,
    teacher.batchSize,
    async (batch, from, to) => {
      const logits = await teacher.logits(batch, to - from);
      if (logits.length !== (to - from) * classes) {
        throw new InputError(
          `teacher ${teacher.info.description} produced ${logits.length / (to - from)} outputs per sample; the dataset '${dataset.name}' has ${classes} classes`,
        );
      }
      const bad = logits.findIndex((value) => !Number.isFinite(value));
      if (bad >= 0)
        throw new InputError(
          `teacher ${teacher.info.description} produced a non-finite logit (${logits[bad]}) for sample ${from + Math.floor(bad / classes)} of '${dataset.name}'`,
        );
      out.set(logits, (from - start) * classes);
    },
    { start, end },
  );
  return out;
}
