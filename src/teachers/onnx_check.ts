/**
 * A decode of an ONNX teacher file with kdkit's own ModelProto schema before ONNX Runtime sees it.
 * ONNX Runtime accepts some files kdkit's decoder refuses (it does not check that strings are
 * UTF-8, which protobufjs does), and kdkit decodes every teacher afterwards to count its weights;
 * a file that only one of them can read is refused here, with the file named, instead of failing
 * later with a bare TypeError (found by src/fuzz/onnx.fuzz.test.ts).
 */
import { decodeModel } from '../engine/ort/onnx_model.js';
import { InputError } from '../errors.js';

/** The decoded ModelProto; an InputError prefixed by `where` when protobufjs cannot decode it. */
export function decodeOnnxTeacher(bytes: Uint8Array, where: string): Record<string, unknown> {
  try {
    return decodeModel(bytes);
  } catch (error) {
    throw new InputError(`${where}: not an ONNX model kdkit can decode (${(error as Error).message})`);
  }
}
