/**
 * The experiment config: parsed once, at the edge, into typed values. Unknown keys are errors.
 * Code past `parseConfig` trusts these types.
 */
import { z } from 'zod';
import { scheduled, type Scheduled } from '../schedules/index.js';
import { endpointProblem, headerNameProblem } from '../util/endpoint.js';
import { llmTeacherSpec } from './llm_schema.js';

const positiveInt = z.number().int().positive();
const rate = z.number().min(0).lt(1);

export const mlpSpec = z.strictObject({
  type: z.literal('mlp'),
  /** Width of each hidden dense layer. */
  hidden: z.array(positiveInt).default([]),
  /** Dropout rate after each hidden layer (0 = none). */
  dropout: rate.default(0),
  activation: z.enum(['relu', 'tanh', 'elu']).default('relu'),
});

export const cnnSpec = z.strictObject({
  type: z.literal('cnn'),
  /** Filters of each 'same'-padded conv layer; each is followed by 2×2 max pooling. */
  filters: z.array(positiveInt).min(1),
  kernelSize: positiveInt.default(3),
  /** Width of each dense layer after flattening. */
  dense: z.array(positiveInt).default([]),
  /** Dropout rate before each dense layer (0 = none). */
  dropout: rate.default(0),
  batchNorm: z.boolean().default(false),
});

export const resnetSpec = z
  .strictObject({
    type: z.literal('resnet'),
    /** Residual blocks per stage; every stage after the first starts with a stride-2 block. */
    blocks: z.array(positiveInt).min(1).default([2, 2, 2]),
    /** Filters of each stage's blocks (a Bottleneck block's output has 4× as many). */
    filters: z.array(positiveInt).min(1).default([16, 32, 64]),
    /** Bottleneck blocks (1×1, 3×3, 1×1 ×4) instead of BasicBlocks (3×3, 3×3). */
    bottleneck: z.boolean().default(false),
    /** Filters of the stem's 3×3 conv; default the first stage's. */
    stem: positiveInt.optional(),
  })
  .superRefine((spec, context) => {
    if (spec.blocks.length !== spec.filters.length) {
      context.addIssue({
        code: 'custom',
        path: ['filters'],
        message: `${spec.filters.length} stages of filters for ${spec.blocks.length} stages of blocks; give one of each per stage`,
      });
    }
  });

/** An inverted residual stage: [expansion t, output channels c, blocks n, stride s of the first block]. */
const invertedResidualStage = z.tuple([positiveInt, positiveInt, positiveInt, z.union([z.literal(1), z.literal(2)])]);

/** MobileNetV2's stage table scaled to 28×28 inputs (Keras' table is for 224×224: seven stages, stem stride 2). */
export const MOBILENETV2_SMALL_STAGES: [number, number, number, 1 | 2][] = [
  [1, 16, 1, 1],
  [6, 24, 2, 2],
  [6, 32, 3, 2],
  [6, 64, 2, 2],
];

export const mobilenetv2Spec = z.strictObject({
  type: z.literal('mobilenetv2'),
  /** Scales every layer's channels (Keras' alpha), each rounded to a multiple of 8. */
  widthMultiplier: z.number().positive().max(4).default(1),
  /** Inverted residual stages [t, c, n, s], as in the paper's Table 2. */
  stages: z.array(invertedResidualStage).min(1).default(MOBILENETV2_SMALL_STAGES),
  /** Filters of the stem's 3×3 conv (Keras: 32), scaled by widthMultiplier. */
  stem: positiveInt.default(16),
  /** Stride of the stem (Keras: 2, for 224×224 inputs). */
  stemStride: z.union([z.literal(1), z.literal(2)]).default(1),
  /** Filters of the 1×1 conv before pooling (Keras: 1280), scaled only when widthMultiplier > 1, as Keras does. */
  lastFilters: positiveInt.default(128),
  /** Dropout rate before the logits (0 = none, as Keras; torchvision uses 0.2). */
  dropout: rate.default(0),
});

