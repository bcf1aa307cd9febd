/**
 * Scalar schedules: a value as a pure function of training progress. Term weights and
 * temperatures take either a number or one of these, e.g. `{schedule: linear, from: 0.9, to: 0.3}`.
 *
 *   constant  value
 *   linear    from → to, linearly over the stage
 *   cosine    from → to along half a cosine: (from + to)/2 + (from − to)/2 · cos(π · progress)
 *   step      values[i] from the i-th boundary of `at` (fractions of the stage) on
 *   warmup    from → to linearly over the first `epochs` epochs, then `to`: from + (to − from) ·
 *             min(epoch / epochs, 1), as mdistiller ramps DKD in (from 0, over 20 epochs)
 */
import { z } from 'zod';

/** Where training is: `progress` the fraction of the stage's steps done, in [0, 1); `epoch` 1-based. */
export interface TrainingPosition {
  progress: number;
  epoch: number;
}

const finite = z.number().finite();

export const scheduleSpec = z.discriminatedUnion('schedule', [
  z.strictObject({ schedule: z.literal('constant'), value: finite }),
  z.strictObject({ schedule: z.literal('linear'), from: finite, to: finite }),
  z.strictObject({ schedule: z.literal('cosine'), from: finite, to: finite }),
  z
    .strictObject({
      schedule: z.literal('step'),
      values: z.array(finite).min(1),
      /** Increasing fractions of the stage in (0, 1), one fewer than `values`. */
      at: z.array(z.number().gt(0).lt(1)).default([]),
    })
    .refine((spec) => spec.at.length === spec.values.length - 1, {
      message: 'step: `at` needs one boundary fewer than `values`',
      path: ['at'],
    })
    .refine((spec) => spec.at.every((boundary, i) => i === 0 || boundary > spec.at[i - 1]), {
      message: 'step: `at` must increase',
      path: ['at'],
    }),
  z.strictObject({ schedule: z.literal('warmup'), from: finite.default(0), to: finite, epochs: z.number().int().positive() }),
]);

export type ScheduleSpec = z.infer<typeof scheduleSpec>;

/** A number or a schedule; `bounds` constrains every value the schedule can take. */
export function scheduled(bounds: z.ZodNumber) {
  return z.union([bounds, scheduleSpec]).superRefine((spec, context) => {
    if (typeof spec === 'number') return;
    for (const value of scheduleExtremes(spec)) {
      const checked = bounds.safeParse(value);
      if (!checked.success) {
        context.addIssue({
          code: 'custom',
          message: `the schedule reaches ${value}: ${checked.error.issues[0]?.message ?? 'out of range'}`,
        });
        return;
      }
    }
  });
}

export type Scheduled = number | ScheduleSpec;

/** The values a schedule passes through at its ends and steps (its extremes, for every kind). */
function scheduleExtremes(spec: ScheduleSpec): number[] {
  switch (spec.schedule) {
    case 'constant':
      return [spec.value];
    case 'step':
      return spec.values;
    default:
      return [spec.from, spec.to];
  }
}

/** The value of `spec` at `position`. */
export function scheduleValue(spec: Scheduled, position: TrainingPosition): number {
  if (typeof spec === 'number') return spec;
  const progress = Math.min(Math.max(position.progress, 0), 1);
  switch (spec.schedule) {
    case 'constant':
      return spec.value;
    case 'linear':
      return spec.from + (spec.to - spec.from) * progress;
    case 'cosine':
      return (spec.from + spec.to) / 2 + ((spec.from - spec.to) / 2) * Math.cos(Math.PI * progress);
    case 'step': {
      let index = 0;
      while (index < spec.at.length && progress >= spec.at[index]) index++;
      return spec.values[index];
    }
    case 'warmup':
      return spec.from + (spec.to - spec.from) * Math.min(position.epoch / spec.epochs, 1);
  }
}

/** A short human description, for logs and reports. */
export function describeSchedule(spec: Scheduled): string {
  if (typeof spec === 'number') return String(spec);
  switch (spec.schedule) {
    case 'constant':
      return String(spec.value);
    case 'step':
      return `step ${spec.values.join(' → ')} at ${spec.at.join(', ')}`;
    case 'warmup':
      return `warmup ${spec.from} → ${spec.to} over ${spec.epochs} epochs`;
    default:
      return `${spec.schedule} ${spec.from} → ${spec.to}`;
  }
}
