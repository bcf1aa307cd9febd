/**
 * One experiment, steps 1–7 of DESIGN.md, for a teacher and one distilled student:
 * teacher → soft labels → scratch baseline → distilled student → evaluation → export → summary.
 * Data flows one way; each step's output is the next one's input.
 */
import { join, relative } from 'node:path';
import { writeFileAtomic } from '../util/atomic.js';
import type * as tf from '../engine/tf.js';
import { withEngine, type EngineInfo } from '../engine/index.js';
import { closeDataset, describeStorage, isImageField, loadDataset, type DatasetSplits, type LoadedSplits } from '../data/index.js';
import { checkTrainingBatchSizes } from '../data/batch_limits.js';
import { batchAugmenter } from '../data/augment.js';
import type { ExperimentConfig, ModelSpec, TermConfig } from '../config/schema.js';
import { buildStudent, describeStudent, studentRecord, type StudentArchitecture } from '../models/student.js';
import { saveModelDir } from '../models/io.js';
import { softLabelsFromStore, storeOptions, type StoreOptions } from '../teachers/store.js';
import { datasetFingerprint } from '../teachers/cache.js';
import { featureCache } from './feature_cache.js';
import { tfjsTeacher } from '../teachers/tfjs.js';
import type { Teacher } from '../teachers/teacher.js';
import { evaluateModel, evaluateTeacher, type ModelEvaluation } from '../eval/evaluate.js';
import { gateForRun } from '../eval/gate.js';
import { exportStudent } from '../export/student.js';
import { teacherOnnxLatency } from '../export/teacher_latency.js';
import type { EpochRecord, TrainEvent } from '../train/events.js';
import { stageRunner, type StageRun, type StageRunner } from './stage_runner.js';
import type { StageInputs } from './stage_record.js';
import { termInput } from '../config/print.js';
import { onlineSoftLabels } from '../config/parse.js';
import { prepareTerms, type TapSource, type TeacherSource } from '../train/terms.js';
import { obtainTeacher } from './teacher_stage.js';
import { evaluateLlmTeacher, llmLabels, type LabellingEvent, type LlmUsage } from './llm_stage.js';
import { LlmTeacher } from '../teachers/llm.js';
import { withTeacherLabels } from './transfer_labels.js';
import { studentArchitecture } from './student_architecture.js';
import { runSummary, type Summary, type StageSummary } from '../report/summary.js';

/** Recorded in every summary.json. */
const KDKIT_VERSION = '0.1.0';

export type RunEvent = TrainEvent | LabellingEvent | { type: 'info'; message: string };

export interface RunOptions {
  outDir: string;
  /** Names the config in error messages, e.g. its file path. */
  source?: string;
  onEvent?: (event: RunEvent) => void;
  /** Continue every stage from its last checkpoint in <outDir>/checkpoints (kdkit run --resume). */
  resume?: boolean;
  /** With resume: a stage whose config changed since its checkpoints is trained again rather than refused (--retrain-changed). */
  retrainChanged?: boolean;
}

/** What a trained model is to the run: it decides how it is evaluated, saved and reported. */
type Role = 'baseline' | 'assistant' | 'student';

interface TrainedModel {
  name: string;
  role: Role;
  model: tf.LayersModel;
  trainSeconds: number;
  stage: StageSummary | null;
}

export async function runExperiment(config: ExperimentConfig, options: RunOptions): Promise<Summary> {
  // The engine is the process's: held for the run, so that a concurrent run shares it but cannot switch it.
  return withEngine({ backend: config.backend }, async (engine) => {
    // Everything that can be wrong with the input is found before any training starts.
    const data = loadDataset(config.dataset, config.seed, { store: config.softLabels.store ?? join(options.outDir, 'cache') });
    try {
      return await runOnData(config, options, data, engine);
    } finally {
      closeDataset(data);
    }
  });
}