/** A BERT-style encoder classifier over token inputs (models/text/transformer.ts); the defaults are a 4-layer, 256-wide student. */
export const transformerSpec = z.strictObject({
  type: z.literal('transformer'),
  layers: positiveInt.max(64).default(4),
  hidden: positiveInt.max(8192).default(256),
  /** Attention heads; hidden must divide by it. */
  heads: positiveInt.default(4),
  /** Width of each layer's feed-forward block (BERT: 4 × hidden). */
  intermediate: positiveInt.max(65536).default(1024),
  /** cls: the first token through a tanh pooler, as BERT; mean: the mean over the tokens the attention mask keeps. */
  pooling: z.enum(['cls', 'mean']).default('cls'),
  /** Dropout on embeddings, attention probabilities and each block's output (BERT: 0.1). */
  dropout: rate.default(0.1),
});

/**
 * The smallest text student: the mean of its tokens' embeddings (fastText's bag of words, Joulin et
 * al. 2017), optional dense layers, then the logits.
 */
export const embeddingBagSpec = z.strictObject({
  type: z.literal('embeddingbag'),
  /** Width of each token's embedding. */
  dimensions: positiveInt.max(8192).default(64),
  /** Width of each dense layer after the mean. */
  hidden: z.array(positiveInt).default([]),
  /** Dropout rate before each dense layer and the logits (0 = none). */
  dropout: rate.default(0),
});

export const modelSpec = z.discriminatedUnion('type', [mlpSpec, cnnSpec, resnetSpec, mobilenetv2Spec, transformerSpec, embeddingBagSpec]);
export type ModelSpec = z.infer<typeof modelSpec>;

export const optimizerSpec = z.strictObject({
  /** adamw is Adam with decoupled weight decay (Loshchilov & Hutter 2019). */
  type: z.enum(['adam', 'adamw', 'sgd', 'momentum']).default('adam'),
  /**
   * A number, or a schedule over the stage (src/schedules): `{schedule: cosine, from: 0.1, to: 0}`,
   * `{schedule: step, values: [0.05, 0.005, 0.0005], at: [0.5, 0.75]}`, `{schedule: warmup, …}`.
   */
  learningRate: scheduled(z.number().nonnegative())
    .refine((rate) => typeof rate !== 'number' || rate > 0, { message: 'must be greater than 0' })
    .default(0.001),
  /** Momentum for type 'momentum'. */
  momentum: z.number().min(0).lt(1).default(0.9),
  /**
   * λ, as PyTorch's optimizers take it (their defaults too: 0, and 0.01 for adamw): coupled (g ← g + λw) for sgd, momentum and adam, decoupled
   * (w ← (1 − lr·λ)w) for adamw. Every trained weight decays, biases and batch norm's too, as with
   * `model.parameters()` in PyTorch.
   */
  weightDecay: z.number().min(0).lt(1).optional(),
});
export type OptimizerSpec = z.infer<typeof optimizerSpec>;

/**
 * A batch of more samples than this is a typo, not a dataset, and fails here naming the field;
 * the real limits, the training split and memory, are checked once the data is loaded (data/batch_limits.ts).
 */
export const MAX_BATCH_SIZE = 2 ** 24;
const batchSize = positiveInt.max(MAX_BATCH_SIZE);

/** The metrics early stopping and the best checkpoint can watch. */
const metric = z.enum(['loss', 'val_loss', 'val_accuracy']);

/** Early stopping, as Keras' EarlyStopping: stop once `patience` epochs bring no improvement of `monitor` over `minDelta`. */
export const earlyStoppingSpec = z.strictObject({
  monitor: metric.default('val_loss'),
  patience: z.number().int().nonnegative().default(0),
  minDelta: z.number().nonnegative().default(0),
  /** End with the weights of the best epoch. */
  restoreBest: z.boolean().default(false),
  /** Epochs before watching at all. */
  startFromEpoch: z.number().int().nonnegative().default(0),
});

/** Keep the best model of the stage (by `monitor`) in checkpoints/<stage>/best/, as Keras' ModelCheckpoint(save_best_only). */
export const bestCheckpointSpec = z.strictObject({ monitor: metric.default('val_accuracy') });

