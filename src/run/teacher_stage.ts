/**
 * Step 1 of a run: the teacher. Trained from its spec, loaded from a TensorFlow.js directory, or
 * opened as an ONNX file, a remote model or an LLM endpoint; always handed on as a Teacher (teachers/teacher.ts),
 * with its TensorFlow.js model when it has one.
 */
import type * as tf from '../engine/tf.js';
import type { DatasetSplits } from '../data/index.js';
import type { ExperimentConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { buildModel } from '../models/build.js';
import { checkModelInputs } from '../models/inputs.js';
import { openTeacher, type OpenedTeacher } from '../teachers/index.js';
import { redactUrl } from '../util/endpoint.js';
import { tfjsTeacher } from '../teachers/tfjs.js';
import type { Teacher } from '../teachers/teacher.js';
import type { StageSummary } from '../report/summary.js';
import type { TrainEvent } from '../train/events.js';
import type { StageRunner } from './stage_runner.js';

export interface TeacherStep extends OpenedTeacher {
  trainSeconds: number;
  stage: StageSummary | null;
}

export async function obtainTeacher(
  config: ExperimentConfig,
  data: DatasetSplits,
  emit: (event: TrainEvent) => void,
  source: string,
  runStage: StageRunner,
  storeRoot: string,
): Promise<TeacherStep> {
  const spec = config.teacher;
  if (!('model' in spec)) {
    emit({ type: 'info', message: `teacher: ${openingWhat(spec)}` });
    const opened = await openTeacher(config, data, { source, storeRoot });
    if (opened.model) checkTeacherFits(opened.model, data, config);
    emit({ type: 'info', message: `teacher: ${opened.teacher.info.description}` });
    return { ...opened, trainSeconds: 0, stage: null };
  }
  const model = buildModel(spec.model, {
    inputs: data.train.inputs,
    numClasses: data.train.numClasses,
    seed: config.seed,
    name: 'teacher',
    field: 'teacher.model',
  });
  emit({ type: 'info', message: `teacher: ${spec.model.type}, ${model.countParams().toLocaleString('en-US')} parameters` });
  const terms = [{ method: 'ce', weight: 1, options: {} }];
  const { epochs, batchSize, optimizer, earlyStopping, bestCheckpoint } = spec;
  let result: Awaited<ReturnType<StageRunner>>;
  try {
    result = await runStage({
      stage: 'teacher',
      model,
      train: data.train,
      validation: data.validation,
      teacherLogits: null,
      terms,
      termsField: `${source}: teacher`,
      training: { epochs, batchSize, optimizer, earlyStopping, bestCheckpoint },
      seed: config.seed,
      onEvent: emit,
      inputs: {
        teacher: {
          model: spec.model,
          epochs,
          batchSize,
          optimizer,
          ...(earlyStopping ? { earlyStopping } : {}),
          ...(bestCheckpoint ? { bestCheckpoint } : {}),
        },
      },
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
  const teacher: Teacher = await tfjsTeacher(model, `TensorFlow.js ${spec.model.type} trained in this run`, data.train.inputs);
  return {
    teacher,
    model,
    trainSeconds: result.trainSeconds,
    stage: {
      name: 'teacher',
      model: 'teacher',
      epochs,
      batchSize,
      optimizer,
      terms,
      history: result.history,
      ...(result.stopped ? { stopped: result.stopped } : {}),
      ...(result.best ? { best: result.best } : {}),
    },
  };
}

function openingWhat(spec: Exclude<ExperimentConfig['teacher'], { model: unknown }>): string {
  if ('load' in spec) return `loading ${spec.load}`;
  if ('onnx' in spec) return `opening ${spec.onnx}`;
  if ('remote' in spec) return `connecting to ${redactUrl(spec.remote.url)}`;
  return `LLM '${spec.llm.model}' at ${redactUrl(spec.llm.url)}, prompt ${spec.llm.prompt}`;
}

function checkTeacherFits(model: tf.LayersModel, data: DatasetSplits, config: ExperimentConfig): void {
  const source = 'load' in config.teacher ? config.teacher.load : 'teacher';
  checkModelInputs(model, data.train.inputs, `${source}: teacher (dataset '${config.dataset.name}')`);
  const outputs = model.outputs[0].shape[model.outputs[0].shape.length - 1];
  if (outputs !== data.train.numClasses) {
    throw new InputError(
      `${source}: teacher has ${outputs} outputs, dataset '${config.dataset.name}' has ${data.train.numClasses} classes`,
    );
  }
}
