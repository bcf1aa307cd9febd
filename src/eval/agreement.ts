/** Fraction of samples where two models' arg-max predictions agree (the student's fidelity to its teacher). */
export function agreement(logitsA: Float32Array, logitsB: Float32Array, numClasses: number): number {
  const count = logitsA.length / numClasses;
  let same = 0;
  for (let i = 0; i < count; i++) if (argmax(logitsA, i, numClasses) === argmax(logitsB, i, numClasses)) same++;
  return count === 0 ? 0 : same / count;
}

function argmax(logits: Float32Array, row: number, numClasses: number): number {
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (logits[row * numClasses + c] > logits[row * numClasses + best]) best = c;
  return best;
}
