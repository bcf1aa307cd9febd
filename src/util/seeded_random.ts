import type { Rng } from './rng.js';

/**
 * Runs the synchronous `body` with Math.random drawing from `rng`, and puts Math.random back
 * before returning. TensorFlow.js draws unseeded randomness (dropout masks) from Math.random;
 * swapping it only around synchronous work (one training step) makes those draws follow a run's
 * own seed without holding process-wide state across an `await`, so two runs in one process do
 * not draw from each other's generator.
 */
export function withMathRandom<T>(rng: Rng, body: () => T): T {
  const original = Math.random;
  Math.random = () => rng.next();
  try {
    const result = body();
    if (result instanceof Promise) throw new TypeError('withMathRandom takes synchronous work only');
    return result;
  } finally {
    Math.random = original;
  }
}
