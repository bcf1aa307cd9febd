/**
 * Contrastive representation distillation: the student's embedding of a sample is told apart from
 * the teacher's embeddings of other samples, kept in a memory bank, and the other way round.
 * Tian, Krishnan & Isola (2020), "Contrastive Representation Distillation", arXiv:1910.10699; as the
 * official code (github.com/HobbitLong/RepDistiller: crd/criterion.py CRDLoss, ContrastLoss, Embed;
 * crd/memory.py ContrastMemory; dataset/cifar100.py CIFAR100InstanceSample, mode 'exact').
 *
 *   v_s = normalize(W_s · f_s + b_s),  v_t = normalize(W_t · f_t + b_t)    (both trained)
 *   for sample i with negatives j₁…j_K, drawn from samples of other classes:
 *     out_s[k] = exp(M_t[j_k] · v_s / τ) / Z_s,  out_t[k] = exp(M_s[j_k] · v_t / τ) / Z_t,  j₀ = i
 *   NCE, c = K/n + 1e-7:  ℓ(out) = −(Σ_i log(out[i,0] / (out[i,0] + c)) + Σ_i,k≥1 log((K/n) / (out[i,k] + c))) / batch
 *   crd = ℓ(out_s) + ℓ(out_t)
 *
 * M_s and M_t are n × featureDim memory banks (n the training set's size), uniform in ±1/√(d/3) at
 * first; after each step the rows of the batch's samples move to normalize(m · M[i] + (1 − m) · v).
 * Z_s, Z_t are set once, from the first batch: mean(exp(·/τ)) · n. The banks and Z are saved with
 * checkpoints and never trained; the memory carries no gradient (the official code detaches it).
 *
 * Negatives: per sample, K distinct samples of other classes, uniformly ('exact' mode, which
 * train_student.py uses for crd), with replacement only when fewer than K exist (as
 * np.random.choice(..., replace=True) there). They are drawn from a generator seeded by the term's
 * seed, the epoch and the step, so a resumed run draws the same ones.
 *
 * Config: `{method: crd, weight: 0.8, student: penultimate, teacher: penultimate, featureDim: 128,
 * negatives: 16384, temperature: 0.07, momentum: 0.5}` (train_student.py's defaults; its CRD runs
 * are `-r 1 -a 0 -b 0.8`: ce at 1, kd at 0, crd at 0.8).
 */
import { z } from 'zod';
import * as tf from '../engine/tf.js';
import { type Rng, stepRng } from '../util/rng.js';
import { flattenSamples, normalizeRows } from './features.js';
import { featureTermFields } from './feature_options.js';
import type { DistillationMethod, FeatureTermOptions, TermContext, TermLoss } from './method.js';

export interface CrdOptions extends FeatureTermOptions {
  featureDim: number;
  negatives: number;
  temperature: number;
  momentum: number;
}

/** ContrastLoss's eps. */
const EPS = 1e-7;

/** Initial values in PyTorch's layouts: Linear weights [out, in], memory banks [n, featureDim]. */
export interface CrdInitial {
  studentWeight: number[][] | Float32Array;
  studentBias: number[] | Float32Array;
  teacherWeight: number[][] | Float32Array;
  teacherBias: number[] | Float32Array;
  memoryStudent: number[][] | Float32Array;
  memoryTeacher: number[][] | Float32Array;
}

export interface CrdSpec {
  studentDim: number;
  teacherDim: number;
  featureDim: number;
  negatives: number;
  temperature: number;
  momentum: number;
  /** The training set's class indices; its length is n, the memory banks' height. */
  labels: Int32Array;
  seed: number;
  emit?: (message: string) => void;
  /** Start from these values instead of seeded ones (tests). */
  initial?: CrdInitial;
  /** Each sample's row of [positive, negatives…], [batch · (K + 1)], instead of drawing them (tests). */
  contrast?: (indices: Int32Array, epoch: number, step: number) => Int32Array;
  /**
   * How memory rows meet the embeddings: 'scores' multiplies the embeddings by the whole bank
   * ([batch, n]) and gathers; 'rows' gathers the rows first ([batch, K + 1, featureDim]), as the
   * official code. Same values; by default whichever is smaller.
   */
  strategy?: 'scores' | 'rows';
}

/**
 * Draws, for each sample of a batch, K distinct samples of other classes: a partial Fisher–Yates
 * shuffle over the samples sorted by class, undone after each draw, so each costs O(K).
 */
