/**
 * util/hash.ts for kdkit/browser: the bundle (scripts/build-browser.mjs) takes this module in
 * hash.ts's place, since a page has no node:crypto, and WebCrypto's digest is asynchronous where
 * kdkit's callers are not. SHA-256 by @noble/hashes (audited, dependency-free); hash_browser.test.ts
 * checks it gives node:crypto's digests.
 */
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import type * as node from './hash.js';

const encoder = new TextEncoder();

/** Hex SHA-256 of the parts, in order. */
export function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = nobleSha256.create();
  for (const part of parts) hash.update(typeof part === 'string' ? encoder.encode(part) : part);
  return bytesToHex(hash.digest());
}

/** A page has no files to hash by path. */
export function sha256File(path: string): string {
  throw new Error(`kdkit/browser: cannot hash the file ${path}: a page reads no files by path`);
}

// Both modules export the same functions, so that either can stand in for the other.
({ sha256, sha256File }) satisfies typeof node;
