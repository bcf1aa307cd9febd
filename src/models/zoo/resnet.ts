/**
 * ResNet for small images, as the CIFAR ResNets of He et al. (2016), "Deep Residual Learning for
 * Image Recognition", arXiv:1512.03385, and RepDistiller's resnet8…resnet110 build them: a 3×3 stem
 * (no max pooling), stages of BasicBlocks (3×3, 3×3) or Bottlenecks (1×1, 3×3, 1×1 with 4× the
 * filters, torchvision's), stride 2 at the start of every stage after the first, a 1×1 conv + batch
 * norm shortcut where the shape changes, global average pooling, dense logits.
 *
 * Batch norm has PyTorch's defaults (ε = 1e-5, momentum 0.1, i.e. Keras momentum 0.9). Convs have
 * no bias (the batch norm after each supplies it) and He-normal initial weights, seeded.
 * A 3×3 stride-2 conv pads as TensorFlow's 'same' does (one row and column after, none before, on
 * even sizes); torchvision pads one on each side, so the two differ by a one-pixel shift there.
 *
 * Layer names, for feature taps: `stem`, `block_{k}` (the output of the k-th block, counted over the
 * whole net from 1), `stage_{s}` (the output of stage s), `pool` (the pooled features), `logits`.
 */
import * as tf from '../../engine/tf.js';
import type { z } from 'zod';
import type { resnetSpec } from '../../config/schema.js';
import { batchNorm, stageOutput, type ZooBuildOptions } from './zoo.js';

export type ResNetSpec = z.output<typeof resnetSpec>;

/** A Bottleneck block's output has this many times its filters (torchvision's `expansion`). */
export const BOTTLENECK_EXPANSION = 4;

/** Output channels of one block of `filters`. */
const blockOutput = (spec: ResNetSpec, filters: number) => (spec.bottleneck ? filters * BOTTLENECK_EXPANSION : filters);

/** Weights the spec builds (batch norm's four per channel included), from the shapes alone. */
export function resnetParameterCount(spec: ResNetSpec, inputShape: readonly [number, number, number], numClasses: number): number {
  const conv = (kernel: number, inChannels: number, outChannels: number) => kernel * kernel * inChannels * outChannels + 4 * outChannels;
  let channels = spec.stem ?? spec.filters[0];
  let params = conv(3, inputShape[2], channels);
  spec.blocks.forEach((count, stage) => {
    const filters = spec.filters[stage];
    const out = blockOutput(spec, filters);
    for (let block = 0; block < count; block++) {
      const stride = block === 0 && stage > 0 ? 2 : 1;
      params += spec.bottleneck
        ? conv(1, channels, filters) + conv(3, filters, filters) + conv(1, filters, out)
        : conv(3, channels, filters) + conv(3, filters, filters);
      if (stride !== 1 || channels !== out) params += conv(1, channels, out);
      channels = out;
    }
  });
  return params + channels * numClasses + numClasses;
}

export function buildResNet(spec: ResNetSpec, options: ZooBuildOptions): tf.LayersModel {
  let layerIndex = 0;
  const conv = (filters: number, kernelSize: number, strides: number, name: string) =>
    tf.layers.conv2d({
      filters,
      kernelSize,
      strides,
      padding: 'same',
      useBias: false,
      kernelInitializer: tf.initializers.heNormal({ seed: options.seed * 1000 + ++layerIndex }),
      name,
    });
  const relu = (name: string) => tf.layers.activation({ activation: 'relu', name });
  const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

  const input = tf.input({ shape: [...options.inputShape], name: 'image' });
  let channels = spec.stem ?? spec.filters[0];
  let x = apply(conv(channels, 3, 1, 'stem_conv'), input);
  x = apply(relu('stem'), apply(batchNorm('stem_bn'), x));
  let k = 0;
  spec.blocks.forEach((count, stage) => {
    const filters = spec.filters[stage];
    const out = blockOutput(spec, filters);
    for (let block = 0; block < count; block++) {
      const stride = block === 0 && stage > 0 ? 2 : 1;
      const name = `block_${++k}`;
      let y: tf.SymbolicTensor;
      if (spec.bottleneck) {
        // torchvision's Bottleneck (ResNet v1.5): the stride is on the 3×3 conv.
        y = apply(relu(`${name}_relu1`), apply(batchNorm(`${name}_bn1`), apply(conv(filters, 1, 1, `${name}_conv1`), x)));
        y = apply(relu(`${name}_relu2`), apply(batchNorm(`${name}_bn2`), apply(conv(filters, 3, stride, `${name}_conv2`), y)));
        y = apply(batchNorm(`${name}_bn3`), apply(conv(out, 1, 1, `${name}_conv3`), y));
      } else {
        y = apply(relu(`${name}_relu1`), apply(batchNorm(`${name}_bn1`), apply(conv(filters, 3, stride, `${name}_conv1`), x)));
        y = apply(batchNorm(`${name}_bn2`), apply(conv(filters, 3, 1, `${name}_conv2`), y));
      }
      const shortcut =
        stride !== 1 || channels !== out
          ? apply(batchNorm(`${name}_shortcut_bn`), apply(conv(out, 1, stride, `${name}_shortcut_conv`), x))
          : x;
      x = apply(relu(name), apply(tf.layers.add({ name: `${name}_add` }), [y, shortcut]));
      channels = out;
    }
    x = stageOutput(x, stage + 1);
  });
  x = apply(tf.layers.globalAveragePooling2d({ name: 'pool' }), x);
  const logits = tf.layers
    .dense({
      units: options.numClasses,
      kernelInitializer: tf.initializers.glorotUniform({ seed: options.seed * 1000 + ++layerIndex }),
      name: 'logits',
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: logits, name: options.name });
}
