/**
 * An LLM's answer as a distribution over the classes, stored as log-probabilities so that every
 * term (kd at any T, soft-ce) reads it as it reads any teacher's logits.
 *
 * logprobs mode: the classes are offered as numbered options, so each answer is one token, and
 * the first answer token's `top_logprobs` (the k most likely tokens) gives
 *   p(c) = Σ exp(logprob) over the top-k tokens that read as option c (" 7" and "7" both do),
 *   tail = 1 − Σ exp(logprob) over all k tokens, the mass the endpoint did not show,
 *   shared equally by the classes no top-k token named,
 * then normalized over the classes (top-k tokens that are not an option, "The", drop out).
 * This is TRL's ServerDistillationTrainer's tail bucket, log(1 − Σ top-k p), spread over the
 * classes it stands for.
 *
 * votes mode: a reasoning model gives no logprobs, only answers; the soft label is the share of
 * `samples` answers that named each class, with additive (Laplace) smoothing α:
 *   p(c) = (votes(c) + α) / (answers + α · classes),
 * so a class no answer named keeps a small, finite log-probability.
 */
import { InputError } from '../errors.js';

/** One of `top_logprobs`: a token and its natural-log probability. */
export interface TokenLogprob {
  token: string;
  logprob: number;
}

/**
 * No class is ever given less than this probability: a class outside the top k when the top k
 * already hold all the mass would have log(0) = −∞, which no loss can use.
 */
export const MIN_PROBABILITY = 1e-8;

/** How a top-k token reads as an option: its text without surrounding whitespace ("▁7" decoded as " 7"). */
function optionText(token: string): string {
  return token.trim();
}

/** One answer read as a distribution. */
export interface AnswerDistribution {
  /** log p(c) for each class. */
  logProbabilities: Float32Array;
  /** The probability the top-k tokens that named an option held: 0 means the model answered something else. */
  optionMass: number;
}

/**
 * The class distribution of one answer's first token. `optionLabels[c]` is what the prompt told
 * the model to answer for class c ("1", "2", …). `where` names the response in the InputError for
 * a top_logprobs entry that is not a log-probability.
 */
export function logprobsDistribution(
  topLogprobs: readonly TokenLogprob[],
  optionLabels: readonly string[],
  where: string,
): AnswerDistribution {
  const classes = optionLabels.length;
  const classOf = new Map(optionLabels.map((label, c) => [label, c]));
  const probability = new Float64Array(classes);
  const named = new Uint8Array(classes);
  let shownMass = 0;
  let optionMass = 0;
  for (const { token, logprob } of topLogprobs) {
    if (!(logprob <= 0)) {
      throw new InputError(
        `${where}: top_logprobs gives token ${JSON.stringify(token)} logprob ${logprob}; a log-probability is at most 0`,
      );
    }
    const p = Math.exp(logprob);
    shownMass += p;
    const c = classOf.get(optionText(token));
    if (c === undefined) continue;
    probability[c] += p;
    optionMass += p;
    named[c] = 1;
  }
  const unnamed = classes - named.reduce((sum, flag) => sum + flag, 0);
  // Rounding in the server's logprobs can make the shown mass a hair above 1.
  const tail = Math.max(0, 1 - shownMass);
  if (unnamed > 0) {
    for (let c = 0; c < classes; c++) if (!named[c]) probability[c] = tail / unnamed;
  }
  return { logProbabilities: normalizedLog(probability, where), optionMass };
}

/**
 * The smoothed vote distribution of `votes` (a class index per parsed answer), as log-probabilities
 * [classes]. Zero parsed answers is no distribution at all: the caller reports that text instead.
 */
export function votesDistribution(votes: readonly number[], classes: number, smoothing: number): Float32Array {
  if (votes.length === 0) throw new Error('votesDistribution: no answers to count');
  const probability = new Float64Array(classes).fill(smoothing);
  for (const c of votes) probability[c] += 1;
  return normalizedLog(probability, 'votes');
}

/**
 * Whether logprobs answers look read from a tokenizer that splits numbers into digits: with more
 * than 9 classes and at least `minimum` answered texts, no text's most likely class is an option
 * past 9. Such a model's first answer token for "12" is "1", so logprobs mode cannot tell options
 * 1 and 10–19 apart (votes, which parse the whole answer, can). `logProbabilities` is
 * [texts, classes]; `answered[i]` is 0 for a text with no answer.
 */
export function answersLookSingleDigit(logProbabilities: Float32Array, answered: Uint8Array, classes: number, minimum = 20): boolean {
  if (classes <= 9) return false;
  let seen = 0;
  for (let i = 0; i < answered.length; i++) {
    if (!answered[i]) continue;
    seen++;
    const row = logProbabilities.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let c = 1; c < classes; c++) if (row[c] > row[best]) best = c;
    if (best >= 9) return false;
  }
  return seen >= minimum;
}

/** log(p / Σp), each p first raised to MIN_PROBABILITY. */
function normalizedLog(probability: Float64Array, where: string): Float32Array {
  let total = 0;
  for (let c = 0; c < probability.length; c++) {
    probability[c] = Math.max(probability[c], MIN_PROBABILITY);
    total += probability[c];
  }
  if (!Number.isFinite(total)) throw new InputError(`${where}: the probabilities do not sum to a finite number`);
  return Float32Array.from(probability, (p) => Math.log(p / total));
}
