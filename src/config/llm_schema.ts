/**
 * `teacher: {llm: …}`: an LLM behind any OpenAI-compatible Chat Completions endpoint as the
 * teacher (teachers/llm_*.ts). The API key is read from the environment variable the config
 * names, never from the config, and is written nowhere.
 */
import { z } from 'zod';
import { endpointProblem } from '../util/endpoint.js';

const positiveInt = z.number().int().positive();

export const llmTeacherSpec = z.strictObject({
  /** The base URL the endpoint serves /chat/completions under, e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1. */
  url: z.url().superRefine((url, context) => {
    const problem = endpointProblem(url);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  }),
  model: z.string().min(1),
  /** The environment variable holding the API key (sent as Authorization: Bearer); none for a local server without keys. */
  apiKeyEnv: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      error: 'expected the name of an environment variable, e.g. OPENAI_API_KEY (the key itself never goes in the config)',
    })
    .optional(),
  /** A text file: the prompt, with {text} where the text goes and {options} where the numbered classes go. */
  prompt: z.string().min(1),
  /** logprobs: the answer token's top_logprobs as the distribution; votes: `samples` answers counted (models without logprobs). */
  mode: z.enum(['logprobs', 'votes']).default('logprobs'),
  /** logprobs: alternatives to the answer token; OpenAI gives at most 20. */
  topLogprobs: positiveInt.max(20).default(20),
  /** votes: answers per text. */
  samples: positiveInt.max(128).default(8),
  /** votes: sampling temperature of the answers. */
  temperature: z.number().min(0).max(2).default(1),
  /** votes: ask for {"answer": N} through response_format's JSON schema (switch off for endpoints without structured output). */
  structuredOutput: z.boolean().default(true),
  /**
   * votes: additive smoothing α, p(c) = (votes(c) + α) / (answers + α · classes); applied to the
   * stored votes, so a new α asks nothing again. The default keeps the classes no answer named at
   * 1 % of the mass for 8 answers over 77 classes (α · classes / (answers + α · classes)); 0.01
   * put 8.8 % there and left the example's student underconfident (examples/llm-teacher/README.md).
   */
  smoothing: z.number().positive().max(100).default(0.001),
  /** Requests in flight at once. */
  concurrency: positiveInt.max(256).default(8),
  /** Client-side rate limit: request starts are spaced 60 000 / requestsPerMinute ms apart. */
  requestsPerMinute: z.number().positive().default(600),
  /** Per attempt; past 2³¹ − 1 ms Node fires a timer at once. */
  timeoutMs: positiveInt.max(2 ** 31 - 1, { error: 'at most 2147483647 ms (the longest Node timer)' }).default(60_000),
  /** Retries on 429, 5xx, timeouts and cut-off bodies, with exponential backoff and jitter, honouring Retry-After. */
  retries: z.number().int().nonnegative().max(20).default(5),
  /** The largest response read. */
  maxResponseBytes: positiveInt.default(1 << 20),
  /** The teacher's own test accuracy costs a request per test text; `samples` bounds it to a seeded sample of the test set. */
  evaluateTeacher: z.strictObject({ samples: positiveInt }).optional(),
});
export type LlmTeacherConfig = z.infer<typeof llmTeacherSpec>;
