import { Rng } from './rng.js';

/**
 * Runs `body` with Math.random replaced by a seeded generator, restoring it afterwards.
 * TensorFlow.js draws unseeded randomness (dropout masks) from Math.random; this is the one
 * place that makes those draws follow the config's seed.
 */
export async function withSeededMathRandom<T>(seed: number, body: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const rng = new Rng(seed ^ 0x5eed);
  Math.random = () => rng.next();
  try {
    return await body();
  } finally {
    Math.random = original;
  }
}