export interface TrainingCallbacksConfig {
  earlyStopping?: z.infer<typeof earlyStoppingSpec>;
  bestCheckpoint?: z.infer<typeof bestCheckpointSpec>;
}

const trainingFields = {
  epochs: positiveInt,
  batchSize: batchSize.default(128),
  optimizer: optimizerSpec.default({ type: 'adam', learningRate: 0.001, momentum: 0.9 }),
  earlyStopping: earlyStoppingSpec.optional(),
  bestCheckpoint: bestCheckpointSpec.optional(),
};

/** One path or glob pattern, or a list of them, in sample order. */
const fileList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]);
const filePart = z.strictObject({ images: fileList, labels: fileList });
/** Random changes to each training batch (never validation or test), seeded per step; see data/augment.ts. */
export const augmentSpec = z.strictObject({
  /** Pad each side with zeros, then cut a random window of the original size (CIFAR's RandomCrop(32, padding=4)). */
  crop: z.strictObject({ padding: positiveInt }).optional(),
  /** Mirror left-right with probability 1/2 (RandomHorizontalFlip). */
  flip: z.enum(['horizontal', 'none']).default('none'),
});
export type AugmentConfig = z.infer<typeof augmentSpec>;

const datasetCommon = {
  /** Samples carved out of train for validation. */
  validation: z.number().int().nonnegative().optional(),
  augment: augmentSpec.optional(),
};
/** true: pixels stream from disk in batches; false: read whole; auto: stream past a quarter of memory. */
const streamField = z
  .custom<boolean | 'auto'>((value) => value === true || value === false || value === 'auto', { error: "expected true, false or 'auto'" })
  .default('auto');
const filesCommon = {
  ...datasetCommon,
  train: filePart,
  test: filePart,
  /** A class count or the class names; the largest label + 1 when absent. */
  classes: z.union([z.number().int().min(2), z.array(z.string().min(1)).min(2)]).optional(),
  stream: streamField,
};

/**
 * A tokenizer.json to load, or a WordPiece vocabulary learned from the training split; the defaults
 * are data/text/wordpiece.ts's WORDPIECE_DEFAULTS (BertWordPieceTokenizer.train's, 8,000 tokens).
 */
export const tokenizerSpec = z.union([
  z.string().min(1),
  z.strictObject({
    train: z.literal('wordpiece'),
    vocabSize: z.number().int().min(10).max(1_000_000).default(8000),
    lowercase: z.boolean().default(true),
    minFrequency: z.number().int().nonnegative().default(2),
    limitAlphabet: positiveInt.default(1000),
  }),
]);
/** Tokens per sample unless a text dataset says: longer texts are cut, shorter ones padded. */
export const DEFAULT_MAX_LENGTH = 64;
const maxLength = positiveInt.max(8192).default(DEFAULT_MAX_LENGTH);
const learnedWordPiece = { train: 'wordpiece' } as const;
/** Crop and flip change images: a text dataset takes no `augment`. */
const noAugment = z.never({ error: 'crop and flip change images; a text dataset takes no augment' }).optional();

/**
 * false: the training texts are a transfer set whose labels are not used (or not there): the
 * student learns from the teacher alone, validation is scored against the teacher's answers, and
 * the test set must have labels.
 */
const trainLabels = z.boolean().default(true);

