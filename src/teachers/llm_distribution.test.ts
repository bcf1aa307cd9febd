import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { answersLookSingleDigit, logprobsDistribution, MIN_PROBABILITY, votesDistribution } from './llm_distribution.js';

const labels = (count: number) => Array.from({ length: count }, (_, i) => String(i + 1));
const top = (entries: [string, number][]) => entries.map(([token, p]) => ({ token, logprob: Math.log(p) }));

/** exp of each log-probability, for comparing with hand-worked probabilities. */
function probabilities(logProbabilities: Float32Array): number[] {
  return Array.from(logProbabilities, Math.exp);
}

function assertClose(actual: number[], expected: number[], tolerance = 1e-6): void {
  assert.equal(actual.length, expected.length);
  for (const [i, value] of actual.entries())
    assert.ok(Math.abs(value - expected[i]) < tolerance, `class ${i}: ${value} against ${expected[i]}`);
}

describe('logprobs → class distribution', () => {
  it('takes the top-k options as they are and gives the unshown mass to the one class not among them', () => {
    // Shown: 0.6 + 0.3 = 0.9; the tail 0.1 goes to option 3.
    const { logProbabilities, optionMass } = logprobsDistribution(
      top([
        ['1', 0.6],
        [' 2', 0.3],
      ]),
      labels(3),
      'r',
    );
    assertClose(probabilities(logProbabilities), [0.6, 0.3, 0.1]);
    assert.ok(Math.abs(optionMass - 0.9) < 1e-12);
  });

  it('adds up tokens that read as the same option (" 1" and "1")', () => {
    // Option 1: 0.5 + 0.2; option 2: 0.2; tail 0.1 to option 3.
    const { logProbabilities } = logprobsDistribution(
      top([
        ['1', 0.5],
        [' 1', 0.2],
        ['2', 0.2],
      ]),
      labels(3),
      'r',
    );
    assertClose(probabilities(logProbabilities), [0.7, 0.2, 0.1]);
  });

  it('drops top-k tokens that are no option and renormalizes over the classes', () => {
    // "The" holds 0.5 and is dropped; shown 0.9, tail 0.1 to option 3: [0.3, 0.1, 0.1] / 0.5.
    const { logProbabilities, optionMass } = logprobsDistribution(
      top([
        ['The', 0.5],
        ['1', 0.3],
        ['2', 0.1],
      ]),
      labels(3),
      'r',
    );
    assertClose(probabilities(logProbabilities), [0.6, 0.2, 0.2]);
    assert.ok(Math.abs(optionMass - 0.4) < 1e-12);
  });

  it('shares the tail equally among the options past the top k', () => {
    // 5 options, top 2 shown (0.7 + 0.2); options 3, 4 and 5 share 0.1.
    const { logProbabilities } = logprobsDistribution(
      top([
        ['1', 0.7],
        ['2', 0.2],
      ]),
      labels(5),
      'r',
    );
    assertClose(probabilities(logProbabilities), [0.7, 0.2, 0.1 / 3, 0.1 / 3, 0.1 / 3]);
  });

  it('gives a class outside a top k that holds all the mass the floor, not log 0', () => {
    // Shown 0.7 + 0.30001 > 1 (the server's rounding): no tail; option 3 gets MIN_PROBABILITY.
    const { logProbabilities } = logprobsDistribution(
      top([
        ['1', 0.7],
        ['2', 0.30001],
      ]),
      labels(3),
      'r',
    );
    const total = 0.7 + 0.30001 + MIN_PROBABILITY;
    assertClose(probabilities(logProbabilities), [0.7 / total, 0.30001 / total, MIN_PROBABILITY / total], 1e-7);
    // Stored as float32: log(p) within its rounding of the floor itself.
    assert.ok(Math.abs(Math.exp(logProbabilities[2]) / (MIN_PROBABILITY / total) - 1) < 1e-5);
    assert.ok(logProbabilities.every(Number.isFinite));
  });

  it('says when no top-k token names an option', () => {
    const { logProbabilities, optionMass } = logprobsDistribution(
      top([
        ['The', 0.6],
        ['I', 0.3],
      ]),
      labels(2),
      'r',
    );
    assert.equal(optionMass, 0);
    // The tail 0.1 is all the class mass there is, split in two.
    assertClose(probabilities(logProbabilities), [0.5, 0.5]);
  });

  it('refuses a logprob above 0 or not a number, naming the response and the token', () => {
    for (const logprob of [0.5, Number.NaN]) {
      assert.throws(
        () => logprobsDistribution([{ token: '1', logprob }], labels(2), 'response 7'),
        (error: Error) => error instanceof InputError && /^response 7: top_logprobs gives token "1" logprob/.test(error.message),
      );
    }
  });
});

describe('votes → class distribution', () => {
  it('is the vote share with additive smoothing α', () => {
    // Votes for classes 0, 0, 1 over 3 classes, α = 0.5: (2.5, 1.5, 0.5) / 4.5.
    assertClose(probabilities(votesDistribution([0, 0, 1], 3, 0.5)), [2.5 / 4.5, 1.5 / 4.5, 0.5 / 4.5]);
    // Eight votes for one class of 77 at α = 0.01: 8.01 / 8.77, the rest 0.01 / 8.77 each.
    const many = probabilities(votesDistribution(Array(8).fill(3), 77, 0.01));
    assert.ok(Math.abs(many[3] - 8.01 / 8.77) < 1e-6 && Math.abs(many[0] - 0.01 / 8.77) < 1e-9);
  });

  it('has no distribution for no answers', () => {
    assert.throws(() => votesDistribution([], 3, 0.5), /no answers/);
  });
});

describe('answers that look read from a digit-splitting tokenizer', () => {
  // A digit-splitting tokenizer's first answer token for "12" is "1": over 12 options, only options
  // 1–9 are ever named, each with its whole mass, and 10–12 get the tail alone.
  const classes = 12;
  const firstDigitOnly = (texts: number) => {
    const rows = new Float32Array(texts * classes).fill(Math.log(1e-4));
    for (let i = 0; i < texts; i++) rows[i * classes + (i % 9)] = Math.log(0.99);
    return rows;
  };
  const all = (texts: number) => new Uint8Array(texts).fill(1);

  it('flags 20 answered texts with no option past 9 among their most likely classes', () => {
    assert.equal(answersLookSingleDigit(firstDigitOnly(20), all(20), classes), true);
  });

  it('does not flag one answer past 9, too few answers, unanswered rows, or 9 classes or fewer', () => {
    const withTwelve = firstDigitOnly(20);
    withTwelve[5 * classes + 11] = Math.log(0.999);
    assert.equal(answersLookSingleDigit(withTwelve, all(20), classes), false);
    assert.equal(answersLookSingleDigit(firstDigitOnly(19), all(19), classes), false);
    // 25 rows, 6 of them unanswered: 19 answered are too few to tell.
    const answered = all(25);
    answered.fill(0, 0, 6);
    assert.equal(answersLookSingleDigit(firstDigitOnly(25), answered, classes), false);
    const nine = new Float32Array(20 * 9).fill(Math.log(1 / 9));
    assert.equal(answersLookSingleDigit(nine, all(20), 9), false);
  });
});
