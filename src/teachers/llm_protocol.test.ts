import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { answerLogprobs, answerVotes, chatRequest, optionLines, renderPrompt, usageOf, type LlmSampling } from './llm_protocol.js';

const sampling: LlmSampling = { mode: 'logprobs', topLogprobs: 20, samples: 8, temperature: 1, structuredOutput: true, smoothing: 0.01 };
const choice = (content: string) => ({ message: { role: 'assistant', content } });

describe('the prompt', () => {
  it('numbers the classes from 1 and fills {text} and {options}, leaving other braces alone', () => {
    const options = optionLines(['card_arrival', 'pin_blocked']);
    assert.equal(options, '1. card_arrival\n2. pin_blocked');
    const template = 'Answer {"answer": N}.\nOptions:\n{options}\nQuery: {text}\nAgain: {text}';
    assert.equal(
      renderPrompt(template, 'where is my card', options, 'p.txt'),
      'Answer {"answer": N}.\nOptions:\n1. card_arrival\n2. pin_blocked\nQuery: where is my card\nAgain: where is my card',
    );
  });

  it('does not read {options} or {text} inside the text it inserts', () => {
    assert.equal(renderPrompt('{options}|{text}', 'say {options}', 'O', 'p'), 'O|say {options}');
  });

  it('refuses a template without {text} or {options}, naming it', () => {
    assert.throws(
      () => renderPrompt('Classify: {text}', 'x', 'O', 'prompts/b.txt'),
      (error: Error) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /^prompts\/b\.txt: the prompt template has no \{options\}/);
        return true;
      },
    );
  });
});

describe('requests', () => {
  it('asks for one greedy answer token and its top logprobs', () => {
    assert.deepEqual(chatRequest('m', 'P', sampling, 77), {
      model: 'm',
      messages: [{ role: 'user', content: 'P' }],
      max_tokens: 1,
      temperature: 0,
      logprobs: true,
      top_logprobs: 20,
    });
  });

  it('asks for n sampled answers, with a JSON schema where structured output is on', () => {
    const votes = { ...sampling, mode: 'votes' as const, temperature: 0.7 };
    assert.deepEqual(chatRequest('m', 'P', votes, 3, 8), {
      model: 'm',
      messages: [{ role: 'user', content: 'P' }],
      n: 8,
      temperature: 0.7,
      response_format: {
        type: 'json_schema',
        json_schema: {
          name: 'answer',
          strict: true,
          schema: {
            type: 'object',
            properties: { answer: { type: 'integer', minimum: 1, maximum: 3 } },
            required: ['answer'],
            additionalProperties: false,
          },
        },
      },
    });
    assert.equal('response_format' in chatRequest('m', 'P', { ...votes, structuredOutput: false }, 3, 2), false);
  });
});

describe('responses', () => {
  it("reads the first answer token's top_logprobs and the usage", () => {
    const body = {
      choices: [
        {
          message: { content: '2' },
          logprobs: {
            content: [
              {
                token: '2',
                logprob: -0.1,
                top_logprobs: [
                  { token: '2', logprob: -0.1 },
                  { token: ' 1', logprob: -2.5 },
                ],
              },
            ],
          },
        },
      ],
      usage: { prompt_tokens: 310, completion_tokens: 1, total_tokens: 311 },
    };
    assert.deepEqual(answerLogprobs(body, 'm', 'r'), [
      { token: '2', logprob: -0.1 },
      { token: ' 1', logprob: -2.5 },
    ]);
    assert.deepEqual(usageOf(body), { promptTokens: 310, completionTokens: 1 });
    assert.deepEqual(usageOf({ choices: [] }), { promptTokens: 0, completionTokens: 0 });
  });

  it('is exit 2 naming the model and mode: votes when the response has no logprobs', () => {
    for (const body of [
      { choices: [choice('2')] },
      { choices: [{ ...choice('2'), logprobs: null }] },
      { choices: [{ ...choice('2'), logprobs: { content: [] } }] },
    ]) {
      assert.throws(
        () => answerLogprobs(body, 'o1-mini', 'labelling text 4'),
        (error: Error) =>
          error instanceof InputError && /^labelling text 4: model 'o1-mini' returned no logprobs.*Use mode: votes$/.test(error.message),
      );
    }
  });

  it('refuses a body that is no chat completion', () => {
    assert.throws(() => answerLogprobs({ error: 'x' }, 'm', 'r'), /r: the response has no choices/);
    assert.throws(
      () => answerLogprobs({ choices: [{ logprobs: { content: [{ top_logprobs: [{ token: 2, logprob: -1 }] }] } }] }, 'm', 'r'),
      /top_logprobs\[0\] is not \{token: string, logprob: number\}/,
    );
  });

  it('reads votes strictly: JSON {"answer": N} with structured output, digits alone without; anything else is null', () => {
    const structured = {
      choices: ['{"answer": 2}', ' {"answer":3}\n', '{"answer": "2"}', '{"answer": 4}', '{"answer": 1.5}', 'Option 2', '{"answer": 0}'].map(
        choice,
      ),
    };
    assert.deepEqual(answerVotes(structured, 3, true, 'r'), [1, 2, null, null, null, null, null]);
    const bare = { choices: ['2', ' 3\n', 'Option 2', '2 or 3', '02', '4', '', '２'].map(choice) };
    assert.deepEqual(answerVotes(bare, 3, false, 'r'), [1, 2, null, null, 1, null, null, null]);
    assert.deepEqual(answerVotes({ choices: [{ message: { content: null } }] }, 3, false, 'r'), [null]);
  });
});