export class NegativeSampler {
  private readonly byClass: Int32Array;
  private readonly start = new Map<number, number>();
  private readonly count = new Map<number, number>();
  private readonly scratch: Int32Array;
  private readonly swaps: Int32Array;

  constructor(
    private readonly labels: Int32Array,
    private readonly negatives: number,
  ) {
    const n = labels.length;
    this.byClass = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => labels[a] - labels[b] || a - b);
    for (let i = 0; i < n; i++) {
      const label = labels[this.byClass[i]];
      if (!this.start.has(label)) this.start.set(label, i);
      this.count.set(label, (this.count.get(label) ?? 0) + 1);
    }
    this.scratch = Int32Array.from({ length: n }, (_, i) => i);
    this.swaps = new Int32Array(negatives);
  }

  /** How many samples a sample of `label` has to draw from. */
  poolSize(label: number): number {
    return this.labels.length - (this.count.get(label) ?? 0);
  }

  /** The classes with fewer than K samples of other classes, whose negatives repeat. */
  smallPools(): number[] {
    return [...this.count.keys()].filter((label) => this.poolSize(label) < this.negatives).sort((a, b) => a - b);
  }

  /** [batch · (K + 1)]: each sample, then its K negatives. */
  draw(indices: Int32Array, rng: Rng): Int32Array {
    const k = this.negatives;
    const rows = new Int32Array(indices.length * (k + 1));
    for (let b = 0; b < indices.length; b++) {
      const label = this.labels[indices[b]];
      const before = this.start.get(label)!;
      const own = this.count.get(label)!;
      const pool = this.labels.length - own;
      // Position r of the pool: the sorted samples without this class's run.
      const sample = (r: number) => this.byClass[r < before ? r : r + own];
      const row = b * (k + 1);
      rows[row] = indices[b];
      if (k > pool) {
        for (let t = 0; t < k; t++) rows[row + 1 + t] = sample(rng.int(pool));
        continue;
      }
      const { scratch, swaps } = this;
      for (let t = 0; t < k; t++) {
        const j = t + rng.int(pool - t);
        swaps[t] = j;
        const chosen = scratch[j];
        scratch[j] = scratch[t];
        scratch[t] = chosen;
        rows[row + 1 + t] = sample(chosen);
      }
      for (let t = k - 1; t >= 0; t--) {
        const j = swaps[t];
        const swap = scratch[j];
        scratch[j] = scratch[t];
        scratch[t] = swap;
      }
    }
    return rows;
  }
}

let created = 0;

/** Values for a seeded start: PyTorch's Linear default (U(±1/√fan_in) for weight and bias) and ContrastMemory's U(±1/√(d/3)). */
function seededInitial(spec: CrdSpec, rng: Rng): CrdInitial {
  const uniform = (rows: number, columns: number, bound: number) =>
    Float32Array.from({ length: rows * columns }, () => (2 * rng.next() - 1) * bound);
  const d = spec.featureDim;
  const n = spec.labels.length;
  const stdv = 1 / Math.sqrt(d / 3);
  return {
    studentWeight: uniform(d, spec.studentDim, 1 / Math.sqrt(spec.studentDim)),
    studentBias: uniform(1, d, 1 / Math.sqrt(spec.studentDim)),
    teacherWeight: uniform(d, spec.teacherDim, 1 / Math.sqrt(spec.teacherDim)),
    teacherBias: uniform(1, d, 1 / Math.sqrt(spec.teacherDim)),
    memoryStudent: uniform(n, d, stdv),
    memoryTeacher: uniform(n, d, stdv),
  };
}

/** ContrastLoss: the NCE loss of `out` [batch, K + 1] (positive first), with noise 1/n. */
export function contrastLoss(out: tf.Tensor2D, samples: number): tf.Scalar {
  return tf.tidy(() => {
    const [batch, width] = out.shape;
    const k = width - 1;
    const noise = k / samples;
    const positive = tf.slice(out, [0, 0], [batch, 1]);
    const negative = tf.slice(out, [0, 1], [batch, k]);
    const logD1 = tf.log(tf.div(positive, tf.add(positive, noise + EPS)));
    const logD0 = tf.log(tf.div(noise, tf.add(negative, noise + EPS)));
    return tf.div(tf.neg(tf.add(tf.sum(logD1), tf.sum(logD0))), batch) as tf.Scalar;
  });
}

