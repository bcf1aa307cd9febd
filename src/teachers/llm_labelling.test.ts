// The LLM teacher's labelling against scripts/llm-server.mjs, a real model behind the Chat
// Completions protocol, with the faults an endpoint has: every run ends retried and complete, or
// with the reason, and the store keeps only whole answers.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { type LlmEndpoint, RateLimiter } from './llm_client.js';
import { labelTexts, type LabellingOptions } from './llm_labelling.js';
import type { LlmSampling } from './llm_protocol.js';
import { LlmResponseStore, summarizeLlmStore } from './llm_store.js';
import { BANKING77_CLASSES, SERVED_MODEL, startLlmServer } from './llm_server.test.util.js';

const classNames = JSON.parse(readFileSync(BANKING77_CLASSES, 'utf8')) as string[];
const template = 'Which intent is this banking query? Answer with the number alone.\n{options}\nQuery: {text}';
const texts = [
  'my card still has not arrived',
  'how do i reset my pin',
  'i was charged twice for one purchase',
  'what is the exchange rate for euros',
  'my top up failed',
  'can i get a virtual card',
  'how old do i need to be to open an account',
  'cancel my transfer please',
  'where can i use my card',
  'my cash withdrawal is still pending',
];
const logprobs: LlmSampling = { mode: 'logprobs', topLogprobs: 20, samples: 1, temperature: 1, structuredOutput: true, smoothing: 0.01 };

function setup(
  url: string,
  overrides: Partial<Omit<LabellingOptions, 'endpoint'>> & { endpoint?: Partial<LlmEndpoint> } = {},
): LabellingOptions {
  const base = new URL(`${url}/`);
  const endpoint: LlmEndpoint = {
    base,
    model: SERVED_MODEL,
    policy: { timeoutMs: 3000, retries: 4, backoffMs: 10 },
    maxResponseBytes: 1 << 20,
    ...overrides.endpoint,
  };
  const store = overrides.store ?? new LlmResponseStore(mkdtempSync(join(tmpdir(), 'kdkit-llm-')), identity(base.href));
  return {
    sampling: logprobs,
    template,
    templateSource: 'prompt.txt',
    classNames,
    concurrency: 3,
    limiter: new RateLimiter(0),
    ...overrides,
    endpoint,
    store,
  };
}

const identity = (endpoint: string) => ({ endpoint, model: SERVED_MODEL, prompt: template, mode: 'logprobs', sampling: {}, classNames });

/** Files in the store that are not whole answers (temporaries left by a write cut short). */
function stray(directory: string): string[] {
  const answers = join(directory, 'answers');
  return readdirSync(answers).flatMap((fan) => readdirSync(join(answers, fan)).filter((file) => !/^[0-9a-f]{64}\.json$/.test(file)));
}

