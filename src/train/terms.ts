/**
 * A stage's loss terms, built from the config: each method's loss, and for feature terms their
 * taps on the student and the teacher, the adapter between them, and where the teacher's features
 * come from (the soft-label cache, or the teacher run per batch).
 */
import * as tf from '../engine/tf.js';
import { featureBudgetBytes } from '../engine/budget.js';
import type { DatasetSplits } from '../data/index.js';
import { forEachBatch } from '../data/dataset.js';
import type { TermConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { methods, type TermContext } from '../methods/index.js';
import { encoderLayers, layerTapPairs, type LayeredTermOptions } from '../methods/tinybert_layers.js';
import type { Teacher } from '../teachers/teacher.js';
import { gatherRows } from './batches.js';
import type { WeightedTerm } from './loop.js';
import { makeAdapter, tapShape, tappedModel, type TappedModel } from '../models/taps.js';
import { forward } from '../models/forward.js';
import { modelInputs } from '../models/inputs.js';

/** Reads the features from a cache, or computes them with `compute` and keeps them there. */
export type FeatureCache = (options: {
  taps: { name: string; shape: number[] }[];
  samples: number;
  compute: () => Record<string, Float32Array> | Promise<Record<string, Float32Array>>;
}) => Promise<{ features: Record<string, Float32Array>; cached: boolean }>;

/** What feature terms tap on the teacher's side: a TensorFlow.js model's layers, or a Teacher's named features. */
export type TapSource = tf.LayersModel | Teacher;

/** The teacher a student's feature terms read from, and where its features are cached. */
export interface TeacherSource {
  teacher: Teacher;
  /** Its TensorFlow.js model, when it has one: features can then be computed per batch. */
  model: tf.LayersModel | null;
  /**
   * Keeps the features in the soft-label cache entry of this teacher and data (a run gives
   * teachers/cache.ts's cachedTeacherFeatures for its entry); without it they are computed in memory.
   */
  cacheFeatures?: FeatureCache;
  source: string;
  /** The config field of the terms it serves, e.g. 'distill.terms'. */
  field: string;
}

interface PreparedTerms {
  terms: WeightedTerm[];
  studentTaps?: TappedModel;
  /** The teacher layers the terms tap, with their shapes (without batch). */
  teacherTaps: { name: string; shape: number[] }[];
}

/**
 * Terms from the config, each logged under its method name (suffixed when a method repeats).
 * Feature terms get their taps resolved on `student` and `teacher` and, where the method needs
 * matching shapes, an adapter. Bad taps and unbridgeable shapes are InputErrors naming the term.
 */
export function prepareTerms(
  terms: TermConfig[],
  student: tf.LayersModel,
  teacher: TapSource | null,
  seed: number,
  /** Names the terms in errors: '<config>: distill.terms'. */
  termsField: string,
  /** The stage's training labels (terms such as crd need the set's size and classes), and where info goes. */
  stage: { labels: Int32Array; emit?: (message: string) => void },
): PreparedTerms {
  const seen = new Map<string, number>();
  const studentTapNames = new Set<string>();
  const teacherTaps = new Map<string, number[]>();
  const prepared = expandLayers(terms, student, teacher, termsField).map(({ term, field: termField }, index): WeightedTerm => {
    const count = (seen.get(term.method) ?? 0) + 1;
    seen.set(term.method, count);
    const name = count === 1 ? term.method : `${term.method}#${count}`;
    const method = methods.get(term.method);
    const context: TermContext = { samples: stage.labels.length, labels: stage.labels, seed: seed * 1000 + 800 + index, emit: stage.emit };
    if (method.features === undefined) return { name, weight: term.weight, loss: method.build(term.options, context) };
    const field = termField;
    if (teacher === null) throw new InputError(`${field}: method '${term.method}' taps teacher features, but this stage has no teacher`);
    const {
      student: studentTap,
      teacher: teacherTap,
      adapter,
    } = term.options as { student: string; teacher: string; adapter: 'auto' | 'none' };
    const studentShape = tapShape(student, studentTap, `${field}.student`);
    const teacherShape = teacherTapShape(teacher, teacherTap, `${field}.teacher`);
    let loss: WeightedTerm['loss'];
    try {
      loss = method.build(term.options, { ...context, studentShape, teacherShape });
    } catch (error) {
      if (error instanceof InputError) throw new InputError(`${field}: ${error.message}`);
      throw error;
    }
    const weighted: WeightedTerm = { name, weight: term.weight, loss };
    studentTapNames.add(studentTap);
    teacherTaps.set(teacherTap, teacherShape);
    const projection = makeAdapter(studentShape, teacherShape, method.features, adapter, {
      seed: seed * 1000 + 900 + index,
      name: `adapter_${index + 1}`,
      field,
    });
    return { ...weighted, studentTap, teacherTap, ...(projection ? { adapter: projection } : {}) };
  });
  const names = [...studentTapNames];
  return {
    terms: prepared,
    ...(names.length > 0 ? { studentTaps: tappedModel(student, names, (tap) => `${termsField}: student tap ${tap}`) } : {}),
    teacherTaps: [...teacherTaps].map(([name, shape]) => ({ name, shape })),
  };
}

/**
 * The terms with each `layers` term (TinyBERT's uniform or explicit mapping) expanded into one
 * term per pair of taps, each with the config field it came from for errors.
 */
function expandLayers(
  terms: TermConfig[],
  student: tf.LayersModel,
  teacher: TapSource | null,
  termsField: string,
): Array<{ term: TermConfig; field: string }> {
  return terms.flatMap((term, index) => {
    const field = `${termsField}[${index}]`;
    const layers = term.options.layers as LayeredTermOptions['layers'];
    if (layers === undefined) return [{ term, field }];
    if (teacher === null) throw new InputError(`${field}: method '${term.method}' taps teacher features, but this stage has no teacher`);
    const teacherNames = 'info' in teacher ? teacher.info.featureNames : teacher.layers.map((layer) => layer.name);
    const counts = { student: encoderLayers(student.layers.map((layer) => layer.name)), teacher: encoderLayers(teacherNames) };
    const what = term.method === 'tinybert-attention' ? 'attention_scores' : 'hidden';
    const { layers: _expanded, ...options } = term.options;
    return layerTapPairs(what, layers, counts, field).map(([studentTap, teacherTap]) => ({
      term: { ...term, options: { ...options, student: studentTap, teacher: teacherTap } },
      field: `${field} (${studentTap} → ${teacherTap})`,
    }));
  });
}

function teacherTapShape(teacher: TapSource, name: string, field: string): number[] {
  if (!('info' in teacher)) return tapShape(teacher, name, field);
  const shape = teacher.featureShape?.(name);
  if (!shape) {
    const names = teacher.info.featureNames;
    throw new InputError(
      `${field}: the teacher (${teacher.info.description}) has no feature '${name}'; ${names.length > 0 ? `it has: ${names.join(', ')}` : 'it has no outputs besides its logits'}`,
    );
  }
  return [...shape];
}

/**
 * The teacher's features at `taps` for a batch: gathered from the soft-label cache when all of the
 * training set's fit in the engine's featureBudgetBytes (engine/budget.ts), computed from the batch's inputs otherwise.
 */
export async function teacherFeatureSource(
  teacher: TeacherSource,
  taps: { name: string; shape: number[] }[],
  data: Pick<DatasetSplits, 'train'>,
  emit: (message: string) => void,
): Promise<(indices: Int32Array, inputs: Readonly<Record<string, tf.Tensor>>) => Record<string, tf.Tensor>> {
  const samples = data.train.labels.length;
  const names = taps.map(({ name }) => name);
  const widths = taps.map(({ shape }) => shape.reduce((size, dim) => size * dim, 1));
  const bytes = samples * widths.reduce((sum, width) => sum + width, 0) * 4;
  const megabytes = (bytes / 2 ** 20).toFixed(0);
  const budgetBytes = featureBudgetBytes();
  const budget = `${budgetBytes / 2 ** 20} MiB`;
  if (bytes > budgetBytes) {
    if (!teacher.model) {
      // The trainer's step is synchronous; only a TensorFlow.js teacher can run inside it.
      throw new InputError(
        `${teacher.source}: ${teacher.field}: features ${names.join(', ')} of ${teacher.teacher.info.description} would take ${megabytes} MiB, over the ${budget} cache budget; tap smaller outputs`,
      );
    }
    emit(`teacher features (${names.join(', ')}): computed per batch; ${megabytes} MiB would exceed the ${budget} cache budget`);
    const { model: multi, outputs } = tappedModel(teacher.model, names, (name) => `teacher tap ${name}`);
    // Two taps of one tensor get their own copies, since the trainer disposes each.
    return (_indices, inputs) =>
      tf.tidy(() => {
        const predicted = forward(multi, modelInputs(multi, inputs)) as tf.Tensor[];
        return Object.fromEntries(taps.map(({ name }) => [name, tf.clone(predicted[outputs[name]])]));
      });
  }
  const compute = () => allFeatures(teacher.teacher, data.train, names, widths);
  const { features, cached } =
    teacher.cacheFeatures === undefined
      ? { features: await compute(), cached: false }
      : await teacher.cacheFeatures({ taps, samples, compute });
  emit(`teacher features (${names.join(', ')}): ${cached ? 'cached' : 'computed'}, ${megabytes} MiB`);
  return (indices) =>
    Object.fromEntries(
      taps.map(({ name, shape }, i) => {
        const rows = gatherRows(features[name], widths[i], indices);
        const shaped = tf.reshape(rows, [indices.length, ...shape]);
        rows.dispose();
        return [name, shaped];
      }),
    );
}

/** The teacher's features over a whole dataset, batch by batch. */
async function allFeatures(
  teacher: Teacher,
  dataset: DatasetSplits['train'],
  names: string[],
  widths: number[],
): Promise<Record<string, Float32Array>> {
  const samples = dataset.labels.length;
  const arrays = widths.map((width) => new Float32Array(samples * width));
  await forEachBatch(dataset, teacher.batchSize, async (inputs, start, end) => {
    const batch = await teacher.features(inputs, end - start, names);
    names.forEach((name, i) => {
      arrays[i].set(batch[name], start * widths[i]);
    });
  });
  return Object.fromEntries(names.map((name, i) => [name, arrays[i]]));
}
