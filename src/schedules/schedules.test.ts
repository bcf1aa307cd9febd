import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scheduled, scheduleSpec, scheduleValue, type Scheduled } from './index.js';
import { z } from 'zod';

const at = (spec: Scheduled, progress: number, epoch = 1) => scheduleValue(spec, { progress, epoch });

test('schedules by hand: constant, linear, cosine, step and warmup', () => {
  assert.equal(at(0.7, 0.5), 0.7);
  assert.equal(at({ schedule: 'constant', value: 3 }, 0.9), 3);
  const linear = { schedule: 'linear', from: 0.9, to: 0.3 } as const;
  assert.deepEqual(
    [0, 0.25, 0.5, 1].map((p) => +at(linear, p).toFixed(12)),
    [0.9, 0.75, 0.6, 0.3],
  );
  // Half a cosine: the midpoint is the mean, a quarter in is from − (from − to)(1 − cos 45°)/2.
  const cosine = { schedule: 'cosine', from: 1, to: 0 } as const;
  assert.equal(at(cosine, 0), 1);
  assert.ok(Math.abs(at(cosine, 0.5) - 0.5) < 1e-12);
  assert.ok(Math.abs(at(cosine, 0.25) - (1 + Math.SQRT1_2) / 2) < 1e-12);
  assert.ok(Math.abs(at(cosine, 1)) < 1e-12);
  const step: Scheduled = { schedule: 'step', values: [4, 2, 1], at: [0.3, 0.6] };
  assert.deepEqual(
    [0, 0.29, 0.3, 0.59, 0.6, 0.99].map((p) => at(step, p)),
    [4, 4, 2, 2, 1, 1],
  );
  // mdistiller's DKD warmup: min(epoch / 20, 1).
  const warmup = { schedule: 'warmup', from: 0, to: 1, epochs: 20 } as const;
  assert.deepEqual(
    [1, 10, 20, 35].map((epoch) => at(warmup, 0, epoch)),
    [0.05, 0.5, 1, 1],
  );
});

test('schedule specs are validated: unknown kinds, mismatched steps, values out of bounds', () => {
  assert.ok(!scheduleSpec.safeParse({ schedule: 'exponential', from: 1, to: 2 }).success);
  assert.ok(!scheduleSpec.safeParse({ schedule: 'step', values: [1, 2], at: [0.5, 0.7] }).success);
  assert.ok(!scheduleSpec.safeParse({ schedule: 'step', values: [1, 2, 3], at: [0.7, 0.5] }).success);
  assert.ok(scheduleSpec.safeParse({ schedule: 'warmup', to: 1, epochs: 20 }).success);
  const positive = scheduled(z.number().positive());
  assert.ok(positive.safeParse({ schedule: 'linear', from: 4, to: 1 }).success);
  const negative = positive.safeParse({ schedule: 'cosine', from: 4, to: 0 });
  assert.ok(!negative.success);
  assert.match(negative.error!.issues[0].message, /the schedule reaches 0/);
});
