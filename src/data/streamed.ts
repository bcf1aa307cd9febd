/**
 * Pixels read from files on demand, for datasets larger than memory. Each file (an uncompressed
 * IDX file, or one `.npy` shard) holds fixed-size samples one after another, so sample i of a file
 * is one positioned read away. A batch is read in index order, and neighbouring samples of one
 * file in a single read, so sequential passes (evaluation, soft labels) read whole runs at once.
 * The trainer hints the next batch (prefetch), which a reader thread (reader_thread.ts) reads while
 * the current step computes. Reads are pread calls, not a memory map: a file truncated under a
 * run is then an InputError naming it, where a map would crash the process with SIGBUS. The
 * samples are images: one field, 'image' (dataset.ts IMAGE_FIELD).
 */
import { readSync } from 'node:fs';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { getFloat16 } from '@petamoriken/float16';
import { InputError } from '../errors.js';
import { RegularFile } from '../util/regular_file.js';
import { IMAGE_FIELD, type SampleBatch, type SampleSource } from './dataset.js';
import { checkPixelRange } from './pixel_range.js';

/** How one sample's values are stored. */
export interface PixelEncoding {
  /** Value type and byte order on disk. uint8 is scaled by 1/255; floats are taken as they are. */
  readonly dtype: 'uint8' | 'float32le' | 'float32be' | 'float16le';
  /** Stored order of one sample: nhwc as kdkit uses it, or nchw (as PyTorch saves), transposed on read. */
  readonly layout: 'nhwc' | 'nchw';
  /** [height, width, channels] of one sample as kdkit sees it. */
  readonly sampleShape: readonly [number, number, number];
}

/** One file of samples. */
export interface PixelFile {
  readonly path: string;
  /** Byte offset of sample 0's first value. */
  readonly dataOffset: number;
  readonly count: number;
}

/** Batches up to this size sort by one packed key; larger ones are read in slices of this size. */
const POSITIONS = 2 ** 21;

const BYTES: Readonly<Record<PixelEncoding['dtype'], number>> = { uint8: 1, float32le: 4, float32be: 4, float16le: 2 };

/** Reads the stored value at `offset` as kdkit's float. */
type ValueReader = (view: DataView, offset: number) => number;

/**
 * b / 255 for every byte b, as float32: uint8 samples decode through it, without a division per
 * pixel, to the same values the in-memory IDX loader computes (a division, not a product by 1/255).
 */
const UINT8_SCALED = Float32Array.from({ length: 256 }, (_, b) => b / 255);

/** The other value types; uint8 goes through UINT8_SCALED. */
const READERS: Readonly<Record<Exclude<PixelEncoding['dtype'], 'uint8'>, ValueReader>> = {
  float32le: (view, offset) => view.getFloat32(offset, true),
  float32be: (view, offset) => view.getFloat32(offset, false),
  float16le: (view, offset) => getFloat16(view, offset, true),
};

/** Values of a reader-thread request's state word. */
export const READ_PENDING = 0;
export const READ_DONE = 1;
export const READ_FAILED = 2;
/** How long the main thread waits for the reader thread before calling it lost. */
const READER_TIMEOUT_MS = 120_000;

/** A batch the reader thread is reading. */
interface Pending {
  readonly indices: Int32Array;
  readonly state: Int32Array;
  readonly pixels: Float32Array;
}

export class FilePixels implements SampleSource {
  readonly storage = 'disk';
  readonly count: number;
  private readonly sampleBytes: number;
  private readonly sampleValues: number;
  /** First global sample index of each file, and the total at the end. */
  private readonly starts: number[];
  private readonly opened: (RegularFile | null)[];
  private scratch = Buffer.alloc(0);
  private order = new Int32Array(0);
  private keys = new Float64Array(0);
  /** For each stored value of a sample, its position in the NHWC sample. */
  private readonly target: Int32Array | null;

  private reader: { worker: Worker; errors: MessagePort } | null = null;
  private pending: Pending | null = null;
  private shared = new SharedArrayBuffer(0);

