import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OrtRuntime, OrtSession } from './runtime.js';
import type { GraphSpec } from './onnx_model.js';
import { SessionCache } from './session_cache.js';

/** A runtime that records what it is asked to do instead of running anything. */
function recordingRuntime() {
  const created: Array<{ modelBytes: number; threads: number }> = [];
  const disposed: number[] = [];
  const runtime: OrtRuntime = {
    kind: 'c-api',
    version: 'test',
    createSession(model, options) {
      const id = created.length;
      created.push({ modelBytes: model.byteLength, threads: options.intraOpThreads });
      const session: OrtSession = { run() {}, dispose: () => disposed.push(id) };
      return session;
    },
  };
  return { runtime, created, disposed };
}

function relu(size: number): GraphSpec {
  return {
    inputs: [{ name: 'x', shape: [size] }],
    outputs: [{ name: 'y', shape: [size] }],
    nodes: [{ opType: 'Relu', inputs: ['x'], outputs: ['y'] }],
  };
}

test('SessionCache creates one session per graph and reuses it', () => {
  const { runtime, created } = recordingRuntime();
  const cache = new SessionCache(runtime, { intraOpThreads: 2, capacity: 4 });
  const first = cache.session(relu(3));
  assert.equal(cache.session(relu(3)), first);
  assert.notEqual(cache.session(relu(4)), first);
  assert.equal(created.length, 2);
  assert.ok(created.every((entry) => entry.threads === 2 && entry.modelBytes > 0));
});

test('SessionCache disposes the least recently used session beyond its capacity, and all on clear', () => {
  const { runtime, created, disposed } = recordingRuntime();
  const cache = new SessionCache(runtime, { intraOpThreads: 1, capacity: 2 });
  cache.session(relu(1)); // session 0
  cache.session(relu(2)); // session 1
  cache.session(relu(1)); // 0 is now the most recently used
  cache.session(relu(3)); // session 2 evicts 1
  assert.deepEqual(disposed, [1]);
  assert.equal(cache.size, 2);
  cache.session(relu(1));
  assert.equal(created.length, 3, 'session 0 survived the eviction');
  cache.clear();
  assert.deepEqual(disposed.sort(), [0, 1, 2]);
  assert.equal(cache.size, 0);
});

test('SessionCache gives a keyed graph its own thread count, never more than the cache has', () => {
  const { runtime, created } = recordingRuntime();
  const cache = new SessionCache(runtime, { intraOpThreads: 2, capacity: 4 });
  const keyed = (key: string, threads?: number) => ({ ...relu(3), key, nodes: () => relu(3).nodes, threads });
  cache.session(keyed('pool'));
  cache.session(keyed('alone', 1));
  cache.session(keyed('more', 8));
  assert.deepEqual(
    created.map((entry) => entry.threads),
    [2, 1, 2],
  );
  assert.deepEqual(cache.keys(), ['pool', 'alone threads 1', 'more']);
});