export const datasetSpec = z.discriminatedUnion('name', [
  z.strictObject({ name: z.literal('digits'), ...datasetCommon }),
  z.strictObject({
    name: z.literal('fashion-mnist'),
    /** Directory holding the IDX files. */
    path: z.string().min(1).optional(),
    ...datasetCommon,
    stream: streamField,
  }),
  z.strictObject({ name: z.literal('idx'), ...filesCommon }),
  z.strictObject({
    name: z.literal('npy'),
    ...filesCommon,
    /** How a sample is stored: nhwc, or nchw as PyTorch saves it. */
    layout: z.enum(['nhwc', 'nchw']).default('nhwc'),
  }),
  z.strictObject({
    name: z.literal('text'),
    validation: datasetCommon.validation,
    augment: noAugment,
    /** A .csv, .tsv or .jsonl file of labelled texts. */
    train: z.string().min(1),
    test: z.string().min(1),
    textField: z.string().min(1).default('text'),
    labelField: z.string().min(1).default('label'),
    trainLabels,
    /** The class names in index order, or their count (labels 0 … n−1); the distinct training labels when absent. */
    classes: z.union([z.number().int().min(2), z.array(z.string().min(1)).min(2)]).optional(),
    tokenizer: tokenizerSpec.prefault(learnedWordPiece),
    maxLength,
  }),
  z.strictObject({
    name: z.literal('banking77'),
    validation: datasetCommon.validation,
    augment: noAugment,
    trainLabels,
    tokenizer: tokenizerSpec.prefault(learnedWordPiece),
    maxLength,
  }),
]);
export type DatasetConfig = z.infer<typeof datasetSpec>;

/** How an external teacher wants its input: the layout and a per-channel (x − mean) / std. */
const preprocessingFields = {
  /** nchw for models exported from PyTorch. */
  inputLayout: z.enum(['nhwc', 'nchw']).default('nhwc'),
  normalize: z
    .strictObject({
      mean: z.array(z.number()).min(1),
      std: z.array(z.number().positive()).min(1),
    })
    .optional(),
};

export const teacherSpec = z.union([
  z.strictObject({ model: modelSpec, ...trainingFields }),
  z.strictObject({
    /** A TensorFlow.js layers model: its model.json, or the directory holding it. */
    load: z.string().min(1),
  }),
  z.strictObject({
    /** An ONNX file, run with onnxruntime-node. */
    onnx: z.string().min(1),
    ...preprocessingFields,
    /** Default: the model's first input and first output; other outputs can be tapped as features. */
    inputName: z.string().min(1).optional(),
    outputName: z.string().min(1).optional(),
  }),
  z.strictObject({
    /** A model behind an inference server that speaks the Open Inference Protocol (KServe v2 REST). */
    remote: z.strictObject({
      /** The server's base URL; credentials, a query or a fragment are refused (they would be written wherever the URL is). */
      url: z.url().superRefine((url, context) => {
        const problem = endpointProblem(url);
        if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
      }),
      /** Sent with every request; each value is read from an environment variable, so no secret is in the config, summary.json or logs. */
      headers: z
        .record(
          z.string(),
          z.strictObject(
            { env: z.string().min(1), prefix: z.string().default('') },
            { error: "expected {env: VARIABLE, prefix?}: a header's value comes from an environment variable" },
          ),
        )
        .superRefine((headers, context) => {
          for (const name of Object.keys(headers)) {
            const problem = headerNameProblem(name);
            if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
          }
        })
        .default({}),
      model: z.string().min(1),
      version: z.string().min(1).optional(),
      ...preprocessingFields,
      inputName: z.string().min(1).optional(),
      outputName: z.string().min(1).optional(),
      /** Other outputs of the served model, tappable as features. */
      featureOutputs: z.array(z.string().min(1)).default([]),
      /** Samples per request. */
      batchSize: positiveInt.default(64),
      /** Requests in flight at once. */
      concurrency: positiveInt.default(4),
      /** Past 2³¹ − 1 ms, Node fires a timer at once. */
      timeoutMs: positiveInt.max(2 ** 31 - 1, { error: 'at most 2147483647 ms (the longest Node timer)' }).default(30_000),
      /** Retries on 429, 5xx and timeouts, with exponential backoff. */
      retries: z.number().int().nonnegative().default(4),
      /** Largest infer answer read; default: what the request's outputs can take as JSON, at least 4 MiB. */
      maxResponseBytes: positiveInt.optional(),
    }),
  }),
  /** An LLM behind an OpenAI-compatible Chat Completions endpoint (llm_schema.ts). */
  z.strictObject({ llm: llmTeacherSpec }),
]);
export type TeacherConfig = z.infer<typeof teacherSpec>;

