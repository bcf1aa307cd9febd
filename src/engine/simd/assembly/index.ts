// kdkit's WebAssembly SIMD kernels; ../module.ts loads them onto the wasm backend's heap.
export { maxPoolGrad, maxPoolGrad2x2 } from './pool';
export { adam, momentum, sgd } from './optimizers';
export { batchNormGradientApply, batchNormGradientSums, batchNormMoments, batchNormNormalize } from './batch_norm';
export { maskedGrad } from './masked_grad';
export { depthwiseFilterGrad, depthwiseInputGrad } from './depthwise';
export { layerNorm, layerNormGrad } from './layer_norm';
export { dropout } from './dropout';
