/**
 * `teacher: {llm: …}`: an LLM behind an OpenAI-compatible Chat Completions endpoint as the teacher.
 * It labels texts, not token ids: the run asks it about a text dataset's texts (Dataset.texts)
 * through `labelDataset`, and every answer is kept in the response store (llm_store.ts), so that
 * no text is paid for twice. The API key is read from the variable `apiKeyEnv` names, sent in the
 * Authorization header, and written nowhere.
 */
import type { LlmTeacherConfig } from '../config/llm_schema.js';
import type { Dataset, SampleBatch } from '../data/dataset.js';
import { InputError } from '../errors.js';
import { endpointIdentity, endpointUrl, redactUrl } from '../util/endpoint.js';
import { MAX_WHOLE_FILE_BYTES, readRegularFile } from '../util/regular_file.js';
import { type LlmEndpoint, RateLimiter } from './llm_client.js';
import { labelTexts, type Labelling, type LabellingProgress } from './llm_labelling.js';
import type { LlmSampling } from './llm_protocol.js';
import { renderPrompt } from './llm_protocol.js';
import { LlmResponseStore, summarizeLlmStore, type LlmStoreSummary } from './llm_store.js';
import type { Teacher, TeacherInfo } from './teacher.js';

/** Delay before the first retry of a failed request; doubles with each further one. */
const BACKOFF_MS = 500;

export interface LlmTeacherOptions {
  classNames: readonly string[];
  /** The soft-label store's root: answers go to <root>/llm-<key>/. */
  storeRoot: string;
  /** Names the config in errors. */
  source: string;
  env: Record<string, string | undefined>;
}

/** What labelling a dataset gave: one row per text, and what it cost. */
export interface LlmDatasetLabels extends Labelling {
  /** Texts whose answer named no class (logprobs: no option among the top tokens; votes: no parseable answer). */
  unanswered: number;
}

/** What labelling one split cost, from the stored answers of its texts (whichever run paid for them). */
export interface LlmUsage {
  texts: number;
  /** Of `texts`, answered from the store without a request in this run. */
  fromStore: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  /** Texts no answer named a class for (left out), and unparseable answers (votes). */
  unanswered: number;
  unparseable: number;
}

export class LlmTeacher implements Teacher {
  readonly info: TeacherInfo;
  readonly batchSize = 1;
  readonly store: LlmResponseStore;
  private readonly endpoint: LlmEndpoint;
  private readonly sampling: LlmSampling;
  private readonly limiter: RateLimiter;

  constructor(
    readonly spec: LlmTeacherConfig,
    private readonly template: string,
    private readonly options: LlmTeacherOptions,
  ) {
    const field = `${options.source}: teacher.llm`;
    const base = endpointUrl(spec.url, field);
    let apiKey: string | undefined;
    if (spec.apiKeyEnv !== undefined) {
      apiKey = options.env[spec.apiKeyEnv];
      if (apiKey === undefined || apiKey === '') {
        throw new InputError(`${field}.apiKeyEnv: the environment variable ${spec.apiKeyEnv} is not set; it holds the API key`);
      }
    }
    this.endpoint = {
      base,
      model: spec.model,
      ...(apiKey !== undefined && { apiKey, apiKeyEnv: spec.apiKeyEnv }),
      policy: { timeoutMs: spec.timeoutMs, retries: spec.retries, backoffMs: BACKOFF_MS },
      maxResponseBytes: spec.maxResponseBytes,
    };
    this.sampling = {
      mode: spec.mode,
      topLogprobs: spec.topLogprobs,
      samples: spec.samples,
      temperature: spec.temperature,
      structuredOutput: spec.structuredOutput,
      smoothing: spec.smoothing,
    };
    this.limiter = RateLimiter.perMinute(spec.requestsPerMinute);
    // Only what shapes an answer is part of the identity: the mode's own parameters, not the other
    // mode's, and not the votes' smoothing, which is applied to the stored votes when they are read.
    const parameters =
      spec.mode === 'logprobs'
        ? { topLogprobs: spec.topLogprobs }
        : { samples: spec.samples, temperature: spec.temperature, structuredOutput: spec.structuredOutput };
    this.store = new LlmResponseStore(options.storeRoot, {
      endpoint: endpointIdentity(base),
      model: spec.model,
      prompt: template,
      mode: spec.mode,
      sampling: parameters,
      classNames: options.classNames,
    });
    const how = spec.mode === 'logprobs' ? `top ${spec.topLogprobs} logprobs` : `${spec.samples} votes at temperature ${spec.temperature}`;
    this.info = {
      kind: 'llm',
      description: `LLM '${spec.model}' at ${redactUrl(base)} (${how})`,
      fingerprint: this.store.directory.slice(this.store.directory.lastIndexOf('llm-')),
      classes: options.classNames.length,
      featureNames: [],
    };
  }

  /**
   * Each text of `dataset` (or of its samples `rows`) as log-probabilities over the classes, from
   * the store where it has them and from the endpoint otherwise.
   */
  async labelDataset(
    dataset: Dataset,
    options: { rows?: ArrayLike<number>; onProgress?: (progress: LabellingProgress) => void; signal?: AbortSignal } = {},
  ): Promise<LlmDatasetLabels> {
    if (dataset.texts === undefined) {
      throw new InputError(`${this.options.source}: teacher.llm labels texts, and '${dataset.name}' holds no texts (use a text dataset)`);
    }
    const all = dataset.texts;
    const texts = options.rows ? Array.from(options.rows, (row) => all[row]) : all;
    const labelling = await labelTexts(texts, {
      endpoint: this.endpoint,
      sampling: this.sampling,
      template: this.template,
      templateSource: this.spec.prompt,
      classNames: this.options.classNames,
      store: this.store,
      concurrency: this.spec.concurrency,
      limiter: this.limiter,
      ...(options.onProgress && { onProgress: options.onProgress }),
      ...(options.signal && { signal: options.signal }),
    });
    const unanswered = labelling.answered.reduce((count, answered) => count + (answered ? 0 : 1), 0);
    return { ...labelling, unanswered };
  }

  /** Requests, tokens and failures over everything this teacher's store holds. */
  storeSummary(): LlmStoreSummary {
    return summarizeLlmStore(this.store.directory);
  }

  /** Per-request wall times (ms) of the stored answers to `texts`. */
  requestTimes(texts: readonly string[]): number[] {
    return texts.flatMap((text) => {
      const stored = this.store.read(text);
      return stored && typeof stored.ms === 'number' && stored.requests > 0 ? [stored.ms / stored.requests] : [];
    });
  }

  async logits(_batch: SampleBatch, _count: number): Promise<Float32Array> {
    throw new InputError(
      `${this.options.source}: teacher.llm labels whole texts before training (soft labels cached); it cannot label token batches (softLabels: online, or a step that needs the teacher inside training)`,
    );
  }

  async features(): Promise<Record<string, Float32Array>> {
    throw new InputError(`${this.options.source}: teacher.llm has no intermediate features; feature terms need a model teacher`);
  }

  async dispose(): Promise<void> {}
}

/** The teacher `teacher.llm` describes, its prompt template read and checked. */
export function openLlmTeacher(spec: LlmTeacherConfig, options: LlmTeacherOptions): LlmTeacher {
  const field = `${options.source}: teacher.llm.prompt`;
  const bytes = readRegularFile(spec.prompt, MAX_WHOLE_FILE_BYTES, `${field}: cannot read ${spec.prompt}`);
  const template = bytes.toString('utf8');
  renderPrompt(template, '', '', `${field} ${spec.prompt}`);
  return new LlmTeacher(spec, template, options);
}