  /** `readerThread: false` reads on the calling thread only (prefetch() is then a no-op). */
  constructor(
    private readonly files: readonly PixelFile[],
    private readonly encoding: PixelEncoding,
    private readonly options: { readerThread: boolean } = { readerThread: true },
  ) {
    const [height, width, channels] = encoding.sampleShape;
    this.sampleValues = height * width * channels;
    this.sampleBytes = this.sampleValues * BYTES[encoding.dtype];
    this.starts = [0];
    for (const file of files) this.starts.push(this.starts[this.starts.length - 1] + file.count);
    this.count = this.starts[files.length];
    this.opened = files.map(() => null);
    this.target = encoding.layout === 'nchw' && channels > 1 ? nchwTargets(height, width, channels) : null;
  }

  /**
   * Starts reading samples `indices` on the reader thread; the next read() of exactly these
   * indices takes them from there instead of reading them itself. One batch at a time.
   */
  prefetch(indices: ArrayLike<number>): void {
    if (!this.options.readerThread || indices.length === 0 || indices.length > POSITIONS) return;
    this.settle();
    const bytes = indices.length * this.sampleValues * 4;
    if (this.shared.byteLength < bytes) this.shared = new SharedArrayBuffer(Math.max(bytes, 2 * this.shared.byteLength));
    const state = new Int32Array(new SharedArrayBuffer(4));
    const request = { indices: Int32Array.from(indices), pixels: this.shared, state: state.buffer };
    this.startReader().worker.postMessage(request);
    this.pending = { indices: request.indices, state, pixels: new Float32Array(this.shared, 0, bytes / 4) };
  }

  read(indices: ArrayLike<number>, out: SampleBatch): void {
    this.readPixels(indices, out[IMAGE_FIELD] as Float32Array);
  }

  /** Copies the pixels of samples `indices[i]` to `out` at i × sampleSize (NHWC float32). */
  readPixels(indices: ArrayLike<number>, out: Float32Array): void {
    const pending = this.pending;
    if (pending && sameIndices(pending.indices, indices)) {
      this.settle();
      out.set(pending.pixels);
      return;
    }
    this.settle();
    this.readHere(indices, out);
  }

