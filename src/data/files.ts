/**
 * Datasets from files the user names: IDX (as MNIST ships) or `.npy` arrays, one file or many
 * shards per part. Labels are read whole (4 bytes a sample in memory); pixels are either read
 * whole or streamed from disk batch by batch (streamed.ts), which `stream` decides.
 */
import { totalmem } from 'node:os';
import { globSync, isDynamicPattern } from 'tinyglobby';
import { InputError } from '../errors.js';
import { NPY_PREAMBLE_BYTES, npyHeaderBytes, parseNpyHeader, type NpyDtypes } from '../util/npy.js';
import { MAX_WHOLE_FILE_BYTES, type RegularFile, withRegularFile } from '../util/regular_file.js';
import { fieldSize, imageDataset, imageField, sampleCount, type Dataset } from './dataset.js';
import { IDX_LABELS_MAGIC, IDX_MAX_HEADER, isGzip, maybeGunzip, parseIdx, parseIdxHeader, readIdxFile } from './idx.js';
import { FilePixels, type PixelEncoding, type PixelFile } from './streamed.js';
import { checkPixelRange } from './pixel_range.js';

export type FileFormat = 'idx' | 'npy';
/**
 * true: stream from disk; false: read whole; 'auto': stream when the pixels would take more than
 * STREAM_AUTO_FRACTION of availableMemory().
 */
export type StreamChoice = boolean | 'auto';

/** Above this fraction of the machine's memory, as float32, 'auto' streams a dataset's pixels. */
export const STREAM_AUTO_FRACTION = 0.25;

export interface FilePart {
  /** Dataset name, e.g. 'npy/train'. */
  readonly name: string;
  readonly format: FileFormat;
  /** Image files in sample order (shards are concatenated). */
  readonly images: readonly string[];
  /** Label files in sample order. */
  readonly labels: readonly string[];
  /** Config field naming these files, for errors, e.g. 'dataset.train'. */
  readonly field: string;
  /** Stored order of one `.npy` sample; IDX is always NHWC. */
  readonly layout?: 'nhwc' | 'nchw';
}

/** Opened files of one part: where the pixels are, how they are stored, and all the labels. */
export interface OpenedPart {
  readonly part: FilePart;
  readonly files: PixelFile[];
  readonly encoding: PixelEncoding;
  readonly labels: Int32Array;
  /** Samples in each label file, in order. */
  readonly labelCounts: number[];
  /** The whole pixel data when it could not be opened for streaming (gzipped IDX). */
  readonly gzipped: Float32Array | null;
}

/**
 * Expands a config's file list: each entry is a path or a glob pattern (`shards/train-*.npy`),
 * matched files sorted in natural order (train-2 before train-10). `field` names it in errors.
 */
export function expandFiles(entries: string | readonly string[], field: string): string[] {
  const list = typeof entries === 'string' ? [entries] : entries;
  return list.flatMap((entry, i) => {
    const where = list.length > 1 ? `${field}[${i}]` : field;
    if (!isDynamicPattern(entry)) return [entry];
    const matches = globSync(entry, { onlyFiles: true, expandDirectories: false });
    if (matches.length === 0) throw new InputError(`${where}: the pattern '${entry}' matches no file`);
    return matches.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  });
}

