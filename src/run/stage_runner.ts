/**
 * Runs a stage the way a run wants it: checkpointed into <run>/checkpoints/<stage>, resumed from
 * there with --resume, and, when `divergence.lrBackoff` allows, restarted from its last good
 * checkpoint with the learning rate halved after it diverges.
 */
import { join } from 'node:path';
import type { ExperimentConfig } from '../config/schema.js';
import { DivergenceError, trainStage, type StageOptions, type StageResult } from '../train/trainer.js';
import { checkStageRecord, type StageInputs } from './stage_record.js';

/** Runs a stage; `inputs` is everything that shapes its result, recorded beside its checkpoints and compared on --resume. */
export type StageRunner = (options: StageOptions & { inputs: StageInputs }) => Promise<StageResult>;

export function stageRunner(config: Pick<ExperimentConfig, 'checkpoints' | 'divergence'>, run: { outDir: string; resume: boolean; retrainChanged?: boolean }): StageRunner {
  return async ({ inputs, ...options }) => {
    const directory = join(run.outDir, 'checkpoints', options.stage);
    const info = (message: string) => options.onEvent?.({ type: 'info', message });
    let resume = checkStageRecord(directory, options.stage, inputs, { resume: run.resume, retrainChanged: run.retrainChanged ?? false, info });
    let optimizer = options.optimizer;
    for (let attempt = 0; ; attempt++) {
      try {
        return await trainStage({
          ...options,
          optimizer,
          maxGradNorm: config.divergence.maxGradNorm,
          checkpoints: { directory, everyMs: config.checkpoints.everyMinutes * 60_000, keep: config.checkpoints.keep, resume },
        });
      } catch (error) {
        if (!(error instanceof DivergenceError) || attempt >= config.divergence.lrBackoff || error.checkpoint === null) throw error;
        optimizer = { ...optimizer, learningRate: optimizer.learningRate / 2 };
        resume = true;
        options.onEvent?.({ type: 'info', message: `${error.message}; restarting ${options.stage} from that checkpoint at learning rate ${optimizer.learningRate} (lrBackoff ${attempt + 1}/${config.divergence.lrBackoff})` });
      }
    }
  };
}
