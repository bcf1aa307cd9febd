/**
 * Opens the teacher a config names, when it exists outside the run: a TensorFlow.js model
 * directory, an ONNX file, a model behind an inference server, or an LLM behind a Chat Completions
 * endpoint. A teacher the config trains
 * (`teacher: {model: …}`) is built by the pipeline and wrapped with tfjsTeacher.
 */
import type { ExperimentConfig } from '../config/schema.js';
import { describeInputs, isImageField, type DatasetSplits, type InputField } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { loadModelDir } from '../models/io.js';
import { openOnnxTeacher } from './onnx.js';
import { resolveHeaders } from '../util/endpoint.js';
import { tfjsTeacher } from './tfjs.js';
import type { Teacher } from './teacher.js';
import type { Preprocessing } from './preprocess.js';
import type * as tf from '../engine/tf.js';

export type { Teacher, TeacherInfo } from './teacher.js';

export interface OpenedTeacher {
  teacher: Teacher;
  /** The TensorFlow.js model behind a 'tfjs' teacher: it can be evaluated, saved and tapped by layer. */
  model: tf.LayersModel | null;
}

/**
 * `env` holds the variables a remote teacher's headers and an LLM teacher's key name (default:
 * this process's environment); `storeRoot` is the soft-label store an LLM teacher keeps its
 * answers in.
 */
export async function openTeacher(
  config: ExperimentConfig,
  data: DatasetSplits,
  options: { source: string; storeRoot: string; env?: Record<string, string | undefined> },
): Promise<OpenedTeacher> {
  const spec = config.teacher;
  const inputs = data.train.inputs;
  const numClasses = data.train.numClasses;
  if ('load' in spec) {
    const model = await loadModelDir(spec.load);
    return { teacher: await tfjsTeacher(model, `TensorFlow.js model ${spec.load}`, inputs), model };
  }
  if ('onnx' in spec) {
    const teacher = await openOnnxTeacher({
      path: spec.onnx,
      preprocessing: preprocessingOf(spec, inputs, `${options.source}: teacher`),
      inputName: spec.inputName,
      outputName: spec.outputName,
      inputs,
      numClasses,
      source: `${options.source}: teacher.onnx`,
    });
    return { teacher, model: null };
  }
  if ('remote' in spec) {
    const { connectRemoteTeacher } = await import('./remote.js');
    const remote = spec.remote;
    const teacher = await connectRemoteTeacher({
      url: remote.url,
      headers: resolveHeaders(remote.headers, options.env ?? process.env, `${options.source}: teacher.remote.headers`),
      model: remote.model,
      version: remote.version,
      inputName: remote.inputName,
      outputName: remote.outputName,
      featureOutputs: remote.featureOutputs,
      preprocessing: preprocessingOf(remote, inputs, `${options.source}: teacher.remote`),
      inputs,
      batchSize: remote.batchSize,
      concurrency: remote.concurrency,
      timeoutMs: remote.timeoutMs,
      retries: remote.retries,
      maxResponseBytes: remote.maxResponseBytes,
      source: `${options.source}: teacher.remote`,
    });
    if (teacher.info.classes !== null && teacher.info.classes !== numClasses) {
      await teacher.dispose();
      throw new InputError(
        `${options.source}: teacher.remote: model '${remote.model}' outputs ${teacher.info.classes} classes; the dataset has ${numClasses}`,
      );
    }
    return { teacher, model: null };
  }
  if ('llm' in spec) {
    const { openLlmTeacher } = await import('./llm.js');
    const teacher = openLlmTeacher(spec.llm, {
      classNames: data.train.classNames,
      storeRoot: options.storeRoot,
      source: options.source,
      env: options.env ?? process.env,
    });
    return { teacher, model: null };
  }
  throw new InputError(
    `${options.source}: teacher: this teacher is trained by the run (teacher.model); it has to exist first (teacher.load, teacher.onnx, teacher.remote or teacher.llm)`,
  );
}

/**
 * The adapter's preprocessing, for the image fields of the dataset's samples only: `normalize`
 * takes one value for every channel, or one per channel; on samples with no image field neither
 * it nor `inputLayout: nchw` has anything to apply to. `field` is the teacher's config field.
 */
function preprocessingOf(
  spec: { inputLayout: 'nhwc' | 'nchw'; normalize?: { mean: number[]; std: number[] } },
  inputs: readonly InputField[],
  field: string,
): Preprocessing {
  const images = inputs.filter(isImageField);
  const set = [spec.inputLayout !== 'nhwc' ? 'inputLayout' : '', spec.normalize ? 'normalize' : ''].filter(Boolean);
  if (images.length === 0 && set.length > 0) {
    throw new InputError(
      `${field}.${set[0]}: applies to images (float32 [height, width, channels]), and the dataset's samples are ${describeInputs(inputs)}; remove ${set.join(' and ')}`,
    );
  }
  for (const key of ['mean', 'std'] as const) {
    const values = spec.normalize?.[key];
    const channels = images.find((image) => values !== undefined && values.length !== 1 && values.length !== image.shape[2])?.shape[2];
    if (values !== undefined && channels !== undefined) {
      throw new InputError(
        `${field}.normalize.${key} has ${values.length} values; the dataset's samples have ${channels} channel${channels === 1 ? '' : 's'}: give one value for all of them${channels === 1 ? '' : ` or ${channels}, one per channel`}`,
      );
    }
  }
  return { inputLayout: spec.inputLayout, ...(spec.normalize ? { normalize: spec.normalize } : {}) };
}
