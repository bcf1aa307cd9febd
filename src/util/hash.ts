import { createHash } from 'node:crypto';
import { readSync } from 'node:fs';
import { withRegularFile } from './regular_file.js';

/** Hex SHA-256 of the parts, in order. */
export function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** Hex SHA-256 of a file's contents, read in 1 MiB chunks (files may be larger than memory). */
export function sha256File(path: string): string {
  const hash = createHash('sha256');
  withRegularFile(path, undefined, (file) => {
    const chunk = Buffer.alloc(1 << 20);
    for (let read = readSync(file.descriptor, chunk); read > 0; read = readSync(file.descriptor, chunk))
      hash.update(chunk.subarray(0, read));
  });
  return hash.digest('hex');
}
