/**
 * summary.json: the machine-readable record of a run and the source of every figure in the
 * reports. Field names carry their units.
 */
import type { EngineInfo } from '../engine/index.js';
import type { ModelEvaluation } from '../eval/evaluate.js';
import type { TermConfig } from '../config/schema.js';
import type { EpochRecord } from '../train/trainer.js';

export interface StageSummary {
  name: string;
  /** Key in `models` of the model this stage trained. */
  model: string;
  epochs: number;
  batchSize: number;
  optimizer: object;
  terms: TermConfig[];
  history: EpochRecord[];
}

export interface GateCheck {
  name: string;
  limit: number;
  value: number;
  passed: boolean;
}

export interface Summary {
  kdkit: { version: string };
  createdAt: string;
  seed: number;
  backend: string;
  engine: EngineInfo;
  dataset: { name: string; train: number; validation: number; test: number; classes: number };
  /** Keyed 'teacher', 'scratch', 'student'. */
  models: Record<string, ModelEvaluation & { agreementWithTeacher?: number }>;
  stages: StageSummary[];
  softLabels: { directory: string; cached: boolean };
  /** Deployment gate; with no `deploy:` constraints it passes with no checks. */
  gate: { passed: boolean; checks: GateCheck[] };
  /** Paths relative to the run directory. */
  artifacts: Record<string, string>;
}
