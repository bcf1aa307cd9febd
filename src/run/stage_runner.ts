/**
 * Runs a stage of a run through distill(), the way a run wants it: checkpointed into
 * <run>/checkpoints/<stage>, resumed from there with --resume (after its stage record is checked),
 * guarded against divergence with `divergence.lrBackoff` restarts, and with the config's early
 * stopping and best checkpoint.
 */
import { join, relative } from 'node:path';
import type * as tf from '../engine/tf.js';
import type { Dataset } from '../data/dataset.js';
import type { ExperimentConfig, OptimizerSpec, TermConfig, TrainingCallbacksConfig } from '../config/schema.js';
import { distill, type DistillResult } from '../train/distill.js';
import type { TeacherSource } from '../train/terms.js';
import type { TrainEvent } from '../train/events.js';
import { earlyStopping } from '../train/callbacks/early_stopping.js';
import { bestCheckpoint } from '../train/callbacks/best_checkpoint.js';
import { checkpointing } from '../train/callbacks/checkpoints.js';
import { onlineOutputStore } from '../train/online_output_store.js';
import { checkStageRecord, type StageInputs } from './stage_record.js';

export interface StageRun {
  /** Stage name in logs, summary.json and the checkpoints' directory: 'teacher', 'scratch', 'assistant-1', 'student'. */
  stage: string;
  model: tf.LayersModel;
  train: Dataset;
  validation: Dataset;
  /** The teaching model's logits over `train`; null for a stage trained on labels alone. */
  teacherLogits: Float32Array | null;
  terms: TermConfig[];
  /** Names the terms in errors: '<config>: distill.terms'. */
  termsField: string;
  /** The model the feature terms tap, and the store entry caching its features; with `online`, the teacher itself. */
  featureTeacher?: TeacherSource;
  /** The teacher labels each (augmented) batch inside the step instead of `teacherLogits` (softLabels: online). */
  online?: boolean;
  training: { epochs: number; batchSize: number; optimizer: OptimizerSpec } & TrainingCallbacksConfig;
  seed: number;
  onEvent: (event: TrainEvent) => void;
  /** Everything that shapes its result, recorded beside its checkpoints and compared on --resume. */
  inputs: StageInputs;
}

export type StageRunner = (run: StageRun) => Promise<DistillResult & { best: { epoch: number; path: string } | null }>;

export function stageRunner(
  config: Pick<ExperimentConfig, 'checkpoints' | 'divergence' | 'softLabels'> & { dataset: Pick<ExperimentConfig['dataset'], 'augment'> },
  run: { outDir: string; resume: boolean; retrainChanged?: boolean },
): StageRunner {
  return async (stage) => {
    const directory = join(run.outDir, 'checkpoints', stage.stage);
    const info = (message: string) => stage.onEvent({ type: 'info', message });
    const resume = checkStageRecord(directory, stage.stage, stage.inputs, {
      resume: run.resume,
      retrainChanged: run.retrainChanged ?? false,
      info,
    });
    const { training } = stage;
    const onlineTeacher = stage.online && stage.featureTeacher ? (stage.featureTeacher.model ?? stage.featureTeacher.teacher) : undefined;
    const best = training.bestCheckpoint
      ? bestCheckpoint({ directory: join(directory, 'best'), monitor: training.bestCheckpoint.monitor })
      : null;
    const result = await distill(
      {
        teacher: onlineTeacher ?? (stage.teacherLogits ? { logits: stage.teacherLogits } : undefined),
        softLabels: onlineTeacher ? 'online' : 'cached',
        ...(config.dataset.augment ? { augment: config.dataset.augment } : {}),
        student: stage.model,
        train: stage.train,
        validation: stage.validation,
        epochs: training.epochs,
        batchSize: training.batchSize,
        optimizer: training.optimizer,
        seed: stage.seed,
        callbacks: [...(training.earlyStopping ? [earlyStopping(training.earlyStopping)] : []), ...(best ? [best] : [])],
        onEvent: stage.onEvent,
        name: stage.stage,
        maxGradNorm: config.divergence.maxGradNorm,
      },
      {
        checkpoints: checkpointing({
          directory,
          everyMs: config.checkpoints.everyMinutes * 60_000,
          keep: config.checkpoints.keep,
          resume,
          lrBackoff: config.divergence.lrBackoff,
        }),
        featureTeacher: stage.featureTeacher,
        termConfigs: stage.terms,
        termsField: stage.termsField,
        // Online, only a store the config names is used: one run alone sees each batch once.
        ...(onlineTeacher && config.softLabels.store !== undefined
          ? { onlineStore: onlineOutputStore.bind(null, config.softLabels.store) }
          : {}),
      },
    );
    const kept = best?.best();
    return { ...result, best: kept ? { epoch: kept.epoch, path: relative(run.outDir, kept.directory) } : null };
  };
}
