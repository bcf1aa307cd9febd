/**
 * `kdkit/layers`: the custom layers of kdkit's text models (models/text/layers.ts), for loading an
 * exported `student/model.json` with stock TensorFlow.js, in a page or in Node:
 *
 *   import * as tf from '@tensorflow/tfjs';            // or tfjs-core + tfjs-layers + a backend
 *   import { registerTextLayers } from 'kdkit/layers';
 *   registerTextLayers();
 *   const model = await tf.loadLayersModel('student/model.json');
 *
 * It imports TensorFlow.js (@tensorflow/tfjs-core and @tensorflow/tfjs-layers) and nothing of
 * Node's, so a bundler resolves it for the browser; the layers register in the TensorFlow.js
 * instance it resolves to, which must be the page's (one copy of tfjs-core and tfjs-layers).
 */
export {
  AttentionContext,
  AttentionScores,
  FirstToken,
  MASKED_SCORE,
  MaskedMean,
  PositionEmbedding,
  registerTextLayers,
  SplitHeads,
} from './models/text/layers.js';