async function runOnData(config: ExperimentConfig, options: RunOptions, loaded: LoadedSplits, engine: EngineInfo): Promise<Summary> {
  let data = loaded;
  const emit = options.onEvent ?? (() => {});
  const info = (message: string) => emit({ type: 'info', message });
  const source = options.source ?? 'config';
  const { student, links } = await planRun(config, data, source);
  info(`writing to ${options.outDir}`);
  info(`engine: ${describeEngine(engine)}`);
  info(
    `dataset: ${config.dataset.name}, ${data.train.labels.length} train / ${data.validation.labels.length} validation / ${data.test.labels.length} test, ${data.train.numClasses} classes, ${describeSamples(data)}`,
  );
  const { resume = false, retrainChanged = false } = options;
  const runStage = recordedStages(config, stageRunner(config, { outDir: options.outDir, resume, retrainChanged }));

  // 1. Teacher.
  const storeRoot = config.softLabels.store ?? join(options.outDir, 'cache');
  const teacher = await obtainTeacher(config, data, emit, source, runStage, storeRoot);
  const llmUsage: { train?: LlmUsage; validation?: LlmUsage; test?: LlmUsage } = {};
  const trained: TrainedModel[] = [];
  try {
    if (!('model' in config.teacher)) checkTerms(links, data, teacher.teacher, source);

    // 2. Soft labels: the teacher's logits over the transfer set, in inference mode; or, online,
    // over every batch the student sees, inside the step.
    const online = onlineSoftLabels(config);
    const store = storeOptions(config, storeRoot);
    const labelsStarted = performance.now();
    let labels: { logits: Float32Array; directory: string; cached: boolean } | null = null;
    if (teacher.teacher instanceof LlmTeacher) {
      const llm = await llmLabels(teacher.teacher, data.train, 'train', emit);
      data = { ...data, train: llm.dataset };
      labels = { ...llm, directory: teacher.teacher.store.directory };
      llmUsage.train = llm.usage;
      info(`teacher.llm: ${describeUsage(llm.usage)}`);
    } else if (!online) labels = await labelsOf(teacher.teacher, store, data, info);
    if ('trainLabels' in config.dataset && !config.dataset.trainLabels && labels) {
      const relabelled = await withTeacherLabels(teacher.teacher, data, labels.logits, emit);
      data = relabelled.data;
      if (relabelled.validationUsage) {
        llmUsage.validation = relabelled.validationUsage;
        info(`teacher.llm on the validation set: ${describeUsage(relabelled.validationUsage)}`);
      }
    }
    const labelSeconds = (performance.now() - labelsStarted) / 1000;
    if (labels) info(`soft labels: ${labels.cached ? 'cached' : 'computed'} in ${labelSeconds.toFixed(2)} s (${labels.directory})`);
    else
      info(
        `soft labels: online, the teacher labels each augmented batch as the student trains on it${config.softLabels.store === undefined ? '' : `; its outputs are kept by content in ${config.softLabels.store}`}`,
      );

    // 3. Scratch baseline and 4. distilled student: same architecture, same initial weights,
    // same shuffling and budget; only the loss differs. Assistants, if any, come between the
    // teacher and the student, each taught by the model before it.
    const chainInputs = { data, store, emit, runStage, online };
    if (config.baseline) trained.push(await trainStudent(baselineLink(config, student), null, chainInputs));
    const first = {
      teacher: teacher.teacher,
      model: teacher.model,
      ...featureCache(labels?.directory),
      logits: labels?.logits ?? null,
      source,
      field: '',
    };
    await trainChain(links, first, chainInputs, trained);

    // 5. Evaluation on the test set, touched only here.
    info('evaluating on the test set');
    const { evaluated, studentLogits, teacherUsage } = await evaluateAll(teacher, trained, data.test, {
      seed: config.seed,
      samples: 'llm' in config.teacher ? config.teacher.llm.evaluateTeacher?.samples : undefined,
      emit,
    });
    if (teacherUsage) {
      llmUsage.test = teacherUsage;
      info(`teacher.llm on the test set: ${describeUsage(teacherUsage)}`);
    }
    const studentModel = trained.find((model) => model.role === 'student')!;
    const assistants = trained.filter((model) => model.role === 'assistant');

    // 6. Export: the student in every deployable form, each checked on the test set.
    const exports = await exportStudent(studentModel.model, {
      outDir: options.outDir,
      test: data.test,
      testLogits: studentLogits,
      exportConfig: config.export,
      deploy: config.deploy,
      latencyBatch: evaluated[studentModel.name].latencyBatch,
      info,
      ...(data.tokenizer &&
        data.testTexts && { text: { tokenizer: data.tokenizer, texts: data.testTexts, maxLength: data.test.inputs[0].shape[0] } }),
    });
    // The teacher timed on the student's ONNX runtime too, when it is a TensorFlow.js model.
    const teacherOnOnnx = teacher.model && config.export.onnx ? await teacherOnnxLatency(teacher.model, { test: data.test, info }) : null;
    if (teacher.model) await saveModelDir(teacher.model, join(options.outDir, 'teacher'));
    for (const { name, model } of assistants) await saveModelDir(model, join(options.outDir, name));
    info(`student exported: ${join(options.outDir, 'student', 'model.json')}`);
    // A text student is used with the tokenizer its inputs came from.
    if (data.tokenizer) {
      writeFileAtomic(join(options.outDir, TOKENIZER_FILE), `${JSON.stringify(data.tokenizer.json)}\n`);
      info(`tokenizer: ${join(options.outDir, TOKENIZER_FILE)} (${data.tokenizer.description})`);
    }

    // 7. Gate.
    const gate = gateForRun(config.deploy, evaluated, exports);
    const softLabels = labels
      ? { mode: 'cached' as const, directory: relative(options.outDir, labels.directory), cached: labels.cached, seconds: labelSeconds }
      : { mode: 'online' as const };
    return runSummary(
      {
        seed: config.seed,
        backend: config.backend,
        engine,
        dataset: datasetRecord(config, data),
        teacher: {
          kind: teacher.teacher.info.kind,
          description: teacher.teacher.info.description,
          fingerprint: teacher.teacher.info.fingerprint,
          ...(llmUsage.train && { llm: { ...llmUsage, train: llmUsage.train } }),
        },
        models: evaluated,
        stages: [teacher.stage, ...trained.map((model) => model.stage)].filter((stage): stage is StageSummary => stage !== null),
        softLabels,
        gate,
        exports,
        teacherOnnxLatency: teacherOnOnnx,
        config,
        savedModels: [...(teacher.model ? ['teacher'] : []), ...assistants.map(({ name }) => name)],
        ...(data.tokenizer && { tokenizer: TOKENIZER_FILE }),
      },
      KDKIT_VERSION,
    );
  } finally {
    // Every model this run made is freed, whether it finished or failed.
    for (const model of trained) model.model.dispose();
    teacher.model?.dispose();
    await teacher.teacher.dispose();
  }
}

