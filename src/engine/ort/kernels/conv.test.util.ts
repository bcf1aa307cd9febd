import { tf } from '../../index.js';
import { randomTensor } from '../../parity.test.util.js';

/** y, dx and dW of tf.conv2d under a random upstream gradient, from random x and filter (seeds `seed`, +1, +2). */
export function convAndGradients(
  xShape: number[],
  filterShape: number[],
  strides: [number, number],
  pad: 'same' | 'valid' | number | [[0, 0], [number, number], [number, number], [0, 0]],
  seed = 61,
): tf.Tensor[] {
  const x = randomTensor(xShape, seed) as tf.Tensor4D;
  const filter = randomTensor(filterShape, seed + 1) as tf.Tensor4D;
  const forward = (input: tf.Tensor, kernel: tf.Tensor) => tf.conv2d(input as tf.Tensor4D, kernel as tf.Tensor4D, strides, pad);
  const upstream = randomTensor(forward(x, filter).shape, seed + 2);
  const grads = tf.grads((input: tf.Tensor, kernel: tf.Tensor) => tf.sum(tf.mul(forward(input, kernel), upstream)))([x, filter]);
  return [forward(x, filter), ...grads];
}
