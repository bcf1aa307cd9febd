/** A model in TensorFlow.js's layers format, in memory: ./io.ts writes and reads it on disk (Node). */
import * as tf from '../engine/tf.js';

/** The weights file beside model.json. */
export const WEIGHTS_FILE = 'weights.bin';

/** The model's topology and weights as TensorFlow.js's save handlers receive them. */
export async function modelArtifacts(
  model: tf.LayersModel,
): Promise<tf.io.ModelArtifacts & { weightSpecs: tf.io.WeightsManifestEntry[]; weightData: tf.io.WeightData }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (saved) => {
      artifacts = saved;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs) throw new Error(`model '${model.name}' produced no weights when saved`);
  return artifacts as tf.io.ModelArtifacts & { weightSpecs: tf.io.WeightsManifestEntry[]; weightData: tf.io.WeightData };
}

/** model.json of the layers format, its weights in one file next to it. */
export function layersModelJson(artifacts: tf.io.ModelArtifacts, weightSpecs: tf.io.WeightsManifestEntry[]): string {
  return JSON.stringify({
    format: 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: null,
    modelTopology: artifacts.modelTopology,
    weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: weightSpecs }],
  });
}

/** Serializes a model to the two files of the layers format, in memory. */
export async function serializeModel(model: tf.LayersModel): Promise<{ modelJson: string; weights: Uint8Array }> {
  const artifacts = await modelArtifacts(model);
  return {
    modelJson: layersModelJson(artifacts, artifacts.weightSpecs),
    weights: new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData)),
  };
}
