/**
 * kdkit's public API. `tf` is the TensorFlow.js namespace kdkit itself uses: build tensors with
 * it so that they live in the same engine as kdkit's models.
 */
export * as tf from './engine/tf.js';
export { initEngine, type BackendName, type EngineInfo, type EngineOptions } from './engine/index.js';

export { losses, methods, type DistillationMethod, type TermInputs, type TermLoss } from './methods/index.js';
export { kdLoss, kdDefaults, type KdOptions } from './methods/kd.js';
export { crossEntropyLoss } from './methods/ce.js';

export {
  loadDataset, loadDigits, loadFashionMnist, loadMnistFamily, splitValidation, subset, allPixels, allSamples, memoryDataset, imageDataset, imageShape, readRange, forEachBatch,
  type Dataset, type DatasetSplits, type DatasetSpec, type FieldArray, type InputDType, type InputField, type SampleBatch, type SampleSource,
} from './data/index.js';
export { modelInputs, pairInputs } from './models/inputs.js';

export { buildModel, multiplyAccumulates, type BuildOptions } from './models/build.js';
export { loadModelDir, saveModelDir, serializedSizeBytes } from './models/io.js';

export { parseConfig, loadConfigFile } from './config/parse.js';
export type { DeployConfig, ExperimentConfig, ExperimentInput, ExportConfig, ModelSpec, OptimizerSpec, TermConfig } from './config/schema.js';
export { demoConfig } from './config/demo.js';

export { trainStage, type StageOptions, type StageResult, type EpochRecord, type TrainEvent, type WeightedTerm } from './train/trainer.js';
export { runExperiment, type RunEvent, type RunOptions } from './run/pipeline.js';
export { predictLogits, accuracy } from './models/predict.js';
export { evaluateModel, type ModelEvaluation } from './eval/evaluate.js';
export { classificationMetrics, compareWithTeacher, type ClassificationMetrics, type ClassMetrics, type TeacherComparison } from './eval/metrics.js';
export { measureLatency, measureLatencyMs, type LatencyStats } from './eval/latency.js';
export { evaluateGate, type GateCheck, type GateResult } from './eval/gate.js';
export { exportOnnx, type OnnxExportOptions } from './export/onnx.js';
export { serializeQuantized, saveQuantizedModelDir } from './models/quantize.js';
export type { ExportRecord, Quantization } from './eval/export_record.js';
export { softLabelsFromStore, listEntries, verifyEntry, removeEntry, type StoreOptions, type SoftLabelEntry, type StoreManifest } from './teachers/store.js';
export { openTeacher, type OpenedTeacher, type Teacher, type TeacherInfo } from './teachers/index.js';
export { openOnnxTeacher, type OnnxTeacherOptions } from './teachers/onnx.js';
export { connectRemoteTeacher, type RemoteTeacherOptions } from './teachers/remote.js';
export { tfjsTeacher } from './teachers/tfjs.js';
export { writeRunReports } from './report/write.js';
export type { Summary, StageSummary } from './report/summary.js';

export { InputError, GateError } from './errors.js';
