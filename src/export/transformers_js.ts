/**
 * A text student laid out as a Hugging Face model folder, so that transformers.js loads it from a
 * local path with `pipeline('text-classification', dir)` (tested with @huggingface/transformers
 * 4.3.1 in Node) and Optimum's ORTModelForSequenceClassification can read it in Python:
 *
 *   config.json            model_type 'bert' (transformers.js' encoder classifier: it feeds the
 *                          session the tokenizer's input_ids, attention_mask and, if the graph
 *                          takes it, token_type_ids, and reads `logits`), id2label, label2id
 *   tokenizer.json         the run's tokenizer, with padding left to the caller (transformers.js
 *                          pads a batch to its longest text) and truncation at the model's length
 *   tokenizer_config.json  model_max_length (the position table's length) and pad_token
 *   onnx/model.onnx        student.onnx (float32), the file transformers.js loads by default
 *
 * Every file is written atomically.
 */
import { join } from 'node:path';
import type { TextTokenizer } from '../data/text/tokenizer.js';
import { writeFileAtomic } from '../util/atomic.js';

/** The folder's name in the run directory. */
export const TRANSFORMERS_JS_DIR = 'student-transformers';

export interface TransformersJsModel {
  /** The float32 ONNX export. */
  onnx: Uint8Array;
  tokenizer: TextTokenizer;
  /** Tokens per text the model takes at most (its position table). */
  maxLength: number;
  classNames: readonly string[];
}

/** Writes the folder under `outDir`; returns its path. */
export function writeTransformersJsDir(outDir: string, model: TransformersJsModel): string {
  const dir = join(outDir, TRANSFORMERS_JS_DIR);
  const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
  const id2label = Object.fromEntries(model.classNames.map((name, id) => [String(id), name]));
  const label2id = Object.fromEntries(model.classNames.map((name, id) => [name, id]));
  writeFileAtomic(
    join(dir, 'config.json'),
    json({
      architectures: ['BertForSequenceClassification'],
      model_type: 'bert',
      problem_type: 'single_label_classification',
      num_labels: model.classNames.length,
      id2label,
      label2id,
      max_position_embeddings: model.maxLength,
      pad_token_id: model.tokenizer.padId,
    }),
  );
  const truncation = { direction: 'Right', max_length: model.maxLength, strategy: 'LongestFirst', stride: 0 };
  writeFileAtomic(join(dir, 'tokenizer.json'), json({ ...model.tokenizer.json, padding: null, truncation }));
  writeFileAtomic(
    join(dir, 'tokenizer_config.json'),
    json({ tokenizer_class: 'PreTrainedTokenizerFast', model_max_length: model.maxLength, pad_token: model.tokenizer.padToken() }),
  );
  writeFileAtomic(join(dir, 'onnx', 'model.onnx'), model.onnx);
  return dir;
}
