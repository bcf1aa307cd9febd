import { parseDocument } from 'yaml';
import { z } from 'zod';
import { InputError } from '../errors.js';
import { methods } from '../methods/index.js';
import { presets } from '../methods/presets.js';
import { experimentSpec, termSpec, type ExperimentConfig, type TermConfig } from './schema.js';

/** Renders zod issues as `field.path: what was expected` lines. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string {
  return issues
    .map((issue) => {
      const path = formatPath([...(prefix ? [prefix] : []), ...issue.path.map((key) => (typeof key === 'symbol' ? String(key) : key))]);
      if (issue.code === 'invalid_union' && issue.errors.length > 0) {
        // Report against the alternative the input came closest to (e.g. a trained vs a loaded teacher).
        const closest = issue.errors.reduce((best, branch) => (branch.length < best.length ? branch : best));
        return describeIssues(closest, path);
      }
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => `${formatPath([path, key].filter(Boolean))}: unknown key`).join('\n');
      }
      return `${path || '(top level)'}: ${issue.message.replace(/^Invalid input: /, '')}`;
    })
    .join('\n');
}

function formatPath(parts: (string | number)[]): string {
  return parts.reduce<string>((path, part) => (typeof part === 'number' ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

/**
 * Loss terms as the config writes them (`{method, weight, ...options}`), each checked against its
 * method's schema. `field` names the list in errors (`distill.terms`), after `source`.
 */
export function parseTerms(input: unknown, field: string, source: string): TermConfig[] {
  const parsed = z.array(termSpec).min(1).safeParse(input);
  if (!parsed.success) throw new InputError(`${source}: invalid terms\n${describeIssues(parsed.error.issues, field)}`);
  return termConfigs(parsed.data, field, source);
}

function termConfigs(terms: z.infer<typeof termSpec>[], prefix: string, source: string): TermConfig[] {
  return terms.map((term, index) => {
    const field = `${prefix}[${index}]`;
    const { method: name, weight, ...rest } = term;
    const method = methods.get(name, `${source}: ${field}.method`);
    const options = method.options.safeParse(rest);
    if (!options.success) throw new InputError(`${source}: invalid config\n${describeIssues(options.error.issues, field)}`);
    return { method: name, weight, options: options.data as Record<string, unknown> };
  });
}

/** Whether the run's teacher labels each training batch inside the step, rather than the transfer set up front. */
export function onlineSoftLabels(config: Pick<ExperimentConfig, 'softLabels' | 'dataset'>): boolean {
  return (config.softLabels.mode ?? (config.dataset.augment ? 'online' : 'cached')) === 'online';
}

/** Validates a config object (already parsed from YAML or built in code). `source` names it in errors. */
export function parseConfig(input: unknown, source = 'config'): ExperimentConfig {
  const parsed = experimentSpec.safeParse(input);
  if (!parsed.success) throw new InputError(`${source}: invalid config\n${describeIssues(parsed.error.issues)}`);
  const parseTerms = (terms: NonNullable<typeof parsed.data.distill.terms>, prefix: string) => termConfigs(terms, prefix, source);
  const { distill } = parsed.data;
  const terms =
    distill.preset === undefined
      ? parseTerms(distill.terms!, 'distill.terms')
      : parseTerms(presets.get(distill.preset, `${source}: distill.preset`) as typeof distill.terms & object, 'distill.preset');
  const stages = parsed.data.stages.map((stage, index) => {
    if (stage.model === 'teacher' && !('model' in parsed.data.teacher)) {
      throw new InputError(
        `${source}: stages[${index}].model: 'teacher' repeats the teacher's architecture, which needs a teacher built from a model spec, not loaded`,
      );
    }
    return {
      model: stage.model,
      epochs: stage.epochs ?? distill.epochs,
      batchSize: stage.batchSize ?? distill.batchSize,
      optimizer: stage.optimizer ?? distill.optimizer,
      earlyStopping: stage.earlyStopping ?? distill.earlyStopping,
      bestCheckpoint: stage.bestCheckpoint ?? distill.bestCheckpoint,
      terms: stage.terms ? parseTerms(stage.terms, `stages[${index}].terms`) : terms,
    };
  });
  if (parsed.data.dataset.augment && parsed.data.softLabels.mode === 'cached') {
    throw new InputError(
      `${source}: softLabels.mode: 'cached' labels are the teacher's logits for the samples as stored, but with dataset.augment ` +
        'the student trains on changed ones (cropped, flipped) that they no longer describe; use softLabels: online, which runs the teacher on each augmented batch',
    );
  }
  if ('llm' in parsed.data.teacher) checkLlmTeacher(parsed.data, source);
  if ('trainLabels' in parsed.data.dataset && !parsed.data.dataset.trainLabels) checkTransferSet(parsed.data, source);
  if (parsed.data.deploy?.runtime === 'onnxruntime' && !parsed.data.export.onnx) {
    throw new InputError(`${source}: deploy.runtime: 'onnxruntime' judges student.onnx, but export.onnx is false`);
  }
  return { ...parsed.data, distill: { ...distill, terms }, stages };
}

/** An LLM teacher labels texts, once, before training: a text dataset and cached soft labels. */
function checkLlmTeacher(config: z.infer<typeof experimentSpec>, source: string): void {
  const { name } = config.dataset;
  if (name !== 'text' && name !== 'banking77') {
    throw new InputError(`${source}: teacher.llm labels texts; dataset '${name}' holds no texts (use dataset.name text or banking77)`);
  }
  if (config.softLabels.mode === 'online') {
    throw new InputError(
      `${source}: softLabels.mode: 'online' asks the teacher inside every training step; an LLM teacher labels each text once, before training (leave softLabels.mode out, or set it to cached)`,
    );
  }
}

/** Training texts without labels are labelled by a teacher that exists before the run, once, before training. */
function checkTransferSet(config: z.infer<typeof experimentSpec>, source: string): void {
  if ('model' in config.teacher) {
    throw new InputError(
      `${source}: dataset.trainLabels: false leaves the training set without labels, and teacher.model would be trained on them; use a teacher that exists (llm, onnx, remote or load)`,
    );
  }
  if (config.softLabels.mode === 'online') {
    throw new InputError(
      `${source}: dataset.trainLabels: false takes the training labels from the teacher's cached soft labels; softLabels.mode: 'online' computes none (leave it out, or set it to cached)`,
    );
  }
}

/** Parses and validates the YAML text of a config; `path` names it in errors. */
export function parseConfigText(text: string, path: string): ExperimentConfig {
  // The core schema has no tags that construct objects or run code.
  const document = parseDocument(text, { schema: 'core', uniqueKeys: true, prettyErrors: true });
  if (document.errors.length > 0) {
    throw new InputError(`${path}: not valid YAML\n${document.errors.map((error) => error.message).join('\n')}`);
  }
  let input: unknown;
  try {
    // toJS refuses an alias bomb ("billion laughs") past its maxAliasCount (100) with a ReferenceError.
    input = document.toJS();
  } catch (error) {
    throw new InputError(`${path}: not a usable YAML document (${(error as Error).message})`);
  }
  return parseConfig(input, path);
}