/** Reads the headers and labels of a part; no pixel is read yet. */
export function openPart(part: FilePart): OpenedPart {
  if (part.images.length === 0) throw new InputError(`${part.field}.images: no files`);
  if (part.labels.length === 0) throw new InputError(`${part.field}.labels: no files`);
  const opened = part.format === 'idx' ? openIdxImages(part) : openNpyImages(part);
  const labelParts = part.labels.map((path, i) => {
    const field = part.labels.length > 1 ? `${part.field}.labels[${i}]` : `${part.field}.labels`;
    return part.format === 'idx' ? idxLabels(path, field) : npyLabels(path, field);
  });
  const labels = new Int32Array(labelParts.reduce((total, each) => total + each.length, 0));
  let labelOffset = 0;
  for (const each of labelParts) {
    labels.set(each, labelOffset);
    labelOffset += each.length;
  }
  const imageCount = opened.files.reduce((total, file) => total + file.count, 0);
  if (imageCount !== labels.length) {
    throw new InputError(
      `${part.field}: ${imageCount} images (${describeFiles(part.images)}) but ${labels.length} labels (${describeFiles(part.labels)}); they must match`,
    );
  }
  return { part, ...opened, labels, labelCounts: labelParts.map((each) => each.length) };
}

/** Float32 bytes the pixels of these parts would take in memory. */
function pixelBytes(parts: readonly OpenedPart[]): number {
  return parts.reduce(
    (
      total,
      {
        labels,
        encoding: {
          sampleShape: [h, w, c],
        },
      },
    ) => total + 4 * labels.length * h * w * c,
    0,
  );
}

/**
 * The memory this process may use: the machine's, or its cgroup's limit when lower (a container
 * or `systemd-run -p MemoryMax=`), which is what an over-large load would run into.
 */
export function availableMemory(): number {
  const limit = process.constrainedMemory?.() ?? 0;
  return limit > 0 ? Math.min(limit, totalmem()) : totalmem();
}

/**
 * Whether to stream the parts' pixels: as `choice` says, or for 'auto' when they would fill more
 * than STREAM_AUTO_FRACTION of availableMemory().
 */
export function shouldStream(choice: StreamChoice, parts: readonly OpenedPart[], field: string): boolean {
  const gzipped = parts.find((part) => part.gzipped !== null);
  if (choice === true && gzipped) {
    throw new InputError(
      `${field}: ${gzipped.part.images[0]} is gzipped, and a gzip stream cannot be read at random offsets, which streaming needs. ` +
        `Decompress it once (gunzip -k ${gzipped.part.images[0]}) and point the config at the result, or set ${field}: false`,
    );
  }
  if (choice !== 'auto') return choice;
  return !gzipped && pixelBytes(parts) > STREAM_AUTO_FRACTION * availableMemory();
}

/** The part as a Dataset: pixels streamed from its files, or read whole into memory. */
export function partDataset(opened: OpenedPart, classNames: readonly string[], stream: boolean): Dataset {
  const { part, labels, encoding } = opened;
  const numClasses = classNames.length;
  const bad = labels.findIndex((label) => label < 0 || label >= numClasses);
  if (bad >= 0) {
    throw new InputError(
      `${locate(opened, bad)}: label ${labels[bad]} is outside [0, ${numClasses}); dataset.classes has ${numClasses} classes`,
    );
  }
  const fields = { name: part.name, labels, numClasses, classNames, rawScale: encoding.dtype === 'uint8' ? 1 / 255 : 1 };
  const sampleShape = encoding.sampleShape;
  if (opened.gzipped) return imageDataset({ ...fields, sampleShape, images: opened.gzipped });
  const pixels = new FilePixels(opened.files, encoding);
  const inputs = [imageField(sampleShape)];
  if (stream) return { ...fields, inputs, samples: pixels };
  const size = fieldSize(inputs[0]);
  const images = new Float32Array(sampleCount(fields) * size);
  const chunk = 4096;
  for (let start = 0; start < labels.length; start += chunk) {
    const end = Math.min(start + chunk, labels.length);
    pixels.readPixels(
      Int32Array.from({ length: end - start }, (_, i) => start + i),
      images.subarray(start * size, end * size),
    );
  }
  pixels.close();
  return imageDataset({ ...fields, sampleShape, images });
}

function describeFiles(paths: readonly string[]): string {
  return paths.length === 1 ? paths[0] : `${paths.length} files, ${paths[0]} …`;
}

