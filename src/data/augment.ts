/**
 * Data augmentation on training batches, as the vision distillation codebases do it
 * (RepDistiller, mdistiller: `RandomCrop(32, padding=4)`, `RandomHorizontalFlip()`):
 *
 *   crop   pad each side with `padding` zeros, then cut the original h × w at a random offset
 *          (dy, dx uniform in [0, 2 · padding]): out[y, x] = in[y + dy − p, x + dx − p], 0 outside
 *   flip   with probability 1/2, out[y, x] = in[y, w − 1 − x]
 *
 * in that order, to every float32 image field ([h, w, c]) of a batch, on the host before it
 * becomes a tensor. Each step draws from its own generator, seeded by the run's seed, the epoch and
 * the step, so the same step gets the same changes however the run got there: a resumed run
 * augments exactly as an uninterrupted one, and every epoch sees new ones.
 */
import type { AugmentConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { stepRng } from '../util/rng.js';
import type { FieldArray, InputField, SampleBatch } from './dataset.js';

/** Changes `count` samples of `batch` in place, for training step `step` (from 0) of epoch `epoch` (from 1). */
export type BatchAugmenter = (batch: SampleBatch, count: number, epoch: number, step: number) => void;

/**
 * The augmenter `spec` describes for a dataset with `fields`, or null when it changes nothing.
 * An InputError names `field` when the dataset has no image to augment, or the padding is larger
 * than the image.
 */
export function batchAugmenter(
  spec: AugmentConfig | undefined,
  fields: readonly InputField[],
  seed: number,
  field: string,
): BatchAugmenter | null {
  if (spec === undefined || (spec.crop === undefined && spec.flip === 'none')) return null;
  const images = fields.filter((each) => each.dtype === 'float32' && each.shape.length === 3);
  if (images.length === 0) {
    const described = fields.map((each) => `${each.name} ${each.dtype} [${each.shape.join(', ')}]`).join(', ');
    throw new InputError(`${field}: crop and flip change images (float32 [h, w, c]); this dataset's samples are ${described}`);
  }
  const padding = spec.crop?.padding ?? 0;
  for (const image of images) {
    const [height, width] = image.shape;
    if (padding >= Math.min(height, width))
      throw new InputError(`${field}.crop.padding: ${padding} is not smaller than the ${height}×${width} images`);
  }
  const flip = spec.flip === 'horizontal';
  return (batch, count, epoch, step) => {
    const rng = stepRng(seed, epoch, step);
    for (const image of images) {
      const [height, width, channels] = image.shape;
      const values = batch[image.name];
      const scratch = new Float32Array(height * width * channels);
      for (let i = 0; i < count; i++) {
        // Draws in a fixed order per sample, used or not, so the crop's draws never depend on the flip's.
        const dy = rng.int(2 * padding + 1) - padding;
        const dx = rng.int(2 * padding + 1) - padding;
        const mirror = flip && rng.next() < 0.5;
        if (dy === 0 && dx === 0 && !mirror) continue;
        const sample = values.subarray(i * scratch.length, (i + 1) * scratch.length);
        transform(sample, scratch, height, width, channels, dy, dx, mirror);
        sample.set(scratch);
      }
    }
  };
}

/** out[y, x] = in[y + dy, (mirror ? w − 1 − x : x) + dx], zero outside the image. */
function transform(
  input: FieldArray,
  out: Float32Array,
  height: number,
  width: number,
  channels: number,
  dy: number,
  dx: number,
  mirror: boolean,
): void {
  for (let y = 0; y < height; y++) {
    const sourceY = y + dy;
    for (let x = 0; x < width; x++) {
      const sourceX = (mirror ? width - 1 - x : x) + dx;
      const target = (y * width + x) * channels;
      if (sourceY < 0 || sourceY >= height || sourceX < 0 || sourceX >= width) {
        out.fill(0, target, target + channels);
        continue;
      }
      const source = (sourceY * width + sourceX) * channels;
      for (let c = 0; c < channels; c++) out[target + c] = input[source + c];
    }
  }
}