/**
 * Everything about the config that can be checked before the teacher: every model spec builds,
 * the student's architecture resolves, batch sizes fit the data, and (with a teacher built from a
 * spec) every feature term's taps and shapes resolve.
 */
async function planRun(
  config: ExperimentConfig,
  data: DatasetSplits,
  source: string,
): Promise<{ student: StudentArchitecture; links: Link[] }> {
  for (const [spec, field] of modelSpecs(config)) build(spec, data, config.seed, 'check', `${source}: ${field}`).dispose();
  const student = await studentArchitecture(config, data, source);
  checkTrainingBatchSizes(config, data.train, source);
  batchAugmenter(config.dataset.augment, data.train.inputs, config.seed, `${source}: dataset.augment`);
  const links = chain(config, student);
  if ('model' in config.teacher) {
    const check = build(config.teacher.model, data, config.seed, 'check', `${source}: teacher.model`);
    try {
      checkTerms(links, data, check, source);
    } finally {
      check.dispose();
    }
  }
  return { student, links };
}

interface ChainInputs {
  data: DatasetSplits;
  store: StoreOptions;
  emit: (event: RunEvent) => void;
  runStage: StageRunner;
  /** softLabels: online: every teacher in the chain labels each batch inside the step. */
  online: boolean;
}

/** A teacher of the chain with its logits over the transfer set (null online). */
type Teaching = TeacherSource & { logits: Float32Array | null };

