/**
 * `kdkit/browser`: distillation in a page, on the user's device and data. The bundle
 * dist/browser/kdkit.mjs (scripts/build-browser.mjs) holds this entry, TensorFlow.js (core,
 * layers; the webgpu, webgl, wasm and cpu backends) and nothing of Node's:
 *
 *   import { initBrowserEngine, distill, buildModel, exportOnnx } from './kdkit.mjs';
 *   await initBrowserEngine({ backend: 'webgl' });
 *   await distill({ teacher, student, train: { x, y }, epochs: 20 });
 *   const onnx = exportOnnx(student);          // Uint8Array, ready to download
 *
 * What reads or writes files (configs, runs, checkpoints, the soft-label store) stays in 'kdkit'.
 */
export * as tf from './engine/tf.js';
export { initBrowserEngine, type BrowserBackend, type BrowserEngineInfo, type BrowserEngineOptions } from './engine/browser.js';

export { distill, type DistillOptions, type DistillResult, type TermInput, type TrainingData } from './train/distill.js';
export { earlyStopping, type EarlyStoppingOptions } from './train/callbacks/early_stopping.js';
export { DivergenceError, type Callback, type CallbackState, type Metric, type StepValues } from './train/callbacks/callback.js';
export type { EpochRecord, TrainEvent } from './train/events.js';
export { losses, methods, type DistillationMethod } from './methods/index.js';

export { memoryDataset, imageDataset, type Dataset, type FieldArray, type InputField } from './data/dataset.js';
export { parseDigitsCsv, splitDigits, DIGITS_CLASS_NAMES } from './data/digits_csv.js';
export { splitValidation } from './data/split.js';
export { buildModel, type BuildOptions } from './models/build.js';
export { resnet, mobileNetV2, type ZooOptions } from './models/zoo/index.js';
export { registerTextLayers } from './models/text/layers.js';
export { predictLogits, predictLogitsAsync, accuracy } from './models/predict.js';
export { tfjsTeacher } from './teachers/tfjs.js';
export type { Teacher, TeacherInfo } from './teachers/teacher.js';

export {
  classificationMetrics,
  compareWithTeacher,
  type ClassificationMetrics,
  type ClassMetrics,
  type TeacherComparison,
} from './eval/metrics.js';
export { exportOnnx, exportOnnxAsync, type OnnxExportOptions } from './export/onnx.js';
export { InputError } from './errors.js';
