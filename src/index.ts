export * as tf from './engine/tf.js';