export const studentSpec = z.union([
  z.strictObject({
    /** An architecture kdkit builds (mlp or cnn). */
    model: modelSpec,
  }),
  z.strictObject({
    /**
     * Any TensorFlow.js layers model: its model.json, or the directory holding it. It takes the
     * dataset's samples and outputs logits (no final softmax). Stages (`stages[i].model`) take specs only.
     */
    load: z.string().min(1),
    /**
     * random: every weight drawn again from its layer's initializer, seeded by the run's seed;
     * weights: start from the file's weights (a warm start).
     */
    init: z.enum(['random', 'weights']).default('random'),
  }),
]);
export type StudentConfig = z.infer<typeof studentSpec>;

/**
 * A loss term as written in the config. `method` picks the registered method; its own options
 * (e.g. `temperature`) are checked against that method's schema in `parseConfig`.
 */
export const termSpec = z.looseObject({
  method: z.string().min(1),
  /** A number, or a schedule over the stage (see src/schedules). */
  weight: scheduled(z.number().nonnegative()),
});

export const distillSpec = z
  .strictObject({
    ...trainingFields,
    terms: z.array(termSpec).min(1).optional(),
    /** A named set of terms (src/methods/presets.ts) instead of `terms`. */
    preset: z.string().min(1).optional(),
  })
  .refine((distill) => (distill.terms === undefined) !== (distill.preset === undefined), {
    message: 'give either terms or preset, not both and not neither',
    path: ['terms'],
  });

/**
 * One link of an iterative chain: a student distilled from the model before it (the teacher, or
 * the previous stage's student), which then teaches the next. Training fields and terms default to
 * `distill`'s. `model: teacher` repeats the teacher's architecture (born-again networks).
 */
export const stageSpec = z.strictObject({
  model: z.union([modelSpec, z.literal('teacher')]),
  epochs: positiveInt.optional(),
  batchSize: batchSize.optional(),
  optimizer: optimizerSpec.optional(),
  earlyStopping: earlyStoppingSpec.optional(),
  bestCheckpoint: bestCheckpointSpec.optional(),
  terms: z.array(termSpec).min(1).optional(),
});

const limit = z.number().nonnegative();

/**
 * Deployment constraints on the student (the gate). Every limit is optional; a run with any
 * failed check exits with code 3. `quantization` and `runtime` say which export is judged.
 */
export const deploySpec = z.strictObject({
  /** Bytes of the judged export (model.json + weights, or the .onnx file). */
  maxSizeBytes: limit.optional(),
  /** Batch-1 p95 forward-pass latency on the judged runtime, in ms. */
  maxLatencyMs: limit.optional(),
  /** Test accuracy of the judged export, in [0, 1]. */
  minAccuracy: z.number().min(0).max(1).optional(),
  /** Teacher accuracy minus the judged export's, in [0, 1]. */
  maxAccuracyDrop: z.number().min(0).max(1).optional(),
  maxParams: limit.optional(),
  /** Multiply-accumulates per sample. */
  maxMacs: limit.optional(),
  /** Peak inference memory at batch 1 in TensorFlow.js, weights included, in bytes. */
  maxMemoryBytes: limit.optional(),
  /** Fraction of test samples where the student predicts the teacher's class, in [0, 1]. */
  minAgreement: z.number().min(0).max(1).optional(),
  /** Weight storage of the export that is shipped. */
  quantization: z.enum(['float32', 'float16', 'uint8']).default('float32'),
  /** Where it runs: TensorFlow.js (layers format) or ONNX Runtime (student.onnx). */
  runtime: z.enum(['tfjs', 'onnxruntime']).default('tfjs'),
});
export type DeployConfig = z.infer<typeof deploySpec>;

/** What the run writes besides student/ (float32 TensorFlow.js). */
export const exportSpec = z.strictObject({
  /** Extra TensorFlow.js copies with quantized weights, each evaluated for accuracy lost. */
  quantize: z.array(z.enum(['float16', 'uint8'])).default(['float16', 'uint8']),
  /** Input layout of student.onnx: nhwc (as TensorFlow.js) or nchw (as PyTorch). */
  onnxLayout: z.enum(['nhwc', 'nchw']).default('nhwc'),
  /** Write student.onnx at all. */
  onnx: z.boolean().default(true),
});
export type ExportConfig = z.infer<typeof exportSpec>;

