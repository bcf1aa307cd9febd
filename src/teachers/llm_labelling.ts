/**
 * Labels texts with the LLM teacher: each text's answer comes from the response store when it is
 * there, else from the endpoint (at most `concurrency` requests in flight, spaced by the rate
 * limit) and goes into the store at once. The first request that fails for good stops the others,
 * is recorded in the store, and is the error thrown; everything answered until then is kept.
 */
import type { LlmAnswer, LlmEndpoint, RateLimiter } from './llm_client.js';
import { labelText } from './llm_client.js';
import { votesDistribution } from './llm_distribution.js';
import type { LlmSampling } from './llm_protocol.js';
import { optionLines, renderPrompt } from './llm_protocol.js';
import type { LlmResponseStore } from './llm_store.js';
import { mapConcurrent } from './remote_http.js';

export interface LabellingProgress {
  /** Texts answered so far (from the store or the endpoint) of `total`. */
  done: number;
  total: number;
  /** Of `done`, read from the store. */
  fromStore: number;
  requests: number;
  tokens: number;
}

export interface LabellingOptions {
  endpoint: LlmEndpoint;
  sampling: LlmSampling;
  template: string;
  /** Names the template in errors. */
  templateSource: string;
  classNames: readonly string[];
  store: LlmResponseStore;
  concurrency: number;
  limiter: RateLimiter;
  onProgress?: (progress: LabellingProgress) => void;
  signal?: AbortSignal;
}

export interface Labelling {
  /** log p(class) per text, row-major [texts, classes]; rows of unanswered texts are 0. */
  logProbabilities: Float32Array;
  /** 1 where some answer named a class. */
  answered: Uint8Array;
  progress: LabellingProgress;
  /** Unparseable answers among those this call received or read. */
  unparseable: number;
}

export async function labelTexts(texts: readonly string[], options: LabellingOptions): Promise<Labelling> {
  const classes = options.classNames.length;
  const optionText = optionLines(options.classNames);
  const answers = new Array<LlmAnswer | undefined>(texts.length);
  const progress: LabellingProgress = { done: 0, total: texts.length, fromStore: 0, requests: 0, tokens: 0 };
  const missing: number[] = [];
  texts.forEach((text, i) => {
    const stored = options.store.read(text);
    if (stored === undefined) missing.push(i);
    else answers[i] = stored;
  });
  progress.done = progress.fromStore = texts.length - missing.length;
  options.onProgress?.({ ...progress });
  const ownSignal = options.signal;
  try {
    await mapConcurrent(missing.length, options.concurrency, async (k, signal) => {
      const i = missing[k];
      const prompt = renderPrompt(options.template, texts[i], optionText, options.templateSource);
      const answer = await labelText(
        options.endpoint,
        prompt,
        options.sampling,
        classes,
        options.limiter,
        `teacher.llm: text ${i + 1}`,
        ownSignal ? AbortSignal.any([ownSignal, signal]) : signal,
      );
      options.store.write(texts[i], answer);
      answers[i] = answer;
      progress.done++;
      progress.requests += answer.requests;
      progress.tokens += answer.usage.promptTokens + answer.usage.completionTokens;
      options.onProgress?.({ ...progress });
    });
  } catch (error) {
    if (!ownSignal?.aborted) options.store.recordFailure(error instanceof Error ? error.message : String(error));
    throw error;
  }
  const logProbabilities = new Float32Array(texts.length * classes);
  const answered = new Uint8Array(texts.length);
  let unparseable = 0;
  answers.forEach((answer, i) => {
    unparseable += answer?.unparseable ?? 0;
    if (answer?.logProbabilities == null) return;
    // Votes are smoothed as this run's sampling says, whatever smoothing the stored answer was read with.
    const row =
      options.sampling.mode === 'votes' && answer.votes?.length
        ? votesDistribution(answer.votes, classes, options.sampling.smoothing)
        : answer.logProbabilities;
    logProbabilities.set(row, i * classes);
    answered[i] = 1;
  });
  return { logProbabilities, answered, progress, unparseable };
}
