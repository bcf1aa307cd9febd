/** Rows of the report's tables, header first, shared by the console, report.md and report.html. */
import type { ModelEvaluation } from '../eval/evaluate.js';
import type { GateCheck, GateResult } from '../eval/gate.js';
import type { Summary } from './summary.js';

const ORDER = ['teacher', 'scratch', 'student'];

/** Rows of the side-by-side comparison, shared by the console table and report.md. */
export function comparisonRows(summary: Summary): string[][] {
  const header = [
    'model',
    'test acc',
    'params',
    'MACs',
    'size',
    'latency b1',
    `latency b${largeBatch(summary)}`,
    'train',
    'agrees w/ teacher',
  ];
  const rows = modelNames(summary).map((name) => {
    const model = summary.models[name];
    return [
      name,
      percent(model.accuracy),
      optional(model.params, count),
      optional(model.macs, count),
      optional(model.sizeBytes, bytes),
      `${model.latencyMs.batch1.toFixed(2)} ms`,
      model.latencyBatch === largeBatch(summary) ? `${model.latencyMs.batchN.toFixed(1)} ms` : '—',
      trainTime(model),
      optional(model.agreementWithTeacher, percent),
    ];
  });
  return [header, ...rows];
}

/** What each model gets right, and how close it stays to the teacher. */
export function qualityRows(summary: Summary): string[][] {
  const header = ['model', 'test acc', 'top-5', 'macro F1', 'ECE', 'agrees w/ teacher', 'KL(teacher‖model)'];
  return [
    header,
    ...modelNames(summary).map((name) => {
      const model = summary.models[name];
      return [
        name,
        percent(model.accuracy),
        optional(model.top5Accuracy ?? undefined, percent),
        percent(model.macroF1),
        percent(model.ece),
        optional(model.agreementWithTeacher, percent),
        optional(model.klFromTeacher, (nats) => `${nats.toFixed(3)} nats`),
      ];
    }),
  ];
}

/**
 * What each model costs to store, run and train where it runs (summary.models[…].runtime:
 * TensorFlow.js, or ONNX Runtime / a server for an external teacher).
 */
export function costRows(summary: Summary): string[][] {
  const n = largeBatch(summary);
  const header = [
    'model',
    'params',
    'MACs',
    'size f32',
    'size f16',
    'size u8',
    'b1 p50',
    'b1 p95',
    `b${n} p50`,
    `b${n} p95`,
    `b${n} throughput`,
    'peak mem b1',
    `peak mem b${n}`,
    'train',
  ];
  return [
    header,
    ...modelNames(summary).map((name) => {
      const model = summary.models[name];
      const { batch1, batchN } = model.latency;
      const atN = model.latencyBatch === n;
      return [
        name,
        optional(model.params, count),
        optional(model.macs, count),
        optional(model.sizes?.float32 ?? model.sizeBytes, bytes),
        optional(model.sizes?.float16, bytes),
        optional(model.sizes?.uint8, bytes),
        ms(batch1.p50Ms),
        ms(batch1.p95Ms),
        atN ? ms(batchN.p50Ms) : '—',
        atN ? ms(batchN.p95Ms) : '—',
        atN ? `${count(Math.round(batchN.samplesPerSecond))}/s` : '—',
        optional(model.memory?.peakBytesBatch1, bytes),
        optional(model.memory?.peakBytesBatchN, bytes),
        trainTime(model),
      ];
    }),
  ];
}

/** What the LLM usage table's figures mean. */
export const LLM_USAGE_NOTE =
  "Requests and tokens are what the stored answers took (usage as the endpoint reported it), whether asked in this run or an earlier one; from the store: answered without a request in this run. Unanswered texts are left out of training and of the teacher's accuracy.";

/**
 * An LLM teacher's answers: per split it labelled, the texts, the requests and tokens the stored
 * answers took (in this run or an earlier one), and what could not be used. Null for other teachers.
 */