/**
 * Trains each link in turn, taught by the one before it (the first by the teacher), into `trained`
 * as each finishes, so that the caller frees what a failure leaves.
 */
async function trainChain(links: Link[], first: Teaching, inputs: ChainInputs, trained: TrainedModel[]): Promise<void> {
  const info = (message: string) => inputs.emit({ type: 'info', message });
  let current = first;
  for (const link of links) {
    const model = await trainStudent(link, current, inputs);
    trained.push(model);
    if (link.role === 'student') return;
    const assistant = await tfjsTeacher(model.model, `${link.name} trained in this run`, inputs.data.train.inputs);
    const labels = inputs.online ? null : await labelsOf(assistant, inputs.store, inputs.data, info);
    if (labels) info(`soft labels of ${link.name}: ${labels.cached ? 'cached' : 'computed'} (${labels.directory})`);
    current = {
      teacher: assistant,
      model: model.model,
      ...featureCache(labels?.directory),
      logits: labels?.logits ?? null,
      source: first.source,
      field: '',
    };
  }
  throw new Error('the chain has no student');
}

/**
 * The teacher and every trained model on the test set; the student's test logits feed the export
 * checks. An LLM teacher answers the test texts (or `samples` of them); agreement with it is
 * measured on the texts it answered.
 */
async function evaluateAll(
  teacher: Awaited<ReturnType<typeof obtainTeacher>>,
  trained: TrainedModel[],
  test: DatasetSplits['test'],
  options: { seed: number; samples: number | undefined; emit: (event: RunEvent) => void },
): Promise<{ evaluated: Record<string, ModelEvaluation>; studentLogits: Float32Array; teacherUsage?: LlmUsage }> {
  const evaluated: Record<string, ModelEvaluation> = {};
  const llm = teacher.teacher instanceof LlmTeacher ? await evaluateLlmTeacher(teacher.teacher, test, options) : null;
  const teacherEval = llm ?? (await evaluateTeacher(teacher, test));
  evaluated.teacher = teacherEval.evaluation;
  let studentLogits = teacherEval.testLogits;
  // The report lists assistants, then the baseline, then the student.
  const order: Role[] = ['assistant', 'baseline', 'student'];
  for (const model of [...trained].sort((a, b) => order.indexOf(a.role) - order.indexOf(b.role))) {
    const result = await evaluateModel(model.model, test, {
      trainSeconds: model.trainSeconds,
      teacherLogits: teacherEval.testLogits,
      ...(llm && { teacherRows: llm.rows }),
    });
    evaluated[model.name] = result.evaluation;
    if (model.role === 'student') studentLogits = result.testLogits;
  }
  return { evaluated, studentLogits, ...(llm && { teacherUsage: llm.usage }) };
}

/** "9,003 texts (9,003 from the store), 9,003 requests, 1,234,567 tokens (…prompt + … completion), 2 unanswered". */
function describeUsage(usage: LlmUsage): string {
  const count = (n: number) => n.toLocaleString('en-US');
  const tokens = usage.promptTokens + usage.completionTokens;
  return [
    `${count(usage.texts)} texts (${count(usage.fromStore)} from the store)`,
    `${count(usage.requests)} requests`,
    `${count(tokens)} tokens (${count(usage.promptTokens)} prompt + ${count(usage.completionTokens)} completion)`,
    ...(usage.unanswered > 0 ? [`${count(usage.unanswered)} unanswered`] : []),
    ...(usage.unparseable > 0 ? [`${count(usage.unparseable)} unparseable answers`] : []),
  ].join(', ');
}

/** "pixels in memory", or a text dataset's fields: "input_ids, attention_mask [64] (2,781 tokens, WordPiece learned …), in memory". */
function describeSamples(data: LoadedSplits): string {
  if (!data.tokenizer) return `pixels ${describeStorage(data)}`;
  const { inputs } = data.train;
  return `${inputs.map((input) => input.name).join(', ')} [${inputs[0].shape.join(', ')}] (${data.tokenizer.vocabSize.toLocaleString('en-US')} tokens, ${data.tokenizer.description}${data.tokensCached ? '; tokenized earlier, read from the store' : ''}), ${describeStorage(data)}`;
}

