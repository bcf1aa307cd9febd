import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../errors.js';
import { parseConfig } from './parse.js';

const withRemote = (remote: Record<string, unknown>) => ({
  dataset: { name: 'digits' },
  teacher: { remote: { url: 'http://127.0.0.1:8000', model: 'resnet', ...remote } },
  student: { model: { type: 'mlp', hidden: [16] } },
  distill: { epochs: 1, terms: [{ method: 'kd', weight: 1 }] },
});

function rejects(remote: Record<string, unknown>, pattern: RegExp): string {
  let message = '';
  assert.throws(
    () => parseConfig(withRemote(remote), 'kd.yaml'),
    (error: Error) => {
      assert.ok(error instanceof InputError);
      message = error.message;
      return true;
    },
  );
  assert.match(message, pattern);
  return message;
}

test('remote headers take their values from environment variables, by name', () => {
  const config = parseConfig(
    withRemote({ headers: { Authorization: { env: 'KSERVE_TOKEN', prefix: 'Bearer ' }, 'X-Tenant': { env: 'TENANT' } } }),
  );
  assert.ok('remote' in config.teacher);
  assert.deepEqual(config.teacher.remote.headers, {
    Authorization: { env: 'KSERVE_TOKEN', prefix: 'Bearer ' },
    'X-Tenant': { env: 'TENANT', prefix: '' },
  });
  // A literal value would be written to summary.json with the rest of the config.
  rejects({ headers: { Authorization: 'Bearer abc' } }, /teacher\.remote\.headers\.Authorization: expected \{env: VARIABLE, prefix\?\}/);
  rejects({ headers: { 'bad name': { env: 'X' } } }, /teacher\.remote\.headers: header name 'bad name' is not an HTTP token/);
  rejects({ headers: { 'X-A': { env: 'X', value: 'y' } } }, /teacher\.remote\.headers\.X-A\.value: unknown key/);
});

test('a remote url with credentials or a query is refused when the config is read, redacted', () => {
  const userinfo = rejects(
    { url: 'http://kd:hunter2@gpu-box:8000/' },
    /teacher\.remote\.url: http:\/\/\*\*\*@gpu-box:8000\/ holds credentials; give them in headers/,
  );
  const query = rejects(
    { url: 'https://gpu-box/kserve/?api_key=hunter2' },
    /teacher\.remote\.url: https:\/\/gpu-box\/kserve\/\?api_key=\*\*\* has a query string/,
  );
  assert.ok(!`${userinfo}${query}`.includes('hunter2'));
});

test('timeoutMs stops at the largest delay a Node timer holds', () => {
  const config = parseConfig(withRemote({ timeoutMs: 2147483647, maxResponseBytes: 1024 }));
  assert.ok('remote' in config.teacher);
  assert.equal(config.teacher.remote.timeoutMs, 2147483647);
  assert.equal(config.teacher.remote.maxResponseBytes, 1024);
  rejects({ timeoutMs: 2147483648 }, /teacher\.remote\.timeoutMs: at most 2147483647 ms \(the longest Node timer\)/);
  rejects({ maxResponseBytes: 0 }, /teacher\.remote\.maxResponseBytes: Too small: expected number to be >0/);
});
