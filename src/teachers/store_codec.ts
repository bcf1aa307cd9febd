/**
 * How one shard of teacher logits is stored, and how it comes back as dense float32 logits.
 *
 * float32: the teacher's logits, bit for bit.
 *
 * float16: each logit rounded to the nearest IEEE 754 binary16 value and stored as numpy '<f2'.
 * The relative error is at most 2⁻¹¹ (absolute 2⁻²⁵ below 2⁻¹⁴); the finite range is ±65504, and a
 * logit beyond it is refused rather than stored as infinity. Reading widens back to float32 exactly.
 *
 * top-k: per row, the k largest logits in descending order (ties: the lower class index first),
 * stored in the chosen dtype, and their class indices as int32 ('<i4'). Reconstruction gives every
 * other class the row's smallest kept logit minus 10⁴ (TOP_K_GAP). For softmax(z / T) that is the
 * teacher's distribution restricted to its top k classes and renormalized: relative to the kept
 * classes the dropped ones weigh at most (classes − k) · exp(−10⁴ / T) together, below float32's
 * resolution (2⁻²⁴) at any class count for T ≤ 100 (exp(−100) ≈ 4·10⁻⁴⁴), and up to T ≈ 400 with
 * 1000 classes. A finite gap rather than −∞ keeps p · log p at 0 instead of NaN (0 · −∞) in KL terms.
 */
import { Float16Array } from '@petamoriken/float16';
import { decodeNpy, encodeNpy } from '../util/npy.js';
import { InputError } from '../errors.js';

export type StorageDtype = 'float32' | 'float16';

/** The storage choices that change a shard's bytes. */
export interface ShardFormat {
  classes: number;
  dtype: StorageDtype;
  /** null: every logit is kept. */
  topK: number | null;
}

/** A dropped class's logit sits this far below the row's smallest kept one. */
export const TOP_K_GAP = 1e4;

export const RECONSTRUCTION =
  `top-k: every class not kept gets (the row's smallest kept logit − ${TOP_K_GAP}), so softmax(z/T) is the ` +
  `teacher's distribution over its top k classes, renormalized (the rest underflow to 0 in float32 for T up to ~100).`;

/** The .npy files of one shard: logits (dense, or the kept values) and, for top-k, class indices. */
export interface ShardBytes {
  logits: Uint8Array;
  indices?: Uint8Array;
}

/** Encodes `rows` rows of dense [rows, classes] logits. Deterministic: equal logits give equal bytes. */
export function encodeShard(logits: Float32Array, rows: number, format: ShardFormat): ShardBytes {
  if (format.topK === null) return { logits: encodeValues(logits, [rows, format.classes], format.dtype) };
  const { values, indices } = topKRows(logits, rows, format.classes, format.topK);
  return {
    logits: encodeValues(values, [rows, format.topK], format.dtype),
    indices: encodeNpy({ dtype: 'int32', data: indices, shape: [rows, format.topK] }),
  };
}

/**
 * Decodes a shard into `out` (dense [rows, classes] float32). Throws an InputError naming `names`
 * when the files do not hold the shapes and dtypes `format` promises.
 */
export function decodeShard(
  bytes: ShardBytes,
  names: { logits: string; indices?: string },
  rows: number,
  format: ShardFormat,
  out: Float32Array,
): void {
  const width = format.topK ?? format.classes;
  const stored = decodeNpy(bytes.logits, names.logits);
  if (stored.dtype !== format.dtype || stored.shape.length !== 2 || stored.shape[0] !== rows || stored.shape[1] !== width) {
    throw new InputError(
      `${names.logits}: expected ${format.dtype} (${rows}, ${width}), found ${stored.dtype} (${stored.shape.join(', ')})`,
    );
  }
  const values = stored.dtype === 'float16' ? widenFloat16(stored.data) : (stored.data as Float32Array);
  if (format.topK === null) {
    out.set(values);
    return;
  }
  const indexName = names.indices ?? 'indices';
  if (!bytes.indices) throw new InputError(`${indexName}: missing (a top-k shard has class indices)`);
  const indices = decodeNpy(bytes.indices, indexName);
  if (indices.dtype !== 'int32' || indices.shape[0] !== rows || indices.shape[1] !== width) {
    throw new InputError(`${indexName}: expected int32 (${rows}, ${width}), found ${indices.dtype} (${indices.shape.join(', ')})`);
  }
  denseFromTopK(values, indices.data as Int32Array, rows, format.classes, format.topK, out);
}

/** Each row's k largest logits, descending, ties to the lower class index, with their indices. */
export function topKRows(logits: Float32Array, rows: number, classes: number, k: number): { values: Float32Array; indices: Int32Array } {
  const values = new Float32Array(rows * k);
  const indices = new Int32Array(rows * k);
  for (let row = 0; row < rows; row++) {
    const keptValues = values.subarray(row * k, (row + 1) * k);
    const keptIndices = indices.subarray(row * k, (row + 1) * k);
    let kept = 0;
    for (let c = 0; c < classes; c++) {
      const value = logits[row * classes + c];
      if (kept === k && value <= keptValues[k - 1]) continue;
      // Insertion after every kept value ≥ this one, so an equal value with a lower index stays ahead.
      let position = kept === k ? k - 1 : kept++;
      while (position > 0 && keptValues[position - 1] < value) {
        keptValues[position] = keptValues[position - 1];
        keptIndices[position] = keptIndices[position - 1];
        position--;
      }
      keptValues[position] = value;
      keptIndices[position] = c;
    }
  }
  return { values, indices };
}

/** Dense [rows, classes] logits from top-k values and indices (see the header for why the gap). */
export function denseFromTopK(
  values: Float32Array,
  indices: Int32Array,
  rows: number,
  classes: number,
  k: number,
  out: Float32Array,
): void {
  for (let row = 0; row < rows; row++) {
    const dense = out.subarray(row * classes, (row + 1) * classes);
    dense.fill(values[row * k + k - 1] - TOP_K_GAP);
    for (let j = 0; j < k; j++) {
      const index = indices[row * k + j];
      if (index < 0 || index >= classes) throw new InputError(`top-k class index ${index} is outside [0, ${classes})`);
      dense[index] = values[row * k + j];
    }
  }
}

function encodeValues(values: Float32Array, shape: number[], dtype: StorageDtype): Uint8Array {
  return dtype === 'float32' ? encodeNpy({ dtype, data: values, shape }) : encodeNpy({ dtype, data: narrowToFloat16(values), shape });
}

/** binary16 bit patterns of `values`, rounded to nearest even; an out-of-range value is refused. */
export function narrowToFloat16(values: Float32Array): Uint16Array {
  const bits = new Uint16Array(new Float16Array(values).buffer);
  for (let i = 0; i < bits.length; i++) {
    // Exponent bits all ones: the value overflowed to ±infinity.
    if ((bits[i] & 0x7c00) === 0x7c00) {
      throw new InputError(`logit ${values[i]} is outside float16's range (±65504); store the soft labels as float32`);
    }
  }
  return bits;
}

let float16Table: Float32Array | null = null;

/** float32 values of binary16 bit patterns, through a 65536-entry table (a few ms to build, once). */
export function widenFloat16(bits: Uint16Array): Float32Array {
  if (float16Table === null) {
    const patterns = new Uint16Array(65536).map((_, pattern) => pattern);
    float16Table = Float32Array.from(new Float16Array(patterns.buffer));
  }
  const table = float16Table;
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = table[bits[i]];
  return out;
}
