import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { excerpt, mapConcurrent, requestWithRetries, retryAfterMs, shortened } from './remote_http.js';

test('Retry-After reads as delay-seconds or an HTTP date, capped at 30 s', () => {
  assert.equal(retryAfterMs(null), undefined);
  assert.equal(retryAfterMs(''), undefined);
  assert.equal(retryAfterMs('soon'), undefined);
  assert.equal(retryAfterMs('0'), 0);
  assert.equal(retryAfterMs('2'), 2000);
  assert.equal(retryAfterMs('3600'), 30_000);
  // HTTP dates have whole seconds, so "5 s from now" is between 4 and 5 s away.
  const inFive = retryAfterMs(new Date(Date.now() + 5000).toUTCString())!;
  assert.ok(inFive > 4000 && inFive <= 5000, `${inFive} ms`);
  assert.equal(retryAfterMs(new Date(Date.now() - 60_000).toUTCString()), 0);
});

test('a server text is shown on one line, cut at 200 characters with its length', () => {
  assert.equal(excerpt(''), '');
  assert.equal(excerpt('  model\n  is loading '), ' (model is loading)');
  assert.equal(excerpt('x'.repeat(200)), ` (${'x'.repeat(200)})`);
  assert.equal(excerpt('x'.repeat(250)), ` (${'x'.repeat(200)}… (250 characters))`);
  assert.equal(shortened(`a\n${'y'.repeat(5000)}`), `a ${'y'.repeat(198)}… (5002 characters)`);
});

test('mapConcurrent keeps index order and never runs more than `concurrency` tasks at once', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  // Later tasks finish sooner, so completion order is not index order.
  const results = await mapConcurrent(10, 3, async (index) => {
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await sleep(2 * (10 - index));
    inFlight--;
    return index * index;
  });
  assert.deepEqual(results, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  assert.equal(maxInFlight, 3);
  assert.deepEqual(await mapConcurrent(0, 3, async () => 1), []);
});

test('mapConcurrent: the first failure aborts the tasks in flight, starts no more, and is rethrown', async () => {
  const started: number[] = [];
  const aborted: number[] = [];
  const failure = new Error('task 1 failed');
  await assert.rejects(
    mapConcurrent(10, 2, async (index, signal) => {
      started.push(index);
      if (index === 1) throw failure;
      try {
        await sleep(1000, undefined, { signal });
      } catch (error) {
        aborted.push(index);
        throw error;
      }
    }),
    (error) => error === failure,
  );
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(aborted, [0]);
});

test('retries draw their jitter elsewhere than Math.random, which a run seeds for dropout', async () => {
  // Two 503s, then an answer.
  let requests = 0;
  const server = createServer((_request, response) => {
    requests++;
    response.writeHead(requests <= 2 ? 503 : 200, { 'content-type': 'text/plain' }).end(requests <= 2 ? 'busy' : 'ok');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const original = Math.random;
  let draws = 0;
  Math.random = () => ++draws / 1000;
  try {
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/v2/health`);
    const answer = await requestWithRetries(
      { method: 'GET', url, headers: {}, maxResponseBytes: 1024, limitNote: 'test' },
      { timeoutMs: 2000, retries: 2, backoffMs: 1 },
      'test server',
    );
    assert.deepEqual([answer.status, answer.text, requests, draws], [200, 'ok', 3, 0]);
  } finally {
    Math.random = original;
    server.close();
  }
});
