/**
 * kdkit's public API. `tf` is the TensorFlow.js namespace kdkit itself uses: build models and
 * tensors with it so that they live in the same engine as kdkit's.
 */
export * as tf from './engine/tf.js';
export { initEngine, type BackendName, type EngineInfo, type EngineOptions } from './engine/index.js';

// Distillation: one call, callbacks, and the loss terms it takes.
export { distill, type DistillOptions, type DistillResult, type TermInput, type TrainingData } from './train/distill.js';
export { earlyStopping, type EarlyStoppingOptions } from './train/callbacks/early_stopping.js';
export { bestCheckpoint, type BestCheckpointOptions, type BestModel } from './train/callbacks/best_checkpoint.js';
export {
  DivergenceError,
  type Callback,
  type CallbackState,
  type Metric,
  type StepValues,
  type TrainingLoop,
} from './train/callbacks/callback.js';
export type { EpochRecord, TrainEvent } from './train/events.js';
export { losses, methods, type DistillationMethod, type TermContext, type TermInputs, type TermLoss } from './methods/index.js';

// Data, models and teachers. A sample is a record of named fields: images are one float32 field 'image'.
export {
  loadDataset,
  loadDigits,
  loadFashionMnist,
  memoryDataset,
  imageDataset,
  type Dataset,
  type DatasetSplits,
  type DatasetSpec,
  type FieldArray,
  type InputDType,
  type InputField,
  type SampleBatch,
  type SampleSource,
} from './data/index.js';
export { buildModel, type BuildOptions } from './models/build.js';
export { resnet, mobileNetV2, type ZooOptions } from './models/zoo/index.js';
export { loadModelDir, saveModelDir } from './models/io.js';
export { registerTextLayers } from './models/text/layers.js';
export { predictLogits, accuracy } from './models/predict.js';
export { openOnnxTeacher, type OnnxTeacherOptions } from './teachers/onnx.js';
export { connectRemoteTeacher, type RemoteTeacherOptions } from './teachers/remote.js';
export { tfjsTeacher } from './teachers/tfjs.js';
export type { Teacher, TeacherInfo } from './teachers/teacher.js';
export { softLabelsFromStore, type StoreOptions } from './teachers/store.js';

// Evaluation, the deployment gate and export.
export { evaluateModel, type ModelEvaluation } from './eval/evaluate.js';
export {
  classificationMetrics,
  compareWithTeacher,
  type ClassificationMetrics,
  type ClassMetrics,
  type TeacherComparison,
} from './eval/metrics.js';
export { measureLatency, type LatencyStats } from './eval/latency.js';
export { evaluateGate, type GateCheck, type GateResult } from './eval/gate.js';
export { exportOnnx, type OnnxExportOptions } from './export/onnx.js';
export { saveQuantizedModelDir, type Quantization } from './models/quantize.js';

// A whole run from a config, as `kdkit run` does it.
export { parseConfig } from './config/parse.js';
export { loadConfigFile } from './config/load.js';
export type {
  DeployConfig,
  ExperimentConfig,
  ExperimentInput,
  ExportConfig,
  ModelSpec,
  OptimizerSpec,
  TermConfig,
} from './config/schema.js';
export { demoConfig } from './config/demo.js';
export { runExperiment, type RunEvent, type RunOptions } from './run/pipeline.js';
export { writeRunReports } from './report/write.js';
export type { Summary, StageSummary } from './report/summary.js';

export { InputError, GateError } from './errors.js';