/** The CRD term of `spec` (crd.build() makes one from a config term and its stage). */
export function crdTerm(spec: CrdSpec): TermLoss {
  const id = ++created;
  const n = spec.labels.length;
  const k = spec.negatives;
  const d = spec.featureDim;
  const initial = spec.initial ?? seededInitial(spec, stepRng(spec.seed, -1, -1));
  const variable = (value: tf.Tensor, trainable: boolean, name: string) => {
    const made = tf.variable(value, trainable, `crd_${id}_${name}`);
    value.dispose();
    return made;
  };
  // Linear's weight [out, in] as a kernel [in, out].
  const kernel = (weight: number[][] | Float32Array, fanIn: number) => tf.tidy(() => tf.transpose(tf.tensor2d(weight, [d, fanIn])));
  const studentKernel = variable(kernel(initial.studentWeight, spec.studentDim), true, 'embed_s_kernel');
  const studentBias = variable(tf.tensor1d(initial.studentBias), true, 'embed_s_bias');
  const teacherKernel = variable(kernel(initial.teacherWeight, spec.teacherDim), true, 'embed_t_kernel');
  const teacherBias = variable(tf.tensor1d(initial.teacherBias), true, 'embed_t_bias');
  const memoryStudent = variable(tf.tensor2d(initial.memoryStudent, [n, d]), false, 'memory_s');
  const memoryTeacher = variable(tf.tensor2d(initial.memoryTeacher, [n, d]), false, 'memory_t');
  // Z_s, Z_t: NaN until the first batch sets them.
  const normalizers = variable(tf.tensor1d([Number.NaN, Number.NaN]), false, 'z');
  let normalizersRead: { dataId: object; values: Float32Array } | undefined;
  const sampler = spec.contrast ? null : new NegativeSampler(spec.labels, k);
  const small = sampler?.smallPools() ?? [];
  if (small.length > 0) {
    const classes = new Set(spec.labels).size;
    const which =
      small.length === classes
        ? 'every class has'
        : `class${small.length === 1 ? ' ' : 'es '}${small.join(', ')} ha${small.length === 1 ? 's' : 've'}`;
    spec.emit?.(
      `crd: ${k} negatives per sample, but ${which} fewer samples of other classes (training set of ${n}); those are drawn with replacement, as RepDistiller does`,
    );
  }
  const strategy = spec.strategy ?? ((k + 1) * d < n ? 'rows' : 'scores');

  /** What the step's update writes once applied: the batch's new memory rows, and Z when just set. */
  let pending: { indices: tf.Tensor2D; student: tf.Tensor2D; teacher: tf.Tensor2D; z: [number, number] | null } | null = null;
  const dropPending = () => {
    if (pending) tf.dispose([pending.indices, pending.student, pending.teacher]);
    pending = null;
  };

  const embed = (feature: tf.Tensor, kernelOf: tf.Variable, biasOf: tf.Variable) =>
    normalizeRows(tf.add(tf.matMul(flattenSamples(feature), kernelOf), biasOf)) as tf.Tensor2D;

  /** exp(memory[contrast] · v / τ), [batch, K + 1]. */
  const scores = (memory: tf.Variable, v: tf.Tensor2D, contrast: tf.Tensor1D, flatContrast: tf.Tensor1D): tf.Tensor2D => {
    const batch = v.shape[0];
    if (strategy === 'rows') {
      const rows = tf.reshape(tf.gather(memory, contrast), [batch, k + 1, d]);
      return tf.exp(tf.div(tf.reshape(tf.matMul(rows, tf.expandDims(v, 2)), [batch, k + 1]), spec.temperature)) as tf.Tensor2D;
    }
    const all = tf.reshape(tf.matMul(v, memory, false, true), [batch * n]);
    return tf.exp(tf.div(tf.reshape(tf.gather(all, flatContrast), [batch, k + 1]), spec.temperature)) as tf.Tensor2D;
  };

  const loss: TermLoss = (inputs) => {
    const { indices, studentFeature, teacherFeature, position, step } = inputs;
    if (!indices || !studentFeature || !teacherFeature)
      throw new Error("crd: needs the batch's sample indices and both tapped features (the training loop passes them)");
    const batch = indices.length;
    if (studentFeature.shape[0] !== batch || teacherFeature.shape[0] !== batch)
      throw new Error(`crd: ${batch} sample indices for features of batch ${studentFeature.shape[0]} and ${teacherFeature.shape[0]}`);
    dropPending(); // a refused step's update is never written
    const contrastRows = spec.contrast
      ? spec.contrast(indices, position.epoch, step ?? 0)
      : sampler!.draw(indices, stepRng(spec.seed, position.epoch, step ?? 0));
    const flatRows = new Int32Array(contrastRows.length);
    for (let i = 0; i < contrastRows.length; i++) flatRows[i] = Math.floor(i / (k + 1)) * n + contrastRows[i];
    // Read when it changed (set once, or restored from a checkpoint), not every step: on a GPU
    // backend a synchronous read stalls the device.
    if (normalizersRead?.dataId !== normalizers.dataId)
      normalizersRead = { dataId: normalizers.dataId, values: normalizers.dataSync() as Float32Array };
    const stored = normalizersRead.values;
    return tf.tidy(() => {
      const contrast = tf.tensor1d(contrastRows, 'int32');
      const flatContrast = tf.tensor1d(flatRows, 'int32');
      const vs = embed(studentFeature, studentKernel, studentBias);
      const vt = embed(teacherFeature, teacherKernel, teacherBias);
      // out_v1 (student anchor) reads the teacher's bank, out_v2 (teacher anchor) the student's.
      const outS = scores(memoryTeacher, vs, contrast, flatContrast);
      const outT = scores(memoryStudent, vt, contrast, flatContrast);
      let z: [number, number] | null = null;
      let [zS, zT] = [stored[0], stored[1]];
      if (Number.isNaN(zS) || Number.isNaN(zT)) {
        // Set once from this batch, a constant (the official code takes .item() of a float32 buffer).
        zS = Number.isNaN(zS) ? Math.fround(tf.mean(outS).dataSync()[0] * n) : zS;
        zT = Number.isNaN(zT) ? Math.fround(tf.mean(outT).dataSync()[0] * n) : zT;
        z = [zS, zT];
      }
      const value = tf.add(contrastLoss(tf.div(outS, zS), n), contrastLoss(tf.div(outT, zT), n)) as tf.Scalar;
      // The memory update, computed now from this forward's embeddings and written by afterStep().
      const update = (memory: tf.Variable, v: tf.Tensor2D, rows: tf.Tensor1D) =>
        normalizeRows(tf.add(tf.mul(tf.gather(memory, rows), spec.momentum), tf.mul(v, 1 - spec.momentum))) as tf.Tensor2D;
      const rows = tf.tensor1d(indices, 'int32');
      pending = {
        indices: tf.keep(tf.expandDims(rows, 1) as tf.Tensor2D),
        student: tf.keep(update(memoryStudent, vs, rows)),
        teacher: tf.keep(update(memoryTeacher, vt, rows)),
        z,
      };
      return value;
    });
  };

  const afterStep = () => {
    if (!pending) return;
    const { indices, student, teacher, z } = pending;
    tf.tidy(() => {
      memoryStudent.assign(tf.tensorScatterUpdate(memoryStudent, indices, student));
      memoryTeacher.assign(tf.tensorScatterUpdate(memoryTeacher, indices, teacher));
      if (z) normalizers.assign(tf.tensor1d(z));
    });
    dropPending();
  };

  const variables = [studentKernel, studentBias, teacherKernel, teacherBias];
  const buffers = [memoryStudent, memoryTeacher, normalizers];
  return Object.assign(loss, {
    variables,
    buffers,
    afterStep,
    dispose: () => {
      dropPending();
      tf.dispose([...variables, ...buffers]);
    },
  });
}

