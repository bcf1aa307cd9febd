/**
 * The LLM teacher's requests: one text in, one answer out (a class distribution, or a note that
 * no answer named a class), over remote_http's retrying transport. A 401 or 403 (the key) and a
 * 404 (the model) are exit 2 at once, without retries; 429, 5xx, timeouts and a cut-off body are
 * retried with backoff, honouring Retry-After. The API key goes in the Authorization header and
 * nowhere else: any echo of it in a server's message is masked before the message is shown.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { InputError } from '../errors.js';
import { logprobsDistribution, votesDistribution } from './llm_distribution.js';
import { answerLogprobs, answerVotes, chatRequest, optionLabels, usageOf, type LlmSampling, type TokenUsage } from './llm_protocol.js';
import { serverMessage } from './remote_protocol.js';
import { requestWithRetries, shortened, type HttpAnswer, type RetryPolicy } from './remote_http.js';

export interface LlmEndpoint {
  /** The base URL, ending in '/', e.g. http://127.0.0.1:8000/v1/. */
  base: URL;
  model: string;
  /** Sent as "Authorization: Bearer …"; never part of a message. */
  apiKey?: string;
  /** Names the config's variable in errors about the key. */
  apiKeyEnv?: string;
  policy: RetryPolicy;
  maxResponseBytes: number;
}

/** What one text's labelling gave. */
export interface LlmAnswer {
  /** log p(class), or null when no answer named a class (counted, never guessed). */
  logProbabilities: number[] | null;
  usage: TokenUsage;
  /** Chat requests that got an answer (retries not counted). */
  requests: number;
  /**
   * votes: the class each parsed answer named, in order. The store keeps them, so that the
   * distribution (its smoothing) can change without asking again.
   */
  votes?: number[];
  /** votes: answers read as a class, and answers that were not. */
  answers: number;
  unparseable: number;
  /** Wall time of the requests that answered, in ms (retries of one request included; rate-limit waits not). */
  ms: number;
}

/** Spaces request starts at least 60 000 / requestsPerMinute ms apart, across every concurrent task. */
export class RateLimiter {
  private nextStartMs = 0;
  constructor(private readonly intervalMs: number) {}

  static perMinute(requestsPerMinute: number): RateLimiter {
    return new RateLimiter(60_000 / requestsPerMinute);
  }

  async wait(signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    const startMs = Math.max(now, this.nextStartMs);
    this.nextStartMs = startMs + this.intervalMs;
    if (startMs > now) await new Promise((resolve) => setTimeout(resolve, startMs - now));
    signal?.throwIfAborted();
  }
}

/** Asks for one text's label: one request for logprobs, as many as it takes to get `samples` answers for votes. */
export async function labelText(
  endpoint: LlmEndpoint,
  prompt: string,
  sampling: LlmSampling,
  classes: number,
  limiter: RateLimiter,
  where: string,
  signal?: AbortSignal,
): Promise<LlmAnswer> {
  const usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  let requests = 0;
  let ms = 0;
  const ask = async (n: number) => {
    const answered = await complete(endpoint, chatRequest(endpoint.model, prompt, sampling, classes, n), limiter, where, signal);
    const body = answered.body;
    requests++;
    ms += answered.ms;
    const used = usageOf(body);
    usage.promptTokens += used.promptTokens;
    usage.completionTokens += used.completionTokens;
    return body;
  };
  if (sampling.mode === 'logprobs') {
    const top = answerLogprobs(await ask(1), endpoint.model, where);
    const { logProbabilities, optionMass } = logprobsDistribution(top, optionLabels(classes), where);
    const named = optionMass > 0;
    return {
      logProbabilities: named ? Array.from(logProbabilities) : null,
      usage,
      requests,
      answers: named ? 1 : 0,
      unparseable: named ? 0 : 1,
      ms,
    };
  }
  const votes: number[] = [];
  let unparseable = 0;
  // An endpoint that ignores n (some do) answers once per request; ask again for the rest.
  for (let attempt = 0; attempt < sampling.samples; attempt++) {
    const remaining = sampling.samples - votes.length - unparseable;
    if (remaining === 0) break;
    const choices = answerVotes(await ask(remaining), classes, sampling.structuredOutput, where);
    for (const vote of choices.slice(0, remaining)) {
      if (vote === null) unparseable++;
      else votes.push(vote);
    }
  }
  return {
    logProbabilities: votes.length === 0 ? null : Array.from(votesDistribution(votes, classes, sampling.smoothing)),
    votes,
    usage,
    requests,
    answers: votes.length,
    unparseable,
    ms,
  };
}

/** One chat completion's JSON body and how long it took; a body cut off mid-way is retried like a 5xx. */
async function complete(
  endpoint: LlmEndpoint,
  request: object,
  limiter: RateLimiter,
  where: string,
  signal?: AbortSignal,
): Promise<{ body: unknown; ms: number }> {
  const url = new URL('chat/completions', endpoint.base);
  const attempts = endpoint.policy.retries + 1;
  for (let attempt = 1; ; attempt++) {
    await limiter.wait(signal);
    const started = performance.now();
    const answer = await requestWithRetries(
      {
        method: 'POST',
        url,
        body: JSON.stringify(request),
        headers: endpoint.apiKey === undefined ? {} : { authorization: `Bearer ${endpoint.apiKey}` },
        maxResponseBytes: endpoint.maxResponseBytes,
        limitNote: 'the most a chat completion may be (teacher.llm.maxResponseBytes)',
      },
      endpoint.policy,
      where,
      signal,
    );
    refuseClientError(endpoint, answer, where);
    try {
      return { body: JSON.parse(answer.text), ms: performance.now() - started };
    } catch {
      if (attempt >= attempts) {
        throw new Error(
          `${where}: POST ${url.pathname} answered ${answer.status} with a body that is not JSON, ${attempts} times (cut off?)`,
        );
      }
      await sleep(endpoint.policy.backoffMs * 2 ** (attempt - 1), undefined, { signal });
    }
  }
}

/** A 4xx other than 429 is the config's to fix: the key, the model or the request. */
function refuseClientError(endpoint: LlmEndpoint, answer: HttpAnswer, where: string): void {
  if (answer.status < 400) return;
  const reason = masked(openaiMessage(answer), endpoint.apiKey);
  const keyHint =
    endpoint.apiKeyEnv === undefined
      ? 'set teacher.llm.apiKeyEnv to the environment variable that holds the key'
      : `check the key in $${endpoint.apiKeyEnv}`;
  if (answer.status === 401 || answer.status === 403) {
    throw new InputError(`${where}: the endpoint refused the request (${answer.status}${reason}); ${keyHint}`);
  }
  if (answer.status === 404) {
    throw new InputError(
      `${where}: ${answer.status} from ${endpoint.base.href}chat/completions${reason}; is teacher.llm.model '${endpoint.model}' served there, and does url end in /v1?`,
    );
  }
  throw new InputError(`${where}: the endpoint refused the request (${answer.status}${reason})`);
}

/** OpenAI's {"error": {"message": …}}, else what remote_protocol.ts reads. */
function openaiMessage(answer: HttpAnswer): string {
  try {
    const message = (JSON.parse(answer.text) as { error?: { message?: unknown } } | null)?.error?.message;
    if (typeof message === 'string') return `: ${shortened(message)}`;
  } catch {
    // Not JSON: serverMessage shows the text.
  }
  return serverMessage(answer);
}

/** `text` with every occurrence of the key replaced by ***. */
function masked(text: string, apiKey: string | undefined): string {
  return apiKey === undefined || apiKey === '' ? text : text.split(apiKey).join('***');
}
