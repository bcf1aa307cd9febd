// Fuzzes the LLM teacher's edge: hostile values in Chat Completions responses, read as logprobs
// (answerLogprobs, then logprobsDistribution) and as votes (answerVotes). Each either reads, giving
// a distribution that is finite and sums to 1, or is an InputError naming the response. See
// mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { logprobsDistribution } from '../teachers/llm_distribution.js';
import { answerLogprobs, answerVotes, optionLabels } from '../teachers/llm_protocol.js';
import { applyValueMutations, expectParsedOrInputError, fuzzOptions, valueMutations } from './mutate.test.util.js';

const source = 'teacher.llm: text 3';
const logprobsResponse = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: '2' },
      logprobs: {
        content: [
          {
            token: '2',
            logprob: -0.2,
            top_logprobs: [
              { token: '2', logprob: -0.2 },
              { token: ' 1', logprob: -1.9 },
              { token: 'The', logprob: -4 },
            ],
          },
        ],
      },
      finish_reason: 'length',
    },
  ],
  usage: { prompt_tokens: 120, completion_tokens: 1, total_tokens: 121 },
};
const votesResponse = {
  choices: [
    { index: 0, message: { role: 'assistant', content: '{"answer": 2}' } },
    { index: 1, message: { role: 'assistant', content: '{"answer": 3}' } },
  ],
};

test('LLM responses: hostile values read as a distribution that sums to 1, or are InputErrors naming the response', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(valueMutations, fc.boolean(), async (mutations, votes) => {
      inputs++;
      const body = applyValueMutations(votes ? votesResponse : logprobsResponse, mutations);
      const size = (JSON.stringify(body) ?? '').length;
      await expectParsedOrInputError(source, size, () => {
        if (votes) {
          for (const vote of answerVotes(body, 3, true, source))
            assert.ok(vote === null || (Number.isInteger(vote) && vote >= 0 && vote < 3));
          return;
        }
        const { logProbabilities } = logprobsDistribution(answerLogprobs(body, 'm', source), optionLabels(3), source);
        const total = logProbabilities.reduce((sum, value) => sum + Math.exp(value), 0);
        assert.ok(logProbabilities.every(Number.isFinite) && Math.abs(total - 1) < 1e-4, `not a distribution: ${[...logProbabilities]}`);
      });
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`LLM responses: ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});