/** The label file and position within it of sample `index`, for error messages. */
function locate(opened: OpenedPart, index: number): string {
  let file = 0;
  let first = 0;
  while (index >= first + opened.labelCounts[file]) first += opened.labelCounts[file++];
  return `${opened.part.labels[file]}: label at index ${index - first}`;
}

/** Opens one of a part's files; its config field `field` and its path name it in errors. */
function withPartFile<T>(path: string, field: string, use: (file: RegularFile) => T): T {
  return withRegularFile(path, `${field}: cannot read ${path}`, use);
}

function openIdxImages(part: FilePart): Pick<OpenedPart, 'files' | 'encoding' | 'gzipped'> {
  if (part.images.length !== 1 || part.labels.length !== 1) {
    throw new InputError(`${part.field}: an IDX part is one images file and one labels file; shard with .npy files instead`);
  }
  const path = part.images[0];
  return withPartFile(path, `${part.field}.images`, (file) => {
    const head = file.read(0, IDX_MAX_HEADER);
    const gzip = isGzip(head);
    const bytes = gzip ? maybeGunzip(file.readAll(MAX_WHOLE_FILE_BYTES), path) : head;
    const header = parseIdxHeader(bytes, gzip ? bytes.length : file.sizeBytes, path);
    if (header.dataType !== 'uint8' && header.dataType !== 'float32') {
      throw new InputError(`${path}: IDX images of ${header.dataType} are not supported; expected uint8 (scaled by 1/255) or float32`);
    }
    if (header.dims.length !== 3 && header.dims.length !== 4) {
      throw new InputError(
        `${path}: IDX images need 3 dimensions [count, height, width] or 4 [count, height, width, channels], the header has ${header.dims.length}`,
      );
    }
    const sampleShape = sampleShapeOf(header.dims.slice(1), 'nhwc', path);
    const encoding: PixelEncoding = { dtype: header.dataType === 'uint8' ? 'uint8' : 'float32be', layout: 'nhwc', sampleShape };
    const pixelFile: PixelFile = { path, dataOffset: header.headerBytes, count: header.dims[0] };
    if (!gzip) return { files: [pixelFile], encoding, gzipped: null };
    const values = parseIdx(bytes, path).values;
    const images = new Float32Array(values.length);
    if (header.dataType === 'uint8') for (let i = 0; i < values.length; i++) images[i] = values[i] / 255;
    else {
      images.set(values);
      const size = sampleShape[0] * sampleShape[1] * sampleShape[2];
      for (let sample = 0; sample < pixelFile.count; sample++)
        checkPixelRange(images.subarray(sample * size, (sample + 1) * size), path, sample);
    }
    return { files: [pixelFile], encoding, gzipped: images };
  });
}

/** [height, width, channels] from a sample's stored dimensions. */
function sampleShapeOf(dims: readonly number[], layout: 'nhwc' | 'nchw', path: string): [number, number, number] {
  const shape: [number, number, number] =
    dims.length === 2 ? [dims[0], dims[1], 1] : layout === 'nhwc' ? [dims[0], dims[1], dims[2]] : [dims[1], dims[2], dims[0]];
  if (shape.some((size) => size === 0)) throw new InputError(`${path}: samples of shape ${dims.join('×')} are empty`);
  return shape;
}

const NPY_PIXEL_TYPES: Readonly<Record<string, PixelEncoding['dtype']>> = {
  '|u1': 'uint8',
  '<f4': 'float32le',
  '>f4': 'float32be',
  '<f2': 'float16le',
};

