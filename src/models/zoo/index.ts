/**
 * The zoo for library users: `resnet({blocks: [2, 2, 2]}, {inputShape: [28, 28, 1], numClasses: 10})`
 * builds the same model a config's `{type: resnet, …}` does, with the same defaults and checks.
 */
import type { z } from 'zod';
import type * as tf from '../../engine/tf.js';
import { InputError } from '../../errors.js';
import { mobilenetv2Spec, resnetSpec } from '../../config/schema.js';
import { describeIssues } from '../../config/parse.js';
import { buildResNet } from './resnet.js';
import { buildMobileNetV2 } from './mobilenet_v2.js';

export interface ZooOptions {
  /** [height, width, channels] of one sample. */
  inputShape: readonly [number, number, number];
  numClasses: number;
  /** Seeds the initial weights; default 1. */
  seed?: number;
  /** The model's name; default the architecture's. */
  name?: string;
}

function parse<T extends z.ZodType>(schema: T, spec: unknown, what: string): z.output<T> {
  const parsed = schema.safeParse(spec);
  if (!parsed.success) throw new InputError(`${what}: invalid spec\n${describeIssues(parsed.error.issues)}`);
  return parsed.data;
}

function buildOptions(options: ZooOptions, name: string) {
  const { inputShape, numClasses } = options;
  if (inputShape.length !== 3 || !inputShape.every((size) => Number.isInteger(size) && size > 0))
    throw new InputError(`${name}(): inputShape: expected [height, width, channels] of positive integers, got [${inputShape.join(', ')}]`);
  if (!Number.isInteger(numClasses) || numClasses < 2)
    throw new InputError(`${name}(): numClasses: expected an integer ≥ 2, got ${numClasses}`);
  return { inputShape, numClasses, seed: options.seed ?? 1, name: options.name ?? name };
}

/** A ResNet (see models/zoo/resnet.ts); `spec` takes the config's fields, without `type`. */
export function resnet(spec: Omit<z.input<typeof resnetSpec>, 'type'>, options: ZooOptions): tf.LayersModel {
  return buildResNet(parse(resnetSpec, { ...spec, type: 'resnet' }, 'resnet()'), buildOptions(options, 'resnet'));
}

/** A MobileNetV2 (see models/zoo/mobilenet_v2.ts); `spec` takes the config's fields, without `type`. */
export function mobileNetV2(spec: Omit<z.input<typeof mobilenetv2Spec>, 'type'>, options: ZooOptions): tf.LayersModel {
  return buildMobileNetV2(parse(mobilenetv2Spec, { ...spec, type: 'mobilenetv2' }, 'mobileNetV2()'), buildOptions(options, 'mobilenetv2'));
}
