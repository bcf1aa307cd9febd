/** Index of the largest of `numClasses` values in row `row` of a row-major matrix (first on ties). */
export function argmaxRow(matrix: Float32Array, row: number, numClasses: number): number {
  let best = 0;
  for (let c = 1; c < numClasses; c++) if (matrix[row * numClasses + c] > matrix[row * numClasses + best]) best = c;
  return best;
}