function openNpyImages(part: FilePart): Pick<OpenedPart, 'files' | 'encoding' | 'gzipped'> {
  const layout = part.layout ?? 'nhwc';
  let encoding: PixelEncoding | null = null;
  const files = part.images.map((path, i) => {
    const field = part.images.length > 1 ? `${part.field}.images[${i}]` : `${part.field}.images`;
    const header = withPartFile(path, field, (file) =>
      npyHeader(file, {
        descrs: Object.keys(NPY_PIXEL_TYPES),
        expected: "images: expected uint8 ('|u1', scaled by 1/255), float32 ('<f4') or float16 ('<f2')",
      }),
    );
    const dtype = NPY_PIXEL_TYPES[header.descr];
    if (header.shape.length !== 3 && header.shape.length !== 4) {
      throw new InputError(
        `${path}: images need shape (count, height, width) or (count, ${layout === 'nhwc' ? 'height, width, channels' : 'channels, height, width'}), got (${header.shape.join(', ')})`,
      );
    }
    const sampleShape = sampleShapeOf(header.shape.slice(1), layout, path);
    if (encoding === null) encoding = { dtype, layout, sampleShape };
    else if (encoding.dtype !== dtype || encoding.sampleShape.join() !== sampleShape.join()) {
      throw new InputError(
        `${path}: holds ${header.descr} samples of ${sampleShape.join('×')}, but ${part.images[0]} holds ${encoding.dtype} samples of ${encoding.sampleShape.join('×')}; all shards must match`,
      );
    }
    return { path, dataOffset: header.dataStart, count: header.shape[0] };
  });
  return { files, encoding: encoding!, gzipped: null };
}

/** The header of an open `.npy` file, read from the file's first bytes. */
function npyHeader(file: RegularFile, accepts: NpyDtypes): ReturnType<typeof parseNpyHeader> {
  const head = file.read(0, NPY_PREAMBLE_BYTES);
  const needed = npyHeaderBytes(head);
  return parseNpyHeader(needed > head.length ? file.read(0, needed) : head, file.sizeBytes, file.path, accepts);
}

function idxLabels(path: string, field: string): Int32Array {
  withPartFile(path, field, () => undefined); // so that a missing file is named with its config field
  const { values, dims } = readIdxFile(path, IDX_LABELS_MAGIC);
  if (dims.length !== 1) throw new InputError(`${path}: labels need 1 dimension, the header has ${dims.length}`);
  return Int32Array.from(values);
}

/** Integer label dtypes: little-endian or single-byte, read at their full width. */
const LABEL_READERS: Readonly<Record<string, (view: DataView, offset: number) => number | bigint>> = {
  '|u1': (view, offset) => view.getUint8(offset),
  '|i1': (view, offset) => view.getInt8(offset),
  '<u2': (view, offset) => view.getUint16(offset, true),
  '<i2': (view, offset) => view.getInt16(offset, true),
  '<u4': (view, offset) => view.getUint32(offset, true),
  '<i4': (view, offset) => view.getInt32(offset, true),
  '<i8': (view, offset) => view.getBigInt64(offset, true),
  '<u8': (view, offset) => view.getBigUint64(offset, true),
};

function npyLabels(path: string, field: string): Int32Array {
  return withPartFile(path, field, (file) => {
    const header = npyHeader(file, {
      descrs: Object.keys(LABEL_READERS),
      expected: 'labels: expected integers (uint8, int16, int32 or int64)',
    });
    const reader = LABEL_READERS[header.descr]!;
    if (header.shape.length !== 1) throw new InputError(`${path}: labels need shape (count,), got (${header.shape.join(', ')})`);
    // The header matched the file's size, so this reads exactly the labels it promises.
    const bytes = file.read(header.dataStart, file.sizeBytes - header.dataStart);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const labels = new Int32Array(header.shape[0]);
    for (let i = 0; i < labels.length; i++) {
      const label = reader(view, i * header.itemBytes);
      // Checked before it is narrowed to int32, so the message shows the value in the file.
      if (label < -2147483648 || label > 2147483647) {
        throw new InputError(
          `${path}: label at index ${i} is ${label}, outside any class range; labels are class indices 0, 1, … classes − 1`,
        );
      }
      labels[i] = Number(label);
    }
    return labels;
  });
}