/** A text student's tokenizer, beside student/ in the run directory. */
const TOKENIZER_FILE = 'tokenizer.json';

function datasetRecord(config: ExperimentConfig, data: DatasetSplits) {
  return {
    name: config.dataset.name,
    train: data.train.labels.length,
    validation: data.validation.labels.length,
    test: data.test.labels.length,
    classes: data.train.numClasses,
    classNames: [...data.train.classNames],
    inputs: data.train.inputs.map(({ name, dtype, shape }) => ({ name, dtype, shape: [...shape] })),
    ...(isImageField(data.train.inputs[0]) && data.train.inputs.length === 1 && { sampleShape: [...data.train.inputs[0].shape] }),
  };
}

function modelSpecs(config: ExperimentConfig): [ModelSpec, string][] {
  const specs: [ModelSpec, string][] = 'model' in config.student ? [[config.student.model, 'student.model']] : [];
  if ('model' in config.teacher) specs.push([config.teacher.model, 'teacher.model']);
  config.stages.forEach((stage, index) => {
    if (stage.model !== 'teacher') specs.push([stage.model, `stages[${index}].model`]);
  });
  return specs;
}

/** One link of the chain from the teacher to the student: what it trains, how, with which terms. */
interface Link {
  name: string;
  role: Role;
  spec: StudentArchitecture;
  training: StageRun['training'];
  terms: TermConfig[];
  seed: number;
  /** The config fields that shape it, as its stage record keeps them (train/stage_record.ts). */
  inputs: StageInputs;
  /** The config field of its terms, for error messages. */
  termsField: string;
}

/** The scratch baseline: the student's architecture, initial weights and budget, on the labels alone. */
function baselineLink(config: ExperimentConfig, student: StudentArchitecture): Link {
  return {
    name: 'scratch',
    role: 'baseline',
    spec: student,
    training: config.distill,
    terms: [{ method: 'ce', weight: 1, options: {} }],
    seed: config.seed + 1,
    inputs: { student: studentRecord(student), distill: trainingInputs(config.distill) },
    termsField: 'distill.terms',
  };
}

/** assistant-1 … assistant-k (config.stages), then the student. */
function chain(config: ExperimentConfig, student: StudentArchitecture): Link[] {
  const teacherSpec = 'model' in config.teacher ? config.teacher.model : undefined;
  const links = config.stages.map(
    (stage, index): Link => ({
      name: `assistant-${index + 1}`,
      role: 'assistant',
      spec: stage.model === 'teacher' ? teacherSpec! : stage.model,
      training: stage,
      terms: stage.terms,
      seed: config.seed + 100 + index,
      inputs: { [`stages[${index}]`]: { model: stage.model, ...trainingInputs(stage), terms: stage.terms.map(termInput) } },
      termsField: `stages[${index}].terms`,
    }),
  );
  links.push({
    name: 'student',
    role: 'student',
    spec: student,
    training: config.distill,
    terms: config.distill.terms,
    seed: config.seed + 1,
    inputs: { student: studentRecord(student), distill: { ...trainingInputs(config.distill), terms: config.distill.terms.map(termInput) } },
    termsField: 'distill.terms',
  });
  return links;
}

/**
 * The stage runner with what shapes every stage added to each stage's own inputs: the seed, the
 * backend (float32 sums come out in another order on another one), the divergence guard, and the
 * identity of the training and validation samples the stage gets (an LLM teacher's unanswered
 * texts are left out, an unlabelled transfer set takes the teacher's labels).
 */
function recordedStages(config: ExperimentConfig, runStage: StageRunner): StageRunner {
  const common = {
    seed: config.seed,
    backend: config.backend,
    divergence: config.divergence,
    // Recorded only when set, so that the records of runs from before augmentation stay valid.
    ...(config.dataset.augment ? { augment: config.dataset.augment } : {}),
    ...(onlineSoftLabels(config) ? { softLabels: 'online' } : {}),
  };
  return (options) =>
    runStage({
      ...options,
      inputs: {
        ...options.inputs,
        ...common,
        data: { train: datasetFingerprint(options.train), validation: datasetFingerprint(options.validation) },
      },
    });
}

