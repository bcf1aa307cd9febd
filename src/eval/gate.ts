/** The deployment gate: the student's measured figures against the limits of `deploy:`. */
import { InputError } from '../errors.js';
import type { ExportRecord } from './export_record.js';
import type { ModelEvaluation } from './evaluate.js';

export interface GateCheck {
  /** The config key, e.g. 'maxLatencyMs'. */
  name: string;
  /** What is measured, in words, e.g. 'batch-1 p95 latency (TensorFlow.js)'. */
  measure: string;
  /** 'bytes', 'ms', 'fraction' or 'count'. */
  unit: 'bytes' | 'ms' | 'fraction' | 'count';
  /** 'max' checks value ≤ limit; 'min' checks value ≥ limit. */
  kind: 'max' | 'min';
  limit: number;
  value: number;
  passed: boolean;
}

export interface GateResult {
  passed: boolean;
  /** The model the gate judged (a key of summary.models) and the export it judged. */
  model: string;
  quantization: 'float32' | 'float16' | 'uint8';
  runtime: 'tfjs' | 'onnxruntime';
  checks: GateCheck[];
}

/** The student's figures the gate reads, for the judged export and runtime. */
export interface GateFigures {
  sizeBytes: number;
  latencyP95Ms: number;
  accuracy: number;
  teacherAccuracy: number;
  params: number;
  macs: number;
  memoryBytes: number;
  agreement: number;
}

type Limits = Partial<
  Record<
    'maxSizeBytes' | 'maxLatencyMs' | 'minAccuracy' | 'maxAccuracyDrop' | 'maxParams' | 'maxMacs' | 'maxMemoryBytes' | 'minAgreement',
    number
  >
>;

/** Each check: the figure it reads, in words and units. */
const checks: Record<keyof Limits, { measure: string; unit: GateCheck['unit']; value: (figures: GateFigures) => number }> = {
  maxSizeBytes: { measure: 'size of the export', unit: 'bytes', value: (f) => f.sizeBytes },
  maxLatencyMs: { measure: 'batch-1 p95 latency', unit: 'ms', value: (f) => f.latencyP95Ms },
  minAccuracy: { measure: 'test accuracy', unit: 'fraction', value: (f) => f.accuracy },
  maxAccuracyDrop: { measure: 'teacher accuracy minus student accuracy', unit: 'fraction', value: (f) => f.teacherAccuracy - f.accuracy },
  maxParams: { measure: 'parameters', unit: 'count', value: (f) => f.params },
  maxMacs: { measure: 'multiply-accumulates per sample', unit: 'count', value: (f) => f.macs },
  maxMemoryBytes: { measure: 'peak inference memory at batch 1', unit: 'bytes', value: (f) => f.memoryBytes },
  minAgreement: { measure: 'agreement with the teacher', unit: 'fraction', value: (f) => f.agreement },
};

/** Checks the figures against every limit given, in the order of `checks`. */
export function evaluateGate(
  limits: Limits,
  figures: GateFigures,
  judged: Pick<GateResult, 'model' | 'quantization' | 'runtime'>,
): GateResult {
  const results: GateCheck[] = [];
  for (const [name, check] of Object.entries(checks) as [keyof Limits, (typeof checks)[keyof Limits]][]) {
    const limit = limits[name];
    if (limit === undefined) continue;
    const value = check.value(figures);
    const kind = name.startsWith('max') ? 'max' : 'min';
    results.push({
      name,
      measure: check.measure,
      unit: check.unit,
      kind,
      limit,
      value,
      passed: kind === 'max' ? value <= limit : value >= limit,
    });
  }
  return { ...judged, passed: results.every((check) => check.passed), checks: results };
}

/** The gate for a run: the deploy limits against the student's figures on the judged export. */
export function gateForRun(
  deploy: (Limits & { quantization: GateResult['quantization']; runtime: GateResult['runtime'] }) | undefined,
  models: Record<string, ModelEvaluation>,
  exports: ExportRecord,
): GateResult {
  const judged = { model: 'student', quantization: deploy?.quantization ?? 'float32', runtime: deploy?.runtime ?? 'tfjs' } as const;
  if (!deploy) return { ...judged, passed: true, checks: [] };
  const student = models.student;
  const onnx = deploy.runtime === 'onnxruntime' ? exports.onnx.find((copy) => copy.quantization === judged.quantization) : undefined;
  if (deploy.runtime === 'onnxruntime' && !onnx)
    throw new InputError("deploy.runtime: 'onnxruntime' needs the ONNX export (export.onnx: true)");
  const tfjs = exports.tfjs.find((copy) => copy.quantization === judged.quantization);
  if (!tfjs) throw new Error(`no ${judged.quantization} TensorFlow.js export to judge`);
  return evaluateGate(
    deploy,
    {
      sizeBytes: onnx ? onnx.sizeBytes : tfjs.sizeBytes,
      latencyP95Ms: onnx ? onnx.latency.batch1.p95Ms : student.latency.batch1.p95Ms,
      accuracy: onnx ? onnx.accuracy : tfjs.accuracy,
      teacherAccuracy: models.teacher.accuracy,
      // The student is always a TensorFlow.js model, which has every figure.
      params: student.params ?? 0,
      macs: student.macs ?? 0,
      memoryBytes: student.memory?.peakBytesBatch1 ?? 0,
      agreement: student.agreementWithTeacher ?? 1,
    },
    judged,
  );
}
