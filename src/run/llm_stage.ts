/**
 * An LLM teacher's part of a run: it labels the training texts once, before training (its soft
 * labels are its log-probabilities, so `kd` at any temperature works unchanged), and the test
 * texts, or a seeded sample of them, for its own accuracy. Every answer comes from the response
 * store when it is there, so a second run sends no request. A text no answer named a class for is
 * left out of training and of the teacher's accuracy, and counted.
 */
import type { Dataset } from '../data/dataset.js';
import { subset } from '../data/split.js';
import { answersLookSingleDigit } from '../teachers/llm_distribution.js';
import { latencyStats } from '../eval/latency.js';
import type { ModelEvaluation } from '../eval/evaluate.js';
import { classificationMetrics } from '../eval/metrics.js';
import type { LlmTeacher, LlmUsage } from '../teachers/llm.js';
import type { LabellingProgress } from '../teachers/llm_labelling.js';
import { Rng } from '../util/rng.js';
import { selectRows } from '../util/rows.js';

export type { LlmUsage };

export type LabellingEvent = { type: 'labelling'; what: string } & LabellingProgress;

type Emit = (event: LabellingEvent | { type: 'info'; message: string }) => void;

/**
 * The teacher's answers over one split (`what`: train, validation): its answered samples as a
 * dataset with their log-probabilities, and what they cost. Unanswered texts are left out.
 */
export async function llmLabels(
  teacher: LlmTeacher,
  dataset: Dataset,
  what: string,
  emit: Emit,
): Promise<{ dataset: Dataset; logits: Float32Array; cached: boolean; usage: LlmUsage }> {
  const labels = await teacher.labelDataset(dataset, { onProgress: (progress) => emit({ type: 'labelling', what, ...progress }) });
  const usage = usageOf(teacher, dataset.texts!, labels);
  if (teacher.spec.mode === 'logprobs' && answersLookSingleDigit(labels.logProbabilities, labels.answered, dataset.numClasses)) {
    emit({
      type: 'info',
      message: `teacher.llm: warning: of ${dataset.numClasses} options, no ${what} text's answer was one past 9. If the model's tokenizer splits numbers into digits ("12" as "1", "2": Llama 2, Mistral, Qwen), logprobs mode reads only the first digit and cannot tell option 1 from 10–19; use mode: votes with such a model`,
    });
  }
  const cached = labels.progress.fromStore === dataset.labels.length;
  if (labels.unanswered === 0) return { dataset, logits: labels.logProbabilities, cached, usage };
  const kept = answeredRows(labels.answered);
  emit({
    type: 'info',
    message: `teacher.llm: ${labels.unanswered} of ${dataset.labels.length} ${what} texts got no answer that names a class; they are left out${what === 'train' ? ' of training (baseline included)' : ''}`,
  });
  return { dataset: subset(dataset, kept), logits: selectRows(labels.logProbabilities, dataset.numClasses, kept), cached, usage };
}

/**
 * The teacher on the test set (or `samples` of it, drawn with `seed`): accuracy over the texts it
 * answered, and what a request took. `rows` are the test samples `testLogits` holds answers for.
 */
export async function evaluateLlmTeacher(
  teacher: LlmTeacher,
  test: Dataset,
  options: { samples?: number; seed: number; emit: (event: LabellingEvent) => void },
): Promise<{ evaluation: ModelEvaluation; testLogits: Float32Array; rows: Int32Array; usage: LlmUsage }> {
  const count = test.labels.length;
  const asked =
    options.samples === undefined || options.samples >= count
      ? Int32Array.from({ length: count }, (_, i) => i)
      : new Rng(options.seed).permutation(count).slice(0, options.samples).sort();
  const labels = await teacher.labelDataset(test, {
    rows: asked,
    onProgress: (progress) => options.emit({ type: 'labelling', what: 'test', ...progress }),
  });
  const texts = Array.from(asked, (row) => test.texts![row]);
  const answered = answeredRows(labels.answered);
  const rows = Int32Array.from(answered, (i) => asked[i]);
  const classes = test.numClasses;
  const answeredLogits = selectRows(labels.logProbabilities, classes, answered);
  const testLogits = new Float32Array(count * classes);
  rows.forEach((row, k) => {
    testLogits.set(answeredLogits.subarray(k * classes, (k + 1) * classes), row * classes);
  });
  const truth = Int32Array.from(rows, (row) => test.labels[row]);
  const times = teacher.requestTimes(texts);
  const latency = latencyStats(times.length > 0 ? times : [Number.NaN], 1);
  const evaluation: ModelEvaluation = {
    ...classificationMetrics(answeredLogits, truth, classes),
    params: null,
    macs: null,
    sizeBytes: null,
    sizes: null,
    runtime: 'remote',
    latencyMs: { batch1: latency.p50Ms, batchN: latency.p50Ms },
    latencyBatch: 1,
    latency: { batch1: latency, batchN: latency },
    memory: null,
    trainSeconds: 0,
  };
  return { evaluation, testLogits, rows, usage: usageOf(teacher, texts, labels) };
}

function answeredRows(answered: Uint8Array): number[] {
  const rows: number[] = [];
  answered.forEach((flag, i) => {
    if (flag) rows.push(i);
  });
  return rows;
}

function usageOf(teacher: LlmTeacher, texts: readonly string[], labels: Awaited<ReturnType<LlmTeacher['labelDataset']>>): LlmUsage {
  const usage: LlmUsage = {
    texts: texts.length,
    fromStore: labels.progress.fromStore,
    requests: 0,
    promptTokens: 0,
    completionTokens: 0,
    unanswered: labels.unanswered,
    unparseable: labels.unparseable,
  };
  for (const text of texts) {
    const stored = teacher.store.read(text);
    if (!stored) continue;
    usage.requests += stored.requests;
    usage.promptTokens += stored.usage.promptTokens;
    usage.completionTokens += stored.usage.completionTokens;
  }
  return usage;
}
