/**
 * A decode of an ONNX teacher file with kdkit's own ModelProto schema before ONNX Runtime sees it.
 * ONNX Runtime accepts some files kdkit's decoder refuses (it does not check that strings are
 * UTF-8, which protobufjs does), and kdkit decodes every teacher afterwards to count its weights;
 * a file that only one of them can read is refused here, with the file named, instead of failing
 * later with a bare TypeError (found by src/fuzz/onnx.fuzz.test.ts).
 */
import { dirname, isAbsolute, resolve, sep } from 'node:path';
import { getFloat16 } from '@petamoriken/float16';
import { decodeModel } from '../engine/ort/onnx_model.js';
import { InputError } from '../errors.js';
import { withRegularFile } from '../util/regular_file.js';

/** The decoded ModelProto; an InputError prefixed by `where` when protobufjs cannot decode it. */
export function decodeOnnxTeacher(bytes: Uint8Array, where: string): Record<string, unknown> {
  try {
    return decodeModel(bytes);
  } catch (error) {
    throw new InputError(`${where}: not an ONNX model kdkit can decode (${(error as Error).message})`);
  }
}

/** One weight a teacher file keeps in another file. */
export interface ExternalData {
  readonly initializer: string;
  /** The file, resolved against the model's directory. */
  readonly path: string;
  readonly sizeBytes: number;
}

const EXTERNAL = 1;

/**
 * The files a teacher's weights live in besides `modelPath` (ONNX external data, as
 * torch.onnx.export writes for models over 2 GB), checked before ONNX Runtime opens them: each
 * must be a relative path that stays in the model's directory, exist, and hold the bytes the
 * model reads from it. An InputError prefixed by `where` names the initializer otherwise.
 */
export function externalDataFiles(model: Record<string, unknown>, modelPath: string, where: string): ExternalData[] {
  const graph = model.graph as
    | { initializer?: { name?: string; dataLocation?: number; externalData?: { key?: string; value?: string }[] }[] }
    | undefined;
  const directory = resolve(dirname(modelPath));
  const found: ExternalData[] = [];
  for (const tensor of graph?.initializer ?? []) {
    if (tensor.dataLocation !== EXTERNAL) continue;
    const name = tensor.name ?? '(unnamed)';
    const entries = new Map((tensor.externalData ?? []).map(({ key, value }) => [key ?? '', value ?? '']));
    const location = entries.get('location');
    if (!location) throw new InputError(`${where}: initializer '${name}' is stored outside the file but names no location`);
    const path = resolve(directory, location);
    if (isAbsolute(location) || !path.startsWith(directory + sep)) {
      throw new InputError(
        `${where}: initializer '${name}' keeps its data in '${location}', outside the model's directory ${directory}; external data must sit beside the model`,
      );
    }
    const size = withRegularFile(
      path,
      `${where}: initializer '${name}' keeps its data in ${path}, which cannot be read`,
      (file) => file.sizeBytes,
    );
    const offset = Number(entries.get('offset') ?? 0);
    const length = entries.has('length') ? Number(entries.get('length')) : size - offset;
    if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= size)) {
      throw new InputError(
        `${where}: initializer '${name}' reads bytes ${entries.get('offset') ?? 0} + ${entries.get('length') ?? '(rest)'} of ${path}, which has ${size}`,
      );
    }
    found.push({ initializer: name, path, sizeBytes: size });
  }
  return found;
}

/**
 * Refuses a model whose float weights kept in raw_data (as torch.onnx.export and kdkit write them;
 * external data and the rarer float_data are not read here) include NaN or ±Infinity: they make
 * the outputs NaN, which would otherwise pass as logits.
 */
export function checkFiniteInitializers(model: Record<string, unknown>, where: string): void {
  const graph = model.graph as { initializer?: { name?: string; dataType?: number; rawData?: Uint8Array }[] } | undefined;
  for (const tensor of graph?.initializer ?? []) {
    const read = FLOAT_READERS[tensor.dataType ?? 0];
    const raw = tensor.rawData;
    if (!read || !raw) continue;
    const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const count = Math.floor(raw.byteLength / read.bytes);
    let first = -1;
    let bad = 0;
    for (let i = 0; i < count; i++) {
      if (Number.isFinite(read.value(view, i * read.bytes))) continue;
      if (bad++ === 0) first = i;
    }
    if (bad > 0) {
      throw new InputError(
        `${where}: initializer '${tensor.name ?? '(unnamed)'}' has ${bad} non-finite values (${read.value(view, first * read.bytes)} at index ${first}); the model cannot be evaluated`,
      );
    }
  }
}

/** Little-endian float readers by ONNX data type: FLOAT, FLOAT16, DOUBLE. */
const FLOAT_READERS: Readonly<Record<number, { bytes: number; value: (view: DataView, offset: number) => number }>> = {
  1: { bytes: 4, value: (view, offset) => view.getFloat32(offset, true) },
  10: { bytes: 2, value: (view, offset) => getFloat16(view, offset, true) },
  11: { bytes: 8, value: (view, offset) => view.getFloat64(offset, true) },
};