function trainingInputs(training: Link['training']): StageInputs {
  const { epochs, batchSize, optimizer, earlyStopping, bestCheckpoint } = training;
  return { epochs, batchSize, optimizer, ...(earlyStopping ? { earlyStopping } : {}), ...(bestCheckpoint ? { bestCheckpoint } : {}) };
}

/** A teacher's logits over the training set, from the soft-label store when this teacher and data are there. */
async function labelsOf(teacher: Teacher, store: StoreOptions, data: DatasetSplits, info: (message: string) => void) {
  return softLabelsFromStore(teacher, data.train, store, (progress) => {
    if (!progress.cached) info(`soft labels: shard ${progress.shard + 1}/${progress.shards} computed (${progress.samples} samples)`);
  });
}

/** Trains one link; `teacher` is null for the baseline, which learns from the labels alone. */
async function trainStudent(link: Link, teacher: Teaching | null, { data, emit, runStage, online }: ChainInputs): Promise<TrainedModel> {
  const { name, role, spec, training, terms, seed } = link;
  const model = build(spec, data, seed, name, `${name}.model`);
  if (role !== 'baseline')
    emit({ type: 'info', message: `${name}: ${describeStudent(spec)}, ${model.countParams().toLocaleString('en-US')} parameters` });
  try {
    const result = await runStage({
      stage: name,
      model,
      train: data.train,
      validation: data.validation,
      teacherLogits: teacher?.logits ?? null,
      online: teacher !== null && online,
      terms,
      termsField: `${teacher?.source ?? 'config'}: ${link.termsField}`,
      ...(teacher ? { featureTeacher: { ...teacher, field: link.termsField } } : {}),
      training,
      seed,
      onEvent: emit,
      inputs: teacher ? { ...link.inputs, teacherFingerprint: teacher.teacher.info.fingerprint } : link.inputs,
    });
    const stage = {
      ...stageSummary(name, training, terms, result.history),
      ...(result.stopped ? { stopped: result.stopped } : {}),
      ...(result.best ? { best: result.best } : {}),
    };
    return { name, role, model, trainSeconds: result.trainSeconds, stage };
  } catch (error) {
    model.dispose();
    throw error;
  }
}

function build(spec: StudentArchitecture, data: DatasetSplits, seed: number, name: string, field: string): tf.LayersModel {
  return buildStudent(spec, { inputs: data.train.inputs, numClasses: data.train.numClasses, seed, name, field });
}

/**
 * Resolves every feature term of the chain on throwaway models (after the teacher), so that bad
 * taps and shapes fail before any training.
 */
function checkTerms(links: Link[], data: DatasetSplits, teacher: TapSource, source: string): void {
  const built: tf.LayersModel[] = [];
  try {
    let previous = teacher;
    for (const link of links) {
      const student = build(link.spec, data, link.seed, 'check', `${source}: ${link.name}.model`);
      built.push(student);
      const prepared = prepareTerms(link.terms, student, previous, link.seed, `${source}: ${link.termsField}`, {
        labels: data.train.labels,
      });
      for (const term of prepared.terms) {
        term.adapter?.dispose();
        term.loss.dispose?.();
      }
      previous = student;
    }
  } finally {
    for (const model of built) model.dispose();
  }
}

function stageSummary(
  name: string,
  training: { epochs: number; batchSize: number; optimizer: object },
  terms: ExperimentConfig['distill']['terms'],
  history: EpochRecord[],
): StageSummary {
  return { name, model: name, epochs: training.epochs, batchSize: training.batchSize, optimizer: training.optimizer, terms, history };
}

function describeEngine(engine: EngineInfo): string {
  const base = `${engine.backend}${engine.simd ? ' (SIMD)' : ''}, ${engine.threads} thread${engine.threads === 1 ? '' : 's'}`;
  const threads = `${engine.acceleratorThreads} thread${engine.acceleratorThreads === 1 ? '' : 's'}`;
  return engine.accelerator === 'none' ? base : `${base}; matrix products and convolutions on ONNX Runtime, ${threads}`;
}