export function llmUsageRows(summary: Summary): string[][] | null {
  const usage = summary.teacher.llm;
  if (!usage) return null;
  const splits = (['train', 'validation', 'test'] as const).flatMap((split) => {
    const used = usage[split];
    return used ? [[split, used] as const] : [];
  });
  return [
    ['split', 'texts', 'from the store', 'requests', 'prompt tokens', 'completion tokens', 'unanswered', 'unparseable'],
    ...splits.map(([split, used]) => [
      split,
      count(used.texts),
      count(used.fromStore),
      count(used.requests),
      count(used.promptTokens),
      count(used.completionTokens),
      count(used.unanswered),
      count(used.unparseable),
    ]),
  ];
}

/** Precision, recall, F1 and support of each class. */
export function perClassRows(model: ModelEvaluation, classLabels: readonly string[]): string[][] {
  return [
    ['class', 'precision', 'recall', 'F1', 'support'],
    ...model.perClass.map((metrics, c) => [
      classLabels[c],
      percent(metrics.precision),
      percent(metrics.recall),
      percent(metrics.f1),
      String(metrics.support),
    ]),
  ];
}

/** The confusion matrix: a row per true class, a column per predicted class. */
export function confusionRows(model: ModelEvaluation, classLabels: readonly string[]): string[][] {
  return [['true \\ predicted', ...classLabels], ...model.confusion.map((row, c) => [classLabels[c], ...row.map(String)])];
}

/** The dataset's class names, or class indices where it has none. */
export function classLabels(summary: Summary): string[] {
  return Array.from({ length: summary.dataset.classes }, (_, c) => summary.dataset.classNames[c] ?? String(c));
}

/** Each deployment check with its limit and measured value in the check's unit. */
export function gateRows(gate: GateResult): string[][] {
  return [
    ['check', 'measure', 'limit', 'measured', 'result'],
    ...gate.checks.map((check) => [
      check.name,
      check.measure,
      `${check.kind === 'max' ? '≤' : '≥'} ${formatMeasure(check.limit, check.unit)}`,
      formatMeasure(check.value, check.unit),
      check.passed ? 'pass' : 'FAIL',
    ]),
  ];
}

/** One sentence: what the gate judged and why it failed, or that there was nothing to judge. */
export function gateVerdict(gate: GateResult): string {
  if (gate.checks.length === 0) return 'The config sets no deploy: constraints, so the gate had nothing to check.';
  const judged = `${gate.model} (${gate.quantization}, ${gate.runtime === 'tfjs' ? 'TensorFlow.js' : 'ONNX Runtime'})`;
  if (gate.passed) return `Passed: ${judged} meets all ${gate.checks.length} deploy: constraints.`;
  const failures = gate.checks
    .filter((check) => !check.passed)
    .map(
      (check) =>
        `${check.name} ${formatMeasure(check.value, check.unit)} ${check.kind === 'max' ? '>' : '<'} ${formatMeasure(check.limit, check.unit)}`,
    );
  return `Failed: ${judged} misses ${failures.length} of ${gate.checks.length} deploy: constraints: ${failures.join('; ')}.`;
}

/** Each exported copy of the student: what it costs and what it loses against the float32 student. */
export function exportRows(summary: Summary): string[][] {
  const { tfjs, onnx: onnxCopies } = summary.exports;
  const header = ['format', 'quantization', 'path', 'size', 'test acc', 'drop', 'max |Δ logit|', 'agrees w/ TF.js', 'ORT b1 p50 / p95'];
  if (onnxCopies.length > 0) header.push(`ORT b${onnxCopies[0].latency.batchN.batchSize} p50 / p95`);
  const rows = tfjs.map((copy) => [
    'TensorFlow.js',
    copy.quantization,
    `${copy.path}/`,
    bytes(copy.sizeBytes),
    percent(copy.accuracy),
    points(copy.accuracyDrop),
    '—',
    '—',
    '—',
    ...(onnxCopies.length > 0 ? ['—'] : []),
  ]);
  const studentAccuracy = summary.models.student?.accuracy;
  for (const onnx of onnxCopies) {
    rows.push([
      // Only images have a layout; text models take token ids.
      summary.dataset.sampleShape ? `ONNX (opset ${onnx.opset}, ${onnx.layout.toUpperCase()})` : `ONNX (opset ${onnx.opset})`,
      onnx.quantization,
      onnx.path,
      bytes(onnx.sizeBytes),
      percent(onnx.accuracy),
      optional(studentAccuracy === undefined ? undefined : studentAccuracy - onnx.accuracy, points),
      onnx.maxAbsDiff === 0 ? '0' : onnx.maxAbsDiff.toExponential(1),
      percent(onnx.agreement),
      `${onnx.latency.batch1.p50Ms.toFixed(2)} / ${ms(onnx.latency.batch1.p95Ms)}${onnx.latency.query ? ` (${onnx.latency.query.p50Ms.toFixed(2)} per query, tokenized)` : ''}`,
      `${onnx.latency.batchN.p50Ms.toFixed(2)} / ${ms(onnx.latency.batchN.p95Ms)}`,
    ]);
  }
  return [header, ...rows];
}

