/**
 * A transfer set without labels (`dataset.trainLabels: false`): the teacher's answers (the argmax
 * of its soft labels) become the training labels, which the `ce` term and the scratch baseline
 * learn from (hard-label distillation), and the validation samples are labelled by the teacher
 * too, so validation accuracy measures agreement with it. The test set keeps its true labels.
 */
import type { Dataset, DatasetSplits } from '../data/dataset.js';
import { LlmTeacher } from '../teachers/llm.js';
import { teacherLogits } from '../teachers/logits.js';
import type { Teacher } from '../teachers/teacher.js';
import { argmaxRow } from '../util/argmax.js';
import { llmLabels, type LabellingEvent, type LlmUsage } from './llm_stage.js';

export async function withTeacherLabels(
  teacher: Teacher,
  data: DatasetSplits,
  trainLogits: Float32Array,
  emit: (event: LabellingEvent | { type: 'info'; message: string }) => void,
): Promise<{ data: DatasetSplits; validationUsage?: LlmUsage }> {
  const train = relabelled(data.train, trainLogits);
  let validation = data.validation;
  let validationUsage: LlmUsage | undefined;
  if (validation.labels.length > 0) {
    if (teacher instanceof LlmTeacher) {
      const answers = await llmLabels(teacher, validation, 'validation', emit);
      validation = relabelled(answers.dataset, answers.logits);
      validationUsage = answers.usage;
    } else {
      validation = relabelled(validation, await teacherLogits(teacher, validation));
    }
  }
  emit({
    type: 'info',
    message: `labels: the training set has none (dataset.trainLabels: false); the teacher's answers label its ${train.labels.length} training and ${validation.labels.length} validation samples (validation accuracy is agreement with the teacher; scratch learns from its hard labels)`,
  });
  return { data: { ...data, train, validation }, ...(validationUsage && { validationUsage }) };
}

/** `dataset` with the argmax of each row of `logits` as its label. */
function relabelled(dataset: Dataset, logits: Float32Array): Dataset {
  const classes = dataset.numClasses;
  return { ...dataset, labels: Int32Array.from(dataset.labels, (_, row) => argmaxRow(logits, row, classes)) };
}
