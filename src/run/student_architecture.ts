/**
 * The config's student as an architecture each stage builds afresh: its spec, or its model file
 * loaded and checked before anything trains (it fits the data, outputs logits, and, when the run
 * writes student.onnx, every layer exports to ONNX).
 */
import type { DatasetSplits } from '../data/index.js';
import type { ExperimentConfig } from '../config/schema.js';
import { InputError } from '../errors.js';
import { exportOnnx } from '../export/onnx.js';
import { buildStudent, loadStudent, type StudentArchitecture } from '../models/student.js';

export async function studentArchitecture(config: ExperimentConfig, data: DatasetSplits, source: string): Promise<StudentArchitecture> {
  const student = config.student;
  if ('model' in student) return student.model;
  const { numClasses, inputs } = data.train;
  const loaded = await loadStudent(student, {
    inputs,
    numClasses,
    datasetName: config.dataset.name,
    field: `${source}: student.load`,
  });
  if (!config.export.onnx) return loaded;
  const check = buildStudent(loaded, { inputs, numClasses, seed: config.seed, name: 'check' });
  try {
    exportOnnx(check, { layout: config.export.onnxLayout, source: loaded.field });
  } catch (error) {
    if (error instanceof InputError)
      throw new InputError(
        `${error.message}; the run would train it and then fail to write student.onnx (set export.onnx: false to skip the ONNX export)`,
      );
    throw error;
  } finally {
    check.dispose();
  }
  return loaded;
}
