import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../errors.js';
import { endpointIdentity, endpointProblem, endpointUrl, redactUrl, resolveHeaders } from './endpoint.js';

test('redactUrl hides the user and password, query values and the fragment, and keeps the rest', () => {
  assert.equal(redactUrl('http://kd:pw@gpu-box:8000/kserve/?token=abc&tag=1#x'), 'http://***@gpu-box:8000/kserve/?token=***&tag=***#***');
  assert.equal(redactUrl(new URL('https://kd@gpu-box/')), 'https://***@gpu-box/');
  assert.equal(redactUrl('http://gpu-box:8000/'), 'http://gpu-box:8000/');
  // Text that does not parse is cut at its first query or fragment, and any user part goes.
  assert.equal(redactUrl('http://kd:pw@ bad/?token=abc'), 'http://***@ bad/?***');
});

test('endpointProblem refuses credentials, a query and a fragment, and names the URL redacted', () => {
  assert.equal(endpointProblem('http://gpu-box:8000'), undefined);
  assert.match(endpointProblem('http://kd:pw@gpu-box/')!, /^http:\/\/\*\*\*@gpu-box\/ holds credentials; give them in headers/);
  assert.match(endpointProblem('http://gpu-box/?token=abc')!, /^http:\/\/gpu-box\/\?token=\*\*\* has a query string/);
  assert.match(endpointProblem('http://gpu-box/#abc')!, /^http:\/\/gpu-box\/#\*\*\* has a fragment/);
  assert.match(endpointProblem('ftp://gpu-box/')!, /must be http:\/\/ or https:\/\//);
  assert.throws(
    () => endpointUrl('http://kd:pw@gpu-box/', 'kd.yaml: teacher.remote'),
    (error: Error) => error instanceof InputError && !error.message.includes('pw'),
  );
});

test('the endpoint identity is scheme, host, port and path, as the URL parser normalizes them', () => {
  const identity = (url: string) => endpointIdentity(endpointUrl(url, 'test'));
  assert.equal(identity('http://GPU-box:80/kserve'), 'http://gpu-box/kserve/');
  assert.equal(identity('https://gpu-box:8443/'), 'https://gpu-box:8443/');
  assert.notEqual(identity('http://gpu-box:8000'), identity('http://gpu-box:8001'));
  assert.notEqual(identity('http://gpu-box/a/'), identity('http://gpu-box/b/'));
  assert.notEqual(identity('http://gpu-box/'), identity('https://gpu-box/'));
});

test('header values come from the named variables; an unset one is an InputError naming it and the header', () => {
  const headers = { Authorization: { env: 'KSERVE_TOKEN', prefix: 'Bearer ' }, 'X-Tenant': { env: 'TENANT', prefix: '' } };
  assert.deepEqual(resolveHeaders(headers, { KSERVE_TOKEN: 'abc', TENANT: 'lab' }, 'kd.yaml: teacher.remote.headers'), {
    Authorization: 'Bearer abc',
    'X-Tenant': 'lab',
  });
  assert.throws(
    () => resolveHeaders(headers, { TENANT: 'lab' }, 'kd.yaml: teacher.remote.headers'),
    new InputError(
      "kd.yaml: teacher.remote.headers.Authorization: the environment variable KSERVE_TOKEN is not set; it holds the header's value",
    ),
  );
  assert.throws(
    () => resolveHeaders(headers, { KSERVE_TOKEN: 'abc\r\nX-Evil: 1', TENANT: 'lab' }, 'h'),
    (error: Error) => {
      assert.equal(
        error.message,
        'h.Authorization: the value from KSERVE_TOKEN has a line break or control character, or a character outside Latin-1',
      );
      return true;
    },
  );
});
