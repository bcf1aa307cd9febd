/**
 * TinyBERT's layer mapping (Jiao et al. 2020, §3.1 and TinyBERT/task_distill.py): with
 * k = teacher layers ÷ student layers, student layer i (from 1) learns teacher layer i·k's
 * attention and hidden state; hidden state 0, the embeddings, learns the teacher's embeddings.
 * `layers: uniform` in a tinybert-attention or tinybert-hidden term expands to these pairs;
 * `layers: [[1, 2], [2, 4]]` gives them explicitly (student layer, teacher layer; 0 the embeddings).
 */
import { z } from 'zod';
import { InputError } from '../errors.js';
import type { FeatureTermOptions } from './method.js';

/** Pairs [student layer, teacher layer], from 1 for attention and from 0 (the embeddings) for hidden states. */
export interface LayerMap {
  attention: Array<[number, number]>;
  hidden: Array<[number, number]>;
}

export function tinybertLayerMap(teacherLayers: number, studentLayers: number): LayerMap {
  if (studentLayers < 1 || teacherLayers % studentLayers !== 0) {
    throw new InputError(
      `layers: uniform: ${teacherLayers} teacher layers do not divide into ${studentLayers} student layers; give the pairs, e.g. layers: [[1, 2], [2, 4]]`,
    );
  }
  const k = teacherLayers / studentLayers;
  const attention = Array.from({ length: studentLayers }, (_, i): [number, number] => [i + 1, (i + 1) * k]);
  return { attention, hidden: [[0, 0], ...attention] };
}

/** The tap names of layer `layer`'s `what` ('attention_scores' or 'hidden'; hidden state 0 is `embeddings`). */
export function layerTap(layer: number, what: 'attention_scores' | 'hidden'): string {
  return what === 'hidden' && layer === 0 ? 'embeddings' : `layer_${layer}.${what}`;
}

/** How many encoder layers a model has, from its `layer_{i}.hidden` taps. */
export function encoderLayers(tapNames: readonly string[]): number {
  return tapNames.reduce((most, name) => Math.max(most, Number(/^layer_(\d+)\.hidden$/.exec(name)?.[1] ?? 0)), 0);
}

/** A TinyBERT term's options: its taps, or `layers` (uniform or explicit pairs) that expand into one term per pair. */
export interface LayeredTermOptions extends Partial<Omit<FeatureTermOptions, 'adapter'>> {
  adapter: FeatureTermOptions['adapter'];
  layers?: 'uniform' | Array<[number, number]>;
}

/** The schema of LayeredTermOptions, with `adapter` as the method has it. */
export function layeredTermSchema(adapter: z.ZodType<FeatureTermOptions['adapter']>): z.ZodType<LayeredTermOptions> {
  const layer = z.number().int().nonnegative();
  return z
    .strictObject({
      student: z.string().min(1).optional(),
      teacher: z.string().min(1).optional(),
      adapter,
      layers: z.union([z.literal('uniform'), z.array(z.tuple([layer, layer])).min(1)]).optional(),
    })
    .refine((options) => (options.layers === undefined) === (options.student !== undefined && options.teacher !== undefined), {
      message: 'give either student and teacher (the two taps) or layers (uniform, or [student layer, teacher layer] pairs), not both',
    }) as z.ZodType<LayeredTermOptions>;
}

/**
 * The [student tap, teacher tap] pairs a term with `layers` stands for, given how many encoder
 * layers each model has. `field` names the term in errors.
 */
export function layerTapPairs(
  what: 'attention_scores' | 'hidden',
  layers: 'uniform' | Array<[number, number]>,
  counts: { student: number; teacher: number },
  field: string,
): Array<[string, string]> {
  if (counts.student === 0 || counts.teacher === 0) {
    const which = counts.student === 0 ? 'student' : 'teacher';
    throw new InputError(`${field}.layers: the ${which} has no encoder layers (no layer_{i}.hidden taps) to map`);
  }
  let pairs: Array<[number, number]>;
  try {
    pairs = layers === 'uniform' ? tinybertLayerMap(counts.teacher, counts.student)[what === 'hidden' ? 'hidden' : 'attention'] : layers;
  } catch (error) {
    if (error instanceof InputError) throw new InputError(`${field}.${error.message}`);
    throw error;
  }
  const lowest = what === 'hidden' ? 0 : 1;
  for (const [student, teacher] of pairs) {
    if (student < lowest || student > counts.student || teacher < lowest || teacher > counts.teacher) {
      throw new InputError(
        `${field}.layers: [${student}, ${teacher}] is not a pair of layers: the student has ${lowest} … ${counts.student}, the teacher ${lowest} … ${counts.teacher}${lowest === 0 ? ' (0: the embeddings)' : ''}`,
      );
    }
  }
  return pairs.map(([student, teacher]) => [layerTap(student, what), layerTap(teacher, what)]);
}
