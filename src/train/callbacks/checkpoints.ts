/**
 * Checkpoints and resume: the loop's whole state (weights, batch-norm statistics, adapters, terms'
 * variables, the optimizer's slots, the generators' positions, the metrics so far, and every other
 * callback's state) written to `<directory>/ckpt-<step>` at the end of every epoch and, within an
 * epoch, once `everyMs` have passed; a resumed stage continues bit-identically. With `lrBackoff`, a
 * refused (diverged) step puts the loop back at the last checkpoint with the learning rate halved,
 * up to that many times over the whole stage: the count is checkpointed, so resuming does not renew it.
 */
import { type CheckpointState, checkpointLabel, clearCheckpoints, latestCheckpoint, saveCheckpoint } from '../checkpoint.js';
import type { Callback, CallbackState, TrainingLoop } from './callback.js';

export interface CheckpointOptions {
  /** This stage's own directory, e.g. <run>/checkpoints/student. */
  directory: string;
  /** At the end of every epoch, and within an epoch once this much time has passed since the last. */
  everyMs: number;
  /** Checkpoints kept; older ones are deleted. */
  keep: number;
  /** Continue from the newest checkpoint in `directory`; otherwise its old checkpoints are removed. */
  resume: boolean;
  /** Restarts from the last checkpoint, learning rate halved, after this many divergences at most. */
  lrBackoff?: number;
  /** The other callbacks whose state (early stopping's best weights, …) goes into each checkpoint. */
  stateful?: readonly Callback[];
}

/** distill()'s `checkpoints` extra (StageExtras): the callback below for the callbacks distill() is given. */
export function checkpointing(options: Omit<CheckpointOptions, 'stateful'>) {
  return (stateful: readonly Callback[]) => checkpoints({ ...options, stateful });
}

/** The checkpoints callback, and the last checkpoint it wrote or resumed from (for messages). */
export function checkpoints(options: CheckpointOptions): Callback & { lastSaved(): string | null } {
  const stateful = (options.stateful ?? []).filter((callback) => callback.saveState && callback.loadState);
  let lastSaved: string | null = null;
  let lastTime = performance.now();
  let backoffs = 0;

  const save = (loop: TrainingLoop) => {
    const { position, tensors, optimizerIterations } = loop.snapshot();
    const states: Array<[string, CallbackState]> = stateful.map((callback) => [callback.name, callback.saveState!()]);
    lastSaved = saveCheckpoint(
      options.directory,
      {
        stage: loop.stage,
        position,
        complete: loop.finished,
        stopped: loop.finished ? loop.stopReason : null,
        optimizerIterations,
        lrBackoffs: backoffs,
        loopTensors: tensors.length,
        callbacks: Object.fromEntries(states.map(([name, state]) => [name, { json: state.json, tensors: state.tensors?.length ?? 0 }])),
      },
      [...tensors, ...states.flatMap(([, state]) => state.tensors ?? [])],
      options.keep,
    );
    lastTime = performance.now();
  };

  /** Puts the newest checkpoint back and returns its state; null when there is none. */
  const restoreLatest = (loop: TrainingLoop): CheckpointState | null => {
    const checkpoint = latestCheckpoint(options.directory);
    if (!checkpoint) return null;
    const { state, tensors } = checkpoint;
    loop.restore(
      { position: state.position, tensors: tensors.slice(0, state.loopTensors), optimizerIterations: state.optimizerIterations },
      `checkpoint ${checkpoint.directory}`,
    );
    let offset = state.loopTensors;
    for (const callback of stateful) {
      const saved = state.callbacks[callback.name];
      if (!saved) continue;
      callback.loadState!({ json: saved.json, tensors: tensors.slice(offset, offset + saved.tensors) }, loop);
      offset += saved.tensors;
    }
    if (state.complete && state.stopped !== null) loop.stop(state.stopped);
    lastSaved = checkpoint.directory;
    const where = state.complete
      ? `finished in ${checkpointLabel(checkpoint.directory)}, not retrained`
      : `resuming from ${checkpointLabel(checkpoint.directory)} (epoch ${state.position.epoch}, step ${state.position.step})`;
    loop.emit({ type: 'info', message: `${loop.stage}: ${where}` });
    return state;
  };

  return {
    name: 'checkpoints',
    lastSaved: () => lastSaved,
    onTrainBegin(loop) {
      // A resumed stage keeps the count of restarts it has spent, so lrBackoff bounds the whole stage.
      if (options.resume) backoffs = restoreLatest(loop)?.lrBackoffs ?? 0;
      else clearCheckpoints(options.directory);
      lastTime = performance.now();
    },
    onStepEnd(values, loop) {
      if (values.step < loop.stepsPerEpoch && performance.now() - lastTime >= options.everyMs) save(loop);
    },
    onEpochEnd(_record, loop) {
      save(loop);
    },
    onDivergence(error, loop) {
      const allowed = options.lrBackoff ?? 0;
      if (backoffs >= allowed || lastSaved === null) return false;
      backoffs++;
      if (restoreLatest(loop) === null) return false;
      loop.scaleLearningRate(0.5);
      loop.emit({
        type: 'info',
        message: `${error.message}; restarting ${loop.stage} from that checkpoint at learning rate ${loop.learningRate} (lrBackoff ${backoffs}/${allowed})`,
      });
      return true;
    },
  };
}