/**
 * The largest seed. The generators take 32 bits (util/rng.ts), so a larger seed would repeat a
 * smaller one's run; below 2³¹ the seeds derived for stages (seed + 1, seed + 100 + i) stay distinct too.
 */
export const MAX_SEED = 2 ** 31 - 1;

export const experimentSpec = z.strictObject({
  seed: z.number().int().min(0).max(MAX_SEED).default(1),
  backend: z.enum(['wasm', 'cpu']).default('wasm'),
  dataset: datasetSpec,
  teacher: teacherSpec,
  student: studentSpec,
  /** Also train the student architecture on hard labels alone, with the same seed and budget. */
  baseline: z.boolean().default(true),
  distill: distillSpec,
  /** Intermediate students between the teacher and the student (teacher assistants, born-again generations), in order. */
  stages: z.array(stageSpec).default([]),
  /** The soft-label store: where teacher logits are kept between runs, and how. */
  softLabels: z
    .preprocess(
      // `softLabels: online` is short for `softLabels: {mode: online}`.
      (value) => (value === 'online' || value === 'cached' ? { mode: value } : value),
      z.strictObject({
        /**
         * cached: the teacher labels the transfer set once, into the store (the default without
         * dataset.augment); online: it labels every augmented batch inside the step (the default with it).
         */
        mode: z.enum(['cached', 'online']).optional(),
        /**
         * Directory of the store; default: cache/ in the run directory. Share one across runs to
         * reuse labels; online, a named store also keeps an ONNX or remote teacher's outputs for
         * each augmented batch by content, so runs with the same seed, data and batch size run it once.
         */
        store: z.string().min(1).optional(),
        dtype: z.enum(['float32', 'float16']).default('float32'),
        /** Keep each sample's k largest logits only (for many classes). */
        topK: positiveInt.optional(),
        /** Samples per shard; a killed build resumes from the last complete shard. */
        shardSize: positiveInt.default(8192),
      }),
    )
    .default({ dtype: 'float32', shardSize: 8192 }),
  /** Checkpoints of every stage, in <run>/checkpoints/<stage>/, for `kdkit run --resume`. */
  checkpoints: z
    .strictObject({
      /** Besides the end of every epoch, within an epoch after this many minutes. */
      everyMinutes: z.number().positive().default(10),
      /** Checkpoints kept per stage. */
      keep: positiveInt.default(2),
    })
    .default({ everyMinutes: 10, keep: 2 }),
  /** When a stage diverges (a NaN or infinite loss always counts). */
  divergence: z
    .strictObject({
      /** Also stop when the global gradient norm passes this. */
      maxGradNorm: z.number().positive().optional(),
      /** Restart the stage from its last checkpoint with the learning rate halved, up to this many times. */
      lrBackoff: z.number().int().nonnegative().default(0),
    })
    .default({ lrBackoff: 0 }),
  deploy: deploySpec.optional(),
  export: exportSpec.default({ quantize: ['float16', 'uint8'], onnxLayout: 'nhwc', onnx: true }),
});

export type ExperimentInput = z.input<typeof experimentSpec>;
export type ParsedExperiment = z.infer<typeof experimentSpec>;

/** A term after its method's options have been validated. */
export interface TermConfig {
  method: string;
  weight: Scheduled;
  options: Record<string, unknown>;
}

/** A chain link after parsing: every training field and term filled in. */
export interface StageConfig extends TrainingCallbacksConfig {
  model: ModelSpec | 'teacher';
  epochs: number;
  batchSize: number;
  optimizer: OptimizerSpec;
  terms: TermConfig[];
}

export type ExperimentConfig = Omit<ParsedExperiment, 'distill' | 'stages'> & {
  distill: Omit<ParsedExperiment['distill'], 'terms' | 'preset'> & { terms: TermConfig[]; preset?: string };
  stages: StageConfig[];
};
