import { argmaxRow } from '../util/argmax.js';

/** Fraction of samples where two models' arg-max predictions agree (the student's fidelity to its teacher). */
export function agreement(logitsA: Float32Array, logitsB: Float32Array, numClasses: number): number {
  const count = logitsA.length / numClasses;
  let same = 0;
  for (let i = 0; i < count; i++) if (argmaxRow(logitsA, i, numClasses) === argmaxRow(logitsB, i, numClasses)) same++;
  return count === 0 ? 0 : same / count;
}
