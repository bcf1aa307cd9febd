// The single TensorFlow.js namespace kdkit uses; users import it as `tf` from 'kdkit'
// so that their tensors and ours share one engine.
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
