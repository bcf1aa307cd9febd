/**
 * What a page needs besides the model to use the student: `student/labels.json` (the class names
 * in the order of the logits) and `student/preprocess.json` (what to do to an input first), so
 * that report.md's snippets read them instead of hard-coding a run's classes and scaling; and for
 * a text student `student/kdkit-layers.mjs`, kdkit's text layers for the page's TensorFlow.js.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Dataset, IMAGE_FIELD } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic.js';

export const LABELS_FILE = 'labels.json';
export const PREPROCESS_FILE = 'preprocess.json';
/** kdkit/layers as one ES module importing '@tensorflow/tfjs' (scripts/build-browser.mjs builds it). */
export const TEXT_LAYERS_FILE = 'kdkit-layers.mjs';
const textLayersBundle = new URL('../browser/layers.mjs', import.meta.url);

/** An image student's input: x = (raw · scale − mean[c]) / std[c], shaped [1, ...shape]. */
export interface ImagePreprocess {
  kind: 'image';
  /** The TensorFlow.js model's and the ONNX model's input name. */
  input: string;
  /** One sample, [height, width, channels]. */
  shape: number[];
  /** The TensorFlow.js model's layout; the ONNX copies' is `onnxLayout`. */
  layout: 'nhwc';
  onnxLayout: 'nhwc' | 'nchw';
  dtype: 'float32';
  /** The pixels as stored (0–255 for uint8 images, 0–16 for the embedded digits) times this. */
  scale: number;
  mean: number[];
  std: number[];
  output: 'logits';
}

/** A text student's inputs: the tokenizer's ids, truncated and padded on the right to maxLength. */
export interface TextPreprocess {
  kind: 'text';
  inputs: string[];
  /** int32 for TensorFlow.js; the ONNX copies take int64. */
  dtype: 'int32';
  onnxDtype: 'int64';
  maxLength: number;
  /** Relative to student/. */
  tokenizer: string;
  padding: 'right';
  /** The id the inputs are padded with (attention_mask 0 there). */
  padId: number;
  output: 'logits';
}

export type Preprocess = ImagePreprocess | TextPreprocess;

/** What the student's input is, from the dataset it was tested on. */
export function preprocessOf(test: Dataset, onnxLayout: 'nhwc' | 'nchw', tokenizer: { file: string; padId: number } | null): Preprocess {
  const [first] = test.inputs;
  if (first.name === IMAGE_FIELD && test.inputs.length === 1) {
    const channels = first.shape[2];
    return {
      kind: 'image',
      input: IMAGE_FIELD,
      shape: [...first.shape],
      layout: 'nhwc',
      onnxLayout,
      dtype: 'float32',
      scale: test.rawScale ?? 1,
      mean: new Array(channels).fill(0),
      std: new Array(channels).fill(1),
      output: 'logits',
    };
  }
  return {
    kind: 'text',
    inputs: test.inputs.map((field) => field.name),
    dtype: 'int32',
    onnxDtype: 'int64',
    maxLength: first.shape[0],
    tokenizer: tokenizer?.file ?? '../tokenizer.json',
    padding: 'right',
    padId: tokenizer?.padId ?? 0,
    output: 'logits',
  };
}

/** Writes labels.json and preprocess.json (and for text, kdkit-layers.mjs) into `studentDir`, each atomically. */
export function writePageFiles(studentDir: string, classNames: readonly string[], preprocess: Preprocess): void {
  writeFileAtomic(join(studentDir, LABELS_FILE), `${JSON.stringify(classNames)}\n`);
  writeFileAtomic(join(studentDir, PREPROCESS_FILE), `${JSON.stringify(preprocess, null, 2)}\n`);
  if (preprocess.kind !== 'text') return;
  let layers: Buffer;
  try {
    layers = readFileSync(textLayersBundle);
  } catch (error) {
    throw new Error(
      `kdkit's build is incomplete: ${fileURLToPath(textLayersBundle)} (${(error as Error).message}); npm run build writes it`,
    );
  }
  writeFileAtomic(join(studentDir, TEXT_LAYERS_FILE), layers);
}