describe('labelling texts with an LLM teacher behind the Chat Completions protocol', () => {
  it('retries 429 (after Retry-After), 500, a timeout and a cut-off body, and answers every text once', async () => {
    const server = await startLlmServer(['--faults', '429,500,timeout,truncated', '--retry-after', '1']);
    try {
      const options = setup(server.url, { endpoint: { policy: { timeoutMs: 1500, retries: 4, backoffMs: 10 } } });
      const started = performance.now();
      const result = await labelTexts(texts, options);
      assert.ok(performance.now() - started >= 1000, 'the 429 was retried after its Retry-After');
      assert.deepEqual(
        [...result.answered],
        texts.map(() => 1),
      );
      // Each row is a distribution over the 77 classes.
      for (let i = 0; i < texts.length; i++) {
        const row = result.logProbabilities.subarray(i * 77, (i + 1) * 77);
        assert.ok(Math.abs(row.reduce((sum, value) => sum + Math.exp(value), 0) - 1) < 1e-4);
      }
      const argmax = (i: number) => {
        const row = Array.from(result.logProbabilities.subarray(i * 77, (i + 1) * 77));
        return classNames[row.indexOf(Math.max(...row))];
      };
      assert.equal(argmax(0), 'card_arrival');
      assert.equal(argmax(1), 'change_pin');
      const stats = await server.stats();
      // 10 answered, plus the 4 faulted attempts.
      assert.equal(stats.chatRequests, 14);
      assert.equal(result.progress.requests, 10);
      assert.deepEqual(stray(options.store.directory), []);
    } finally {
      await server.stop();
    }
  });

  it('resumes after an interruption without asking again for any text it has', async () => {
    const server = await startLlmServer();
    try {
      const controller = new AbortController();
      const options = setup(server.url, {
        concurrency: 1,
        signal: controller.signal,
        onProgress: (progress) => {
          if (progress.done >= 4) controller.abort(new Error('interrupted'));
        },
      });
      await assert.rejects(labelTexts(texts, options), /interrupted/);
      const firstRun = (await server.stats()).chatRequests;
      assert.ok(firstRun >= 4 && firstRun < texts.length);
      let reported = 0;
      const result = await labelTexts(texts, { ...options, signal: undefined, onProgress: (progress) => (reported = progress.fromStore) });
      assert.equal(reported, firstRun);
      assert.deepEqual(
        [...result.answered],
        texts.map(() => 1),
      );
      const stats = await server.stats();
      assert.equal(stats.chatRequests, texts.length);
      assert.ok(
        Object.values(stats.byText).every((count) => count === 1),
        'a text was asked twice',
      );
      // A third run sends nothing.
      await labelTexts(texts, { ...options, signal: undefined, onProgress: undefined });
      assert.equal((await server.stats()).chatRequests, texts.length);
      const summary = summarizeLlmStore(options.store.directory);
      assert.equal(summary.texts, texts.length);
      assert.equal(summary.requests, texts.length);
      assert.ok(summary.promptTokens > 0 && summary.completionTokens === texts.length);
    } finally {
      await server.stop();
    }
  });

  it('stops at a refused key (401) without retrying, and never shows the key', async () => {
    const key = 'sk-test-5f1b2c3d4e';
    const server = await startLlmServer(['--api-key-env', 'KDKIT_TEST_KEY'], { KDKIT_TEST_KEY: 'sk-right-key' });
    try {
      const options = setup(server.url, { concurrency: 1, endpoint: { apiKey: key, apiKeyEnv: 'MY_LLM_KEY' } });
      await assert.rejects(labelTexts(texts.slice(0, 1), options), (error: Error) => {
        assert.ok(error instanceof InputError);
        assert.match(error.message, /refused the request \(401: Incorrect API key provided\); check the key in \$MY_LLM_KEY/);
        assert.doesNotMatch(error.message, new RegExp(key));
        return true;
      });
      assert.equal((await server.stats()).requests, 1, 'a 401 is not retried');
      const failures = readFileSync(join(options.store.directory, 'failures.json'), 'utf8');
      assert.doesNotMatch(failures, new RegExp(key));
      // The right key is answered.
      const right = setup(server.url, { endpoint: { apiKey: 'sk-right-key' } });
      assert.equal((await labelTexts(texts.slice(0, 2), right)).answered.join(''), '11');
    } finally {
      await server.stop();
    }
  });

  it('is exit 2 naming the model for a 404, and saying to use votes when there are no logprobs', async () => {
    const server = await startLlmServer(['--no-logprobs']);
    try {
      await assert.rejects(
        labelTexts(texts.slice(0, 1), setup(server.url, { endpoint: { model: 'gpt-none' } })),
        (error: Error) => error instanceof InputError && /404 .*is teacher\.llm\.model 'gpt-none' served there/.test(error.message),
      );
      await assert.rejects(
        labelTexts(texts.slice(0, 1), setup(server.url)),
        (error: Error) => error instanceof InputError && /model 'kdkit-onnx-llm' returned no logprobs.*Use mode: votes/.test(error.message),
      );
    } finally {
      await server.stop();
    }
  });

  it('gives up after the retries with the reason (exit 1), recording the failure and keeping the answers before it', async () => {
    const server = await startLlmServer(['--faults', Array(20).fill('500').join(',')]);
    try {
      const options = setup(server.url, { concurrency: 1, endpoint: { policy: { timeoutMs: 3000, retries: 2, backoffMs: 5 } } });
      await assert.rejects(labelTexts(texts.slice(0, 2), options), (error: Error) => {
        assert.ok(!(error instanceof InputError));
        assert.match(error.message, /teacher\.llm: text 1: POST \/v1\/chat\/completions gave up after 3 attempts: last status 500/);
        return true;
      });
      assert.equal(summarizeLlmStore(options.store.directory).failures, 1);
      assert.deepEqual(stray(options.store.directory), []);
    } finally {
      await server.stop();
    }
  });

  it('votes: counts the unparseable answers and smooths the votes of the rest', async () => {
    const server = await startLlmServer(['--garbage', '0.3']);
    try {
      const votes: LlmSampling = { ...logprobs, mode: 'votes', samples: 8, structuredOutput: true, smoothing: 0.01 };
      const options = setup(server.url, { sampling: votes });
      const result = await labelTexts(texts.slice(0, 4), options);
      assert.ok(result.unparseable > 0, 'the server sent unparseable answers');
      const summary = summarizeLlmStore(options.store.directory);
      assert.equal(summary.unparseable, result.unparseable);
      for (let i = 0; i < 4; i++) {
        const row = Array.from(result.logProbabilities.subarray(i * 77, (i + 1) * 77), Math.exp);
        assert.ok(Math.abs(row.reduce((sum, p) => sum + p, 0) - 1) < 1e-4);
        // Each probability is (votes + 0.01) / (answers + 0.77): a multiple of 1 / (answers + 0.77) above the floor.
        const answers = Math.round(1 / (row.reduce((low, p) => Math.min(low, p)) / 0.01) - 0.77);
        assert.ok(answers >= 1 && answers <= 8);
      }

      // The store keeps the votes themselves: another smoothing reads them again, with no request.
      const requests = (await server.stats()).chatRequests;
      const resmoothed = await labelTexts(texts.slice(0, 4), { ...options, sampling: { ...votes, smoothing: 1 } });
      assert.equal((await server.stats()).chatRequests, requests);
      assert.equal(resmoothed.progress.fromStore, 4);
      for (let i = 0; i < 4; i++) {
        const before = Array.from(result.logProbabilities.subarray(i * 77, (i + 1) * 77), Math.exp);
        const after = Array.from(resmoothed.logProbabilities.subarray(i * 77, (i + 1) * 77), Math.exp);
        // The same counts: (votes + 0.01) / (answers + 0.77) before, (votes + 1) / (answers + 77) now.
        const answers = Math.round(1 / (Math.min(...before) / 0.01) - 0.77);
        for (let c = 0; c < 77; c++) {
          const votesOfClass = before[c] * (answers + 0.77) - 0.01;
          assert.ok(Math.abs(after[c] - (votesOfClass + 1) / (answers + 77)) < 1e-5, `text ${i}, class ${c}`);
        }
      }
    } finally {
      await server.stop();
    }
  });
});
