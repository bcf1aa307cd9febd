/**
 * summary.json: the machine-readable record of a run and the source of every figure in the
 * reports. Field names carry their units.
 */
import type { EngineInfo } from '../engine/index.js';
import type { ModelEvaluation } from '../eval/evaluate.js';
import type { GateResult } from '../eval/gate.js';
import type { TermConfig } from '../config/schema.js';
import type { EpochRecord } from '../train/events.js';
import type { ExportRecord } from '../eval/export_record.js';
import type { LatencyStats } from '../eval/latency.js';
import type { LlmUsage } from '../teachers/llm.js';

/** Teacher against float32 student at batch 1 on one runtime; speedup = teacher ms / student ms. */
export interface Speedup {
  runtime: 'onnxruntime' | 'tfjs';
  teacherMs: number;
  studentMs: number;
  speedup: number;
}

export interface StageSummary {
  name: string;
  /** Key in `models` of the model this stage trained. */
  model: string;
  epochs: number;
  batchSize: number;
  optimizer: object;
  terms: TermConfig[];
  history: EpochRecord[];
  /** Why it ended before its last epoch (early stopping), when it did. */
  stopped?: string;
  /** The best epoch's model kept by `bestCheckpoint`, relative to the run directory. */
  best?: { epoch: number; path: string };
}

export interface Summary {
  kdkit: { version: string };
  createdAt: string;
  seed: number;
  backend: string;
  engine: EngineInfo;
  dataset: {
    name: string;
    train: number;
    validation: number;
    test: number;
    classes: number;
    classNames: string[];
    /** Each sample's fields: one float32 image, or a text's input_ids, attention_mask (and token_type_ids). */
    inputs: { name: string; dtype: string; shape: number[] }[];
    /** An image dataset's [height, width, channels]; absent for text. */
    sampleShape?: number[];
  };
  /** What the teacher is and where it ran: a TensorFlow.js model, an ONNX file, or a remote model. */
  teacher: {
    kind: 'tfjs' | 'onnx' | 'remote' | 'llm';
    description: string;
    fingerprint: string;
    /**
     * An LLM teacher: what labelling the training texts, the validation texts (a transfer set
     * without labels) and the test texts (or a sample) took, from the stored answers.
     */
    llm?: { train: LlmUsage; validation?: LlmUsage; test?: LlmUsage };
  };
  /** Keyed 'teacher', 'scratch', 'student', and 'assistant-N' in a chain. */
  models: Record<string, ModelEvaluation>;
  stages: StageSummary[];
  /**
   * Cached: where the soft labels are, whether the store already had them, and how long the step
   * took (summaries from before online labels have no mode). Online: the teacher labelled each
   * augmented batch inside the training step.
   */
  softLabels: { mode?: 'cached'; directory: string; cached: boolean; seconds: number } | { mode: 'online' };
  /** Deployment gate on the student; with no `deploy:` section it passes with no checks. */
  gate: GateResult;
  /** The student as exported: each TensorFlow.js variant and the ONNX file, with what they cost and lose. */
  exports: ExportRecord;
  /**
   * How much faster the student is than the teacher at batch 1 (median), on each runtime both were
   * timed on: TensorFlow.js when the teacher is a TensorFlow.js model; ONNX Runtime when the
   * teacher is an ONNX file or exports to one, against student.onnx. Absent in older summaries.
   */
  speedups?: Speedup[];
  /** The resolved config the run used. */
  config: object;
  /** Paths relative to the run directory. */
  artifacts: Record<string, string>;
}

/** What a run hands over for its summary.json; the rest is derived here. */
export interface RunRecord extends Omit<Summary, 'kdkit' | 'createdAt' | 'artifacts' | 'speedups'> {
  /** Extra model directories written beside student/: 'teacher', 'assistant-1', …. */
  savedModels: string[];
  /** A TensorFlow.js teacher's ONNX export timed in ONNX Runtime (export/teacher_latency.ts); null otherwise. */
  teacherOnnxLatency: { batch1: LatencyStats } | null;
  /** A text run's tokenizer, written beside the student. */
  tokenizer?: string;
}

/** The speedups summary.json records, from the models' and exports' batch-1 medians. */
export function speedups(run: Pick<RunRecord, 'models' | 'exports' | 'teacherOnnxLatency'>): Speedup[] {
  const { teacher, student } = run.models;
  if (!teacher || !student) return [];
  const pair = (runtime: Speedup['runtime'], teacherMs: number, studentMs: number): Speedup => ({
    runtime,
    teacherMs,
    studentMs,
    speedup: teacherMs / studentMs,
  });
  const result: Speedup[] = [];
  const studentOnnx = run.exports.onnx.find((copy) => copy.quantization === 'float32');
  const teacherOnnxMs = teacher.runtime === 'onnxruntime' ? teacher.latency.batch1.p50Ms : (run.teacherOnnxLatency?.batch1.p50Ms ?? null);
  if (studentOnnx && teacherOnnxMs !== null) result.push(pair('onnxruntime', teacherOnnxMs, studentOnnx.latency.batch1.p50Ms));
  if (teacher.runtime === 'tfjs' && student.runtime === 'tfjs')
    result.push(pair('tfjs', teacher.latency.batch1.p50Ms, student.latency.batch1.p50Ms));
  return result;
}

/** summary.json's content for a finished run, with the paths of everything it wrote. */
export function runSummary(run: RunRecord, version: string): Summary {
  const { savedModels, teacherOnnxLatency, tokenizer, ...rest } = run;
  const { exports } = run;
  return {
    kdkit: { version },
    createdAt: new Date().toISOString(),
    ...rest,
    speedups: speedups(run),
    artifacts: {
      summary: 'summary.json',
      report: 'report.md',
      reportHtml: 'report.html',
      logs: 'logs.jsonl',
      checkpoints: 'checkpoints',
      student: 'student/model.json',
      ...Object.fromEntries(
        exports.tfjs
          .filter((copy) => copy.quantization !== 'float32')
          .map((copy) => [`student-${copy.quantization}`, `${copy.path}/model.json`]),
      ),
      ...Object.fromEntries(
        exports.onnx.map((copy) => [copy.quantization === 'float32' ? 'onnx' : `onnx-${copy.quantization}`, copy.path]),
      ),
      ...Object.fromEntries(savedModels.map((name) => [name, `${name}/model.json`])),
      ...(run.softLabels.mode !== 'online' ? { softLabels: `${run.softLabels.directory}/manifest.json` } : {}),
      ...(tokenizer && { tokenizer }),
      ...(exports.transformersJs && { transformersJs: `${exports.transformersJs}/` }),
    },
  };
}
