/**
 * MobileNetV2: Sandler et al. (2018), "MobileNetV2: Inverted Residuals and Linear Bottlenecks",
 * arXiv:1801.04381, with the blocks as Keras' `applications.MobileNetV2` builds them:
 *
 *   stem      3×3 conv (stem · α channels, stride stemStride), batch norm, ReLU6
 *   block     1×1 expand to t · in channels, batch norm, ReLU6      (left out when t = 1)
 *             3×3 depthwise (stride s on a stage's first block), batch norm, ReLU6
 *             1×1 linear projection to c · α channels, batch norm    (no activation)
 *             + the block's input when the stride is 1 and the channels match
 *   head      1×1 conv to lastFilters, batch norm, ReLU6, global average pooling, [dropout], dense logits
 *
 * Every channel count is rounded to a multiple of 8 (`makeDivisible`). Keras pads a stride-2
 * depthwise conv with `correct_pad` and 'valid', which is what 'same' does. Batch norm has
 * PyTorch's defaults (see zoo.ts); convs have no bias and He-normal initial weights, seeded.
 *
 * Layer names, for feature taps: `stem`, `block_{k}` (the output of the k-th inverted residual
 * block, counted from 1), `stage_{s}` (the output of stage s), `head` (after the last 1×1 conv),
 * `pool`, `logits`.
 */
import * as tf from '../../engine/tf.js';
import type { z } from 'zod';
import type { mobilenetv2Spec } from '../../config/schema.js';
import { batchNorm, makeDivisible, stageOutput, type ZooBuildOptions } from './zoo.js';

export type MobileNetV2Spec = z.output<typeof mobilenetv2Spec>;

interface Block {
  inChannels: number;
  hidden: number;
  outChannels: number;
  stride: number;
  expand: boolean;
  residual: boolean;
  stage: number;
  last: boolean;
}

/** The blocks the spec builds, in order, with their channel counts. */
function plan(spec: MobileNetV2Spec): { stem: number; blocks: Block[]; last: number } {
  const alpha = spec.widthMultiplier;
  const stem = makeDivisible(spec.stem * alpha);
  const blocks: Block[] = [];
  let channels = stem;
  spec.stages.forEach(([expansion, filters, count, stride], stage) => {
    const outChannels = makeDivisible(Math.trunc(filters * alpha));
    for (let i = 0; i < count; i++) {
      const blockStride = i === 0 ? stride : 1;
      blocks.push({
        inChannels: channels,
        hidden: channels * expansion,
        outChannels,
        stride: blockStride,
        expand: expansion !== 1,
        residual: blockStride === 1 && channels === outChannels,
        stage: stage + 1,
        last: i === count - 1,
      });
      channels = outChannels;
    }
  });
  const last = alpha > 1 ? makeDivisible(spec.lastFilters * alpha) : spec.lastFilters;
  return { stem, blocks, last };
}

/** Weights the spec builds (batch norm's four per channel included), from the shapes alone. */
export function mobileNetV2ParameterCount(
  spec: MobileNetV2Spec,
  inputShape: readonly [number, number, number],
  numClasses: number,
): number {
  const { stem, blocks, last } = plan(spec);
  const conv = (kernel: number, inChannels: number, outChannels: number) => kernel * kernel * inChannels * outChannels + 4 * outChannels;
  let params = conv(3, inputShape[2], stem);
  for (const block of blocks) {
    if (block.expand) params += conv(1, block.inChannels, block.hidden);
    params += 9 * block.hidden + 4 * block.hidden;
    params += conv(1, block.hidden, block.outChannels);
  }
  const lastIn = blocks.at(-1)?.outChannels ?? stem;
  return params + conv(1, lastIn, last) + last * numClasses + numClasses;
}

export function buildMobileNetV2(spec: MobileNetV2Spec, options: ZooBuildOptions): tf.LayersModel {
  const { stem, blocks, last } = plan(spec);
  let layerIndex = 0;
  const seed = () => options.seed * 1000 + ++layerIndex;
  const conv = (filters: number, kernelSize: number, strides: number, name: string) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: seed() }),
      name,
    });
  const relu6 = (name: string) => tf.layers.activation({ activation: 'relu6', name });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [...options.inputShape], name: 'image' });
  let x = apply(conv(stem, 3, spec.stemStride, 'stem_conv'), input);
  x = apply(relu6('stem'), apply(batchNorm('stem_bn'), x));
  blocks.forEach((block, index) => {
    const name = `block_${index + 1}`;
    let y = x;
    if (block.expand) {
      y = apply(relu6(`${name}_expand_relu6`), apply(batchNorm(`${name}_expand_bn`), apply(conv(block.hidden, 1, 1, `${name}_expand`), y)));
    }
    const depthwise = tf.layers.depthwiseConv2d({
      kernelSize: 3,
      strides: block.stride,
      padding: 'same',
      useBias: false,
      depthwiseInitializer: tf.initializers.heNormal({ seed: seed() }),
      name: `${name}_depthwise`,
    });
    y = apply(relu6(`${name}_depthwise_relu6`), apply(batchNorm(`${name}_depthwise_bn`), apply(depthwise, y)));
    const projection = conv(block.outChannels, 1, 1, `${name}_project`);
    y = apply(batchNorm(block.residual ? `${name}_project_bn` : name), apply(projection, y));
    x = block.residual ? apply(tf.layers.add({ name }), [x, y]) : y;
    if (block.last) x = stageOutput(x, block.stage);
  });
  x = apply(relu6('head'), apply(batchNorm('head_bn'), apply(conv(last, 1, 1, 'head_conv'), x)));
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  if (spec.dropout > 0) x = apply(tf.layers.dropout({ rate: spec.dropout, name: 'dropout' }), x);
  const logits = tf.layers
    .dense({ units: options.numClasses, kernelInitializer: tf.initializers.glorotUniform({ seed: seed() }), name: 'logits' })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: options.name });
}