export const crd: DistillationMethod<CrdOptions> = {
  name: 'crd',
  paper: 'Tian, Krishnan & Isola 2020, Contrastive Representation Distillation',
  needsTeacher: true,
  features: 'batch',
  options: z.strictObject({
    ...featureTermFields,
    featureDim: z.number().int().positive().default(128),
    negatives: z.number().int().positive().default(16384),
    temperature: z.number().positive().default(0.07),
    momentum: z.number().min(0).max(1).default(0.5),
  }),
  build: (options, context?: TermContext) => {
    if (!context?.studentShape || !context.teacherShape)
      throw new Error("crd: needs its stage's training labels and tapped shapes (build(options, context))");
    const width = (shape: readonly number[]) => shape.reduce((size, dim) => size * dim, 1);
    const { labels } = context;
    const classes = new Set(labels);
    if (classes.size < 2) throw new Error(`crd: negatives come from other classes; the training set has ${classes.size} class`);
    const spec: CrdSpec = {
      studentDim: width(context.studentShape),
      teacherDim: width(context.teacherShape),
      featureDim: options.featureDim,
      negatives: options.negatives,
      temperature: options.temperature,
      momentum: options.momentum,
      labels,
      seed: context.seed,
      emit: context.emit,
    };
    return crdTerm(spec);
  },
};
