import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { sha256 as nodeSha256 } from './hash.js';
import { sha256, sha256File } from './hash_browser.js';

test("the browser bundle's SHA-256 gives node:crypto's digest of any parts", () => {
  // FIPS 180-2's example: SHA-256("abc").
  assert.equal(sha256('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  fc.assert(
    fc.property(fc.array(fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 300 })), { maxLength: 5 }), (parts) => {
      assert.equal(sha256(...parts), nodeSha256(...parts));
    }),
  );
});

test('the browser bundle refuses to hash a file by path, naming it', () => {
  assert.throws(() => sha256File('data/x.bin'), /data\/x\.bin/);
});
