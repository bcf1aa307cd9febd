/**
 * The range float pixels from a file must lie in. kdkit feeds pixels to the models as they are, and
 * expects them scaled to about [0, 1] or standardized; a NaN there would surface epochs later as
 * a "diverged" run (exit 1), and 1e30 as overflowing activations, far from the file that caused it.
 */
import { InputError } from '../errors.js';

/** Largest |value| accepted from float pixel data. */
export const MAX_PIXEL_MAGNITUDE = 1e4;

/** Throws an InputError naming `path` and `sample` when a value of `pixels` (one sample) is non-finite or beyond ±MAX_PIXEL_MAGNITUDE. */
export function checkPixelRange(pixels: Float32Array, path: string, sample: number): void {
  for (let k = 0; k < pixels.length; k++) {
    // Written so that NaN fails it too.
    if (!(Math.abs(pixels[k]) <= MAX_PIXEL_MAGNITUDE)) {
      throw new InputError(
        `${path}: sample ${sample} holds ${pixels[k]}; kdkit expects pixels scaled to about [0, 1] or standardized, finite and within ±${MAX_PIXEL_MAGNITUDE}`,
      );
    }
  }
}
