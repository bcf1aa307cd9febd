/**
 * OpenAI's Chat Completions as the LLM teacher speaks it (vLLM, llama.cpp's server and others
 * serve the same protocol at a /v1 base URL): the prompt with the classes as numbered options,
 * the request body of each mode, and what a response means. Anything that does not read as the
 * protocol is an InputError naming the response and what was expected.
 */
import { InputError } from '../errors.js';
import type { TokenLogprob } from './llm_distribution.js';
import { excerpt } from './remote_http.js';

export type LlmMode = 'logprobs' | 'votes';

/** What a request asks beyond the prompt. */
export interface LlmSampling {
  mode: LlmMode;
  /** logprobs: how many alternatives to the answer token (OpenAI allows up to 20). */
  topLogprobs: number;
  /** votes: answers per text. */
  samples: number;
  /** votes: sampling temperature. */
  temperature: number;
  /** votes: ask for {"answer": N} through response_format's JSON schema. */
  structuredOutput: boolean;
  /** votes: additive smoothing α of the vote counts (llm_distribution.ts). */
  smoothing: number;
}

/** Token counts from a response's `usage`, summed by the caller. */
export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
}

/** `{options}` as the model sees it: one "N. name" line per class, N from 1. */
export function optionLines(classNames: readonly string[]): string {
  return classNames.map((name, c) => `${c + 1}. ${name}`).join('\n');
}

/** The answer that names class c. */
export function optionLabels(classes: number): string[] {
  return Array.from({ length: classes }, (_, c) => String(c + 1));
}

/**
 * The prompt for one text: `template` with `{text}` and `{options}` replaced (each must appear;
 * `where` names the template in the InputError). Nothing else in the template is touched, so JSON
 * or other braces in it stay as written.
 */
export function renderPrompt(template: string, text: string, options: string, where: string): string {
  for (const placeholder of ['{text}', '{options}']) {
    if (!template.includes(placeholder)) {
      throw new InputError(
        `${where}: the prompt template has no ${placeholder}; it needs {text} (the text to label) and {options} (the numbered classes)`,
      );
    }
  }
  return template.replace(/\{text\}|\{options\}/g, (placeholder) => (placeholder === '{text}' ? text : options));
}

/** The JSON schema a structured vote answer follows: {"answer": an option number}. */
export function answerSchema(classes: number): object {
  return {
    type: 'object',
    properties: { answer: { type: 'integer', minimum: 1, maximum: classes } },
    required: ['answer'],
    additionalProperties: false,
  };
}

/** The body of one chat completion request for `prompt`; `n` answers (votes). */
export function chatRequest(model: string, prompt: string, sampling: LlmSampling, classes: number, n = 1): object {
  const messages = [{ role: 'user', content: prompt }];
  if (sampling.mode === 'logprobs') {
    // One token is the answer; greedy, so the alternatives are the model's, not the sampler's.
    return { model, messages, max_tokens: 1, temperature: 0, logprobs: true, top_logprobs: sampling.topLogprobs };
  }
  return {
    model,
    messages,
    n,
    temperature: sampling.temperature,
    // An answer is a few tokens ({"answer": 12}); a reasoning model needs more room for its reasoning.
    ...(sampling.structuredOutput
      ? { response_format: { type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: answerSchema(classes) } } }
      : {}),
  };
}

interface ChatChoice {
  message?: { content?: unknown };
  logprobs?: { content?: unknown } | null;
}

interface ChatResponse {
  choices?: unknown;
  usage?: { prompt_tokens?: unknown; completion_tokens?: unknown };
}

function choicesOf(body: unknown, where: string): ChatChoice[] {
  const choices = (body as ChatResponse | null)?.choices;
  if (!Array.isArray(choices) || choices.length === 0) {
    throw new InputError(
      `${where}: the response has no choices${excerpt(JSON.stringify(body) ?? '')}; expected a Chat Completions response`,
    );
  }
  const odd = choices.findIndex((choice) => typeof choice !== 'object' || choice === null || Array.isArray(choice));
  if (odd >= 0) throw new InputError(`${where}: choices[${odd}] is not an object${excerpt(JSON.stringify(choices[odd]) ?? '')}`);
  return choices as ChatChoice[];
}

/** `usage`, or zeros when the endpoint does not report it. */
export function usageOf(body: unknown): TokenUsage {
  const usage = (body as ChatResponse | null)?.usage;
  const count = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : 0);
  return { promptTokens: count(usage?.prompt_tokens), completionTokens: count(usage?.completion_tokens) };
}

/**
 * The first answer token's top_logprobs. A response without logprobs is an InputError that names
 * the model and says to use votes: the endpoint (a reasoning model, or logprobs switched off) will
 * not give them on a retry either.
 */
export function answerLogprobs(body: unknown, model: string, where: string): TokenLogprob[] {
  const [choice] = choicesOf(body, where);
  const content = choice.logprobs?.content;
  const first = Array.isArray(content) ? (content[0] as { top_logprobs?: unknown } | undefined) : undefined;
  const top = first?.top_logprobs;
  if (!Array.isArray(top) || top.length === 0) {
    throw new InputError(
      `${where}: model '${model}' returned no logprobs for its answer; it cannot give mode: logprobs soft labels (reasoning models do not, and vLLM needs --max-logprobs ≥ topLogprobs). Use mode: votes`,
    );
  }
  return top.map((entry: { token?: unknown; logprob?: unknown }, i) => {
    if (typeof entry?.token !== 'string' || typeof entry.logprob !== 'number') {
      throw new InputError(`${where}: top_logprobs[${i}] is not {token: string, logprob: number}${excerpt(JSON.stringify(entry) ?? '')}`);
    }
    return { token: entry.token, logprob: entry.logprob };
  });
}

/**
 * Each choice's answer as a class index, or null when it does not read strictly as one: with
 * structured output, JSON {"answer": N}; otherwise the bare option number. Nothing else is
 * interpreted ("Option 12", "12 or 13" are null), so an unparseable answer is counted, never guessed.
 */
export function answerVotes(body: unknown, classes: number, structuredOutput: boolean, where: string): (number | null)[] {
  return choicesOf(body, where).map((choice) => {
    const content = choice.message?.content;
    if (typeof content !== 'string') return null;
    const option = structuredOutput ? structuredAnswer(content) : bareAnswer(content);
    return option !== null && Number.isInteger(option) && option >= 1 && option <= classes ? option - 1 : null;
  });
}

/** {"answer": N} with N a JSON number, or null. */
function structuredAnswer(content: string): number | null {
  try {
    const answer = (JSON.parse(content) as { answer?: unknown } | null)?.answer;
    return typeof answer === 'number' ? answer : null;
  } catch {
    return null;
  }
}

/** Digits alone (around them only whitespace), or null. */
function bareAnswer(content: string): number | null {
  const text = content.trim();
  return /^[0-9]{1,6}$/.test(text) ? Number(text) : null;
}
