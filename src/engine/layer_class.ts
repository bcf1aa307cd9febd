/**
 * The prototype of a tfjs-layers layer class, found by its registered name, for the engine's
 * hooks (batch_norm_layer.ts, conv_layer.ts) to wrap its `call`.
 */
import { serialization } from '@tensorflow/tfjs-core';

export function registeredLayerPrototype<Layer>(className: string): Layer {
  const entry = serialization.SerializationMap.getMap().classNameMap[className];
  if (entry === undefined) throw new Error(`kdkit engine: tfjs-layers has registered no ${className} class.`);
  return (entry[0] as unknown as { prototype: Layer }).prototype;
}