  private readHere(indices: ArrayLike<number>, out: Float32Array): void {
    if (indices.length > POSITIONS) {
      const all = Int32Array.from(indices);
      for (let start = 0; start < all.length; start += POSITIONS) {
        const end = Math.min(start + POSITIONS, all.length);
        this.readHere(all.subarray(start, end), out.subarray(start * this.sampleValues, end * this.sampleValues));
      }
      return;
    }
    const n = indices.length;
    if (this.keys.length < n) {
      this.keys = new Float64Array(n);
      this.order = new Int32Array(n);
    }
    // Sort positions by sample index without a comparator: key = index · 2^21 + position.
    const keys = this.keys.subarray(0, n);
    for (let i = 0; i < n; i++) keys[i] = indices[i] * POSITIONS + i;
    keys.sort();
    const order = this.order.subarray(0, n);
    for (let i = 0; i < n; i++) order[i] = keys[i] % POSITIONS;
    for (let i = 0; i < n; ) {
      const first = indices[order[i]];
      if (!(first >= 0 && first < this.count)) throw new RangeError(`sample ${first} is outside [0, ${this.count})`);
      const file = this.fileOf(first);
      const fileEnd = this.starts[file + 1];
      // A run: consecutive sample indices within one file, read at once.
      let j = i + 1;
      while (j < n && indices[order[j]] === indices[order[j - 1]] + 1 && indices[order[j]] < fileEnd) j++;
      const bytes = this.readSamples(file, first - this.starts[file], j - i);
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let k = 0; k < j - i; k++) {
        const at = order[i + k] * this.sampleValues;
        this.decode(view, k * this.sampleBytes, out, at);
        // Float data is checked as it is decoded, so every read (in memory at load, or each batch) is.
        if (this.encoding.dtype !== 'uint8')
          checkPixelRange(out.subarray(at, at + this.sampleValues), this.files[file].path, first - this.starts[file] + k);
      }
      i = j;
    }
  }

  close(): void {
    this.pending = null;
    if (this.reader) {
      void this.reader.worker.terminate();
      this.reader.errors.close();
      this.reader = null;
    }
    this.opened.forEach((file, i) => {
      file?.close();
      this.opened[i] = null;
    });
  }

  /** Waits for the batch in flight, if any, and throws its error; afterwards nothing is pending. */
  private settle(): void {
    const pending = this.pending;
    if (!pending) return;
    this.pending = null;
    if (Atomics.wait(pending.state, 0, READ_PENDING, READER_TIMEOUT_MS) === 'timed-out') {
      throw new Error(`the reader thread of ${this.files[0].path} did not answer within ${READER_TIMEOUT_MS / 1000} s`);
    }
    if (Atomics.load(pending.state, 0) === READ_FAILED) {
      const { error } = (receiveMessageOnPort(this.reader!.errors)?.message ?? {
        error: { name: 'Error', message: 'the reader thread failed' },
      }) as { error: { name: string; message: string } };
      throw error.name === 'InputError' ? new InputError(error.message) : new Error(error.message);
    }
  }

  private startReader(): { worker: Worker; errors: MessagePort } {
    if (this.reader) return this.reader;
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(new URL('./reader_thread.js', import.meta.url), {
      workerData: { files: this.files, encoding: this.encoding, errors: port2 },
      transferList: [port2],
    });
    // Neither keeps the process alive; a run that ends without close() still exits.
    worker.unref();
    port1.unref();
    this.reader = { worker, errors: port1 };
    return this.reader;
  }

  /** The file holding global sample `index` (binary search over the starts). */
  private fileOf(index: number): number {
    let low = 0;
    let high = this.files.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.starts[middle] <= index) low = middle;
      else high = middle - 1;
    }
    return low;
  }

  /** `count` samples of file `file` from its sample `first`, into the scratch buffer. */
  private readSamples(file: number, first: number, count: number): Buffer {
    const length = count * this.sampleBytes;
    if (this.scratch.length < length) this.scratch = Buffer.alloc(Math.max(length, 2 * this.scratch.length));
    const { path, dataOffset } = this.files[file];
    // Opened again by path (the header was read at load): check again that it is a regular file.
    const opened = this.opened[file] ?? RegularFile.open(path, `cannot read ${path}`);
    this.opened[file] = opened;
    const fd = opened.descriptor;
    let done = 0;
    while (done < length) {
      const got = readSync(fd, this.scratch, done, length - done, dataOffset + first * this.sampleBytes + done);
      if (got === 0) {
        throw new InputError(
          `${path}: ended early, sample ${first + Math.floor(done / this.sampleBytes)} of ${this.files[file].count} is missing (was the file truncated while kdkit ran?)`,
        );
      }
      done += got;
    }
    return this.scratch.subarray(0, length);
  }

  private decode(view: DataView, offset: number, out: Float32Array, at: number): void {
    const target = this.target;
    const values = this.sampleValues;
    if (this.encoding.dtype === 'uint8') {
      const bytes = this.scratch;
      if (target === null) for (let k = 0; k < values; k++) out[at + k] = UINT8_SCALED[bytes[offset + k]];
      else for (let k = 0; k < values; k++) out[at + target[k]] = UINT8_SCALED[bytes[offset + k]];
      return;
    }
    const value = READERS[this.encoding.dtype];
    const step = BYTES[this.encoding.dtype];
    for (let k = 0; k < values; k++) out[at + (target ? target[k] : k)] = value(view, offset + k * step);
  }
}

function sameIndices(a: Int32Array, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Where the stored value k of an NCHW sample goes in the NHWC sample. */
function nchwTargets(height: number, width: number, channels: number): Int32Array {
  const targets = new Int32Array(height * width * channels);
  for (let c = 0; c < channels; c++) {
    for (let p = 0; p < height * width; p++) targets[c * height * width + p] = p * channels + c;
  }
  return targets;
}
