/** Rows `rows` of a row-major [n, columns] matrix, in that order, as a new [rows.length, columns] matrix. */
export function selectRows(matrix: Float32Array, columns: number, rows: ArrayLike<number>): Float32Array {
  const out = new Float32Array(rows.length * columns);
  for (let i = 0; i < rows.length; i++) out.set(matrix.subarray(rows[i] * columns, (rows[i] + 1) * columns), i * columns);
  return out;
}
