import { Rng } from './rng.js';

/**
 * Runs `body` with Math.random replaced by a seeded generator, restoring it afterwards.
 * TensorFlow.js draws unseeded randomness (dropout masks) from Math.random; this is the one
 * place that makes those draws follow the config's seed.
 */
export async function withSeededMathRandom<T>(seed: number, body: () => Promise<T>): Promise<T> {
  const original = Math.random;
  const rng = new Rng(seed ^ 0x5eed);
  const outer = active;
  active = rng;
  Math.random = () => rng.next();
  try {
    return await body();
  } finally {
    Math.random = original;
    active = outer;
  }
}

let active: Rng | undefined;

/** The seeded Math.random's position, for a checkpoint; null outside withSeededMathRandom. */
export function mathRandomPosition(): number | null {
  return active ? active.position : null;
}

/** Moves the seeded Math.random to a checkpoint's position (inside withSeededMathRandom). */
export function restoreMathRandomPosition(position: number | null): void {
  if (active && position !== null) active.position = position;
}
