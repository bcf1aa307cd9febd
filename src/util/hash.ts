import { createHash } from 'node:crypto';

/** Hex SHA-256 of the parts, in order. */
export function sha256(...parts: (string | Uint8Array)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}
