/**
 * Running a graph over a batch in chunks of whole images, for kernels whose temporaries grow with
 * the batch (convolution patches, per-tap products): teacher inference runs large batches.
 */

/** Calls `run(first, count)` for consecutive chunks of `perChunk` images covering `batch`. */
export function forEachChunk(batch: number, perChunk: number, run: (first: number, count: number) => void): void {
  for (let first = 0; first < batch; first += perChunk) run(first, Math.min(perChunk, batch - first));
}

/** The values of images first … first + count − 1 in a batch of `imageSize` values per image. */
export function imageRange(view: Float32Array, imageSize: number, first: number, count: number): Float32Array {
  return view.subarray(first * imageSize, (first + count) * imageSize);
}

/**
 * Fills `output` with the sum over chunks of what `run(first, count, target)` writes to `target`
 * (a filter gradient sums over the batch). One chunk writes `output` in place; several write a
 * scratch array each and are added up in float64.
 */
export function sumOverChunks(
  batch: number,
  perChunk: number,
  output: Float32Array,
  run: (first: number, count: number, target: Float32Array) => void,
): void {
  if (perChunk >= batch) {
    run(0, batch, output);
    return;
  }
  const sums = new Float64Array(output.length);
  const partial = new Float32Array(output.length);
  forEachChunk(batch, perChunk, (first, count) => {
    run(first, count, partial);
    for (let i = 0; i < sums.length; i++) sums[i] += partial[i];
  });
  output.set(sums);
}