/** A plain-text table with aligned columns. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: string[]) =>
    row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(rows[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Student accuracy minus scratch accuracy, in percentage points, when both exist. */
export function distillationGainPoints(summary: Summary): number | null {
  const { student, scratch } = summary.models;
  return student && scratch ? (student.accuracy - scratch.accuracy) * 100 : null;
}

const runtimeNames = { onnxruntime: 'ONNX Runtime', tfjs: 'TensorFlow.js' } as const;

/**
 * "At batch 1 the student is 8.1× faster than the teacher on ONNX Runtime (0.160 ms against
 * 1.30 ms), and 3.0× faster on TensorFlow.js (…)."; null when no runtime timed both.
 */
export function speedupSentence(summary: Pick<Summary, 'speedups'>): string | null {
  const speedups = summary.speedups ?? [];
  if (speedups.length === 0) return null;
  const parts = speedups.map(({ runtime, speedup, studentMs, teacherMs }, index) => {
    const how = speedup >= 1 ? `${speedup.toFixed(1)}× faster` : `${(1 / speedup).toFixed(1)}× slower`;
    return `${how}${index === 0 ? ' than the teacher' : ''} on ${runtimeNames[runtime]} (${formatMs(studentMs)} against ${formatMs(teacherMs)})`;
  });
  return `At batch 1 the student is ${parts.join(', and ')}.`;
}

function formatMs(ms: number): string {
  return `${ms < 1 ? ms.toFixed(3) : ms.toFixed(2)} ms`;
}

/** Model names in reading order: teacher, scratch, student, then the rest (assistants) by name. */
export function modelNames(summary: Summary): string[] {
  return Object.keys(summary.models).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b, 'en', { numeric: true }));
}

export function formatMeasure(value: number, unit: GateCheck['unit']): string {
  switch (unit) {
    case 'bytes':
      return bytes(value);
    case 'ms':
      return ms(value);
    case 'fraction':
      return percent(value);
    case 'count':
      return count(value);
  }
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

/**
 * An epoch's validation accuracy as a percentage, or null when the run has no validation set: the
 * trainer records NaN then, which JSON (summary.json, checkpoints) turns into null.
 */
export function validationPercent(accuracy: number | null): string | null {
  return accuracy !== null && Number.isFinite(accuracy) ? percent(accuracy) : null;
}

export function bytes(count: number): string {
  if (count >= 1 << 20) return `${(count / (1 << 20)).toFixed(2)} MiB`;
  if (count >= 1 << 10) return `${(count / (1 << 10)).toFixed(1)} KiB`;
  return `${count} B`;
}

function ms(value: number): string {
  return `${value.toFixed(2)} ms`;
}

function count(value: number): string {
  return value.toLocaleString('en-US');
}

/** A difference of two accuracies, in percentage points. */
function points(fraction: number): string {
  return `${(fraction * 100).toFixed(2)} pts`;
}

function optional<T>(value: T | null | undefined, format: (value: T) => string): string {
  return value === undefined || value === null ? '—' : format(value);
}

function trainTime(model: ModelEvaluation): string {
  return model.trainSeconds > 0 ? `${model.trainSeconds.toFixed(1)} s` : 'loaded';
}

function rank(name: string): number {
  const index = ORDER.indexOf(name);
  return index === -1 ? ORDER.length : index;
}

/**
 * The batch of the large-batch latency columns: the largest any model was timed at. A model timed
 * at another (an LLM teacher answers one text a request) shows '—' there.
 */
function largeBatch(summary: Summary): number {
  const batches = Object.values(summary.models).map((model) => model.latencyBatch);
  return batches.length === 0 ? 256 : Math.max(...batches);
}
