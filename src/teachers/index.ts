/**
 * Opens the teacher a config names, when it exists outside the run: a TensorFlow.js model
 * directory, an ONNX file, or a model behind an inference server. A teacher the config trains
 * (`teacher: {model: …}`) is built by the pipeline and wrapped with tfjsTeacher.
 */
import type { ExperimentConfig } from '../config/schema.js';
import type { DatasetSplits } from '../data/dataset.js';
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

/** `env` holds the variables a remote teacher's headers name (default: this process's environment). */
export async function openTeacher(config: ExperimentConfig, data: DatasetSplits, options: { source: string; env?: Record<string, string | undefined> }): Promise<OpenedTeacher> {
  const spec = config.teacher;
  const sampleShape = data.train.sampleShape;
  const numClasses = data.train.numClasses;
  if ('load' in spec) {
    const model = await loadModelDir(spec.load);
    return { teacher: await tfjsTeacher(model, `TensorFlow.js model ${spec.load}`), model };
  }
  if ('onnx' in spec) {
    const teacher = await openOnnxTeacher({
      path: spec.onnx, preprocessing: preprocessingOf(spec, sampleShape[2], `${options.source}: teacher.normalize`), inputName: spec.inputName, outputName: spec.outputName,
      sampleShape, numClasses, source: `${options.source}: teacher.onnx`,
    });
    return { teacher, model: null };
  }
  if ('remote' in spec) {
    const { connectRemoteTeacher } = await import('./remote.js');
    const remote = spec.remote;
    const teacher = await connectRemoteTeacher({
      url: remote.url, headers: resolveHeaders(remote.headers, options.env ?? process.env, `${options.source}: teacher.remote.headers`),
      model: remote.model, version: remote.version, inputName: remote.inputName, outputName: remote.outputName, featureOutputs: remote.featureOutputs,
      preprocessing: preprocessingOf(remote, sampleShape[2], `${options.source}: teacher.remote.normalize`), sampleShape, batchSize: remote.batchSize, concurrency: remote.concurrency,
      timeoutMs: remote.timeoutMs, retries: remote.retries, maxResponseBytes: remote.maxResponseBytes, source: `${options.source}: teacher.remote`,
    });
    if (teacher.info.classes !== null && teacher.info.classes !== numClasses) {
      await teacher.dispose();
      throw new InputError(`${options.source}: teacher.remote: model '${remote.model}' outputs ${teacher.info.classes} classes; the dataset has ${numClasses}`);
    }
    return { teacher, model: null };
  }
  throw new InputError(`${options.source}: teacher: this teacher is trained by the run (teacher.model); it has to exist first (teacher.load, teacher.onnx or teacher.remote)`);
}

/** The adapter's preprocessing; `normalize` takes one value for every channel, or one per channel of the dataset's samples. */
function preprocessingOf(spec: { inputLayout: 'nhwc' | 'nchw'; normalize?: { mean: number[]; std: number[] } }, channels: number, field: string): Preprocessing {
  for (const key of ['mean', 'std'] as const) {
    const values = spec.normalize?.[key];
    if (values !== undefined && values.length !== 1 && values.length !== channels) {
      throw new InputError(`${field}.${key} has ${values.length} values; the dataset's samples have ${channels} channel${channels === 1 ? '' : 's'}: give one value for all of them${channels === 1 ? '' : ` or ${channels}, one per channel`}`);
    }
  }
  return { inputLayout: spec.inputLayout, ...(spec.normalize ? { normalize: spec.normalize } : {}) };
}
