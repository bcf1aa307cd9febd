/**
 * Tokenized text datasets kept in the run's store (the soft-label store's directory), so that a
 * second run or a `--resume` on the same data and tokenizer neither learns the vocabulary nor
 * tokenizes again. An entry is keyed by the SHA-256 of what decides its content: both files'
 * bytes, the fields read, the classes, the tokenizer (a tokenizer.json's bytes, or the WordPiece
 * options) and maxLength.
 *
 *   <store>/tokens-<key>/
 *     manifest.json     written last: the format, the key, the fields, classes and counts
 *     tokenizer.json    the tokenizer the ids came from
 *     {train,test}-texts.json  the texts, in sample order (an LLM teacher is asked about them;
 *                       deployment latency is timed on the test texts)
 *     {train,test}.{labels,<field>}.i32   little-endian int32, sample-major
 *
 * Every file is written atomically and the manifest last, so an entry is whole or absent. An
 * entry that does not read back as its manifest says is rebuilt, never trusted.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/atomic.js';
import { sha256, sha256File } from '../../util/hash.js';
import { memoryDataset, allSamples, type Dataset, type InputField } from '../dataset.js';
import type { TextDatasetSpec, TextParts } from './dataset.js';
import { TextTokenizer } from './tokenizer.js';

/** Bumped when the layout or the tokenization changes, so older entries are rebuilt. */
const FORMAT = 2;

interface Manifest {
  format: number;
  key: string;
  fields: InputField[];
  classNames: string[];
  counts: { train: number; test: number };
  tokenizerDescription: string;
}

/** The entry's key: everything the tokenized samples depend on. */
export function textCacheKey(spec: TextDatasetSpec): string {
  const tokenizer = typeof spec.tokenizer === 'string' ? { file: sha256File(spec.tokenizer) } : spec.tokenizer;
  const fields = {
    textField: spec.textField,
    labelField: spec.trainLabels === false ? { test: spec.labelField } : spec.labelField,
    classes: spec.classes ?? null,
    maxLength: spec.maxLength,
  };
  return sha256(JSON.stringify({ format: FORMAT, tokenizer, fields }), sha256File(spec.train), sha256File(spec.test));
}

/**
 * The parts from the entry in `store` for `spec`, or `compute()`'s, written there for next time.
 * `cached` says which.
 */
export function cachedTextParts(spec: TextDatasetSpec, store: string, compute: () => TextParts): TextParts & { cached: boolean } {
  const key = textCacheKey(spec);
  const directory = join(store, `tokens-${key.slice(0, 24)}`);
  const loaded = readEntry(directory, key, spec);
  if (loaded) return { ...loaded, cached: true };
  const parts = compute();
  writeEntry(directory, key, parts);
  return { ...parts, cached: false };
}

function writeEntry(directory: string, key: string, parts: TextParts): void {
  const writeSplit = (which: 'train' | 'test', dataset: Dataset) => {
    const samples = allSamples(dataset);
    for (const field of dataset.inputs) writeInt32(join(directory, `${which}.${field.name}.i32`), samples[field.name] as Int32Array);
    writeInt32(join(directory, `${which}.labels.i32`), dataset.labels);
  };
  writeSplit('train', parts.train);
  writeSplit('test', parts.test);
  writeFileAtomic(join(directory, 'tokenizer.json'), JSON.stringify(parts.tokenizer.json));
  writeFileAtomic(join(directory, 'train-texts.json'), JSON.stringify(parts.train.texts));
  writeFileAtomic(join(directory, 'test-texts.json'), JSON.stringify(parts.testTexts));
  const manifest: Manifest = {
    format: FORMAT,
    key,
    fields: [...parts.train.inputs],
    classNames: [...parts.train.classNames],
    counts: { train: parts.train.labels.length, test: parts.test.labels.length },
    tokenizerDescription: parts.tokenizer.description,
  };
  writeFileAtomic(join(directory, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

const writeInt32 = (path: string, values: Int32Array) =>
  writeFileAtomic(path, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));

/** The entry, or null when it is absent, of another key or format, or does not read back whole. */
function readEntry(directory: string, key: string, spec: TextDatasetSpec): TextParts | null {
  const manifestPath = join(directory, 'manifest.json');
  if (!existsSync(manifestPath)) return null;
  try {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
    if (manifest.format !== FORMAT || manifest.key !== key) return null;
    const split = (which: 'train' | 'test'): Dataset => {
      const count = manifest.counts[which];
      const texts = JSON.parse(readFileSync(join(directory, `${which}-texts.json`), 'utf8')) as string[];
      if (texts.length !== count) throw new Error(`${which}-texts.json: ${texts.length} texts`);
      const read = (name: string, size: number) => {
        const bytes = readFileSync(join(directory, `${which}.${name}.i32`));
        if (bytes.length !== count * size * 4) throw new Error(`${which}.${name}: ${bytes.length} bytes`);
        return new Int32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
      };
      const dataset = memoryDataset({
        name: `${spec.name}/${which}`,
        inputs: manifest.fields,
        values: Object.fromEntries(manifest.fields.map((field) => [field.name, read(field.name, field.shape[0])])),
        labels: read('labels', 1),
        numClasses: manifest.classNames.length,
        classNames: manifest.classNames,
      });
      return { ...dataset, texts };
    };
    const tokenizer = new TextTokenizer(
      JSON.parse(readFileSync(join(directory, 'tokenizer.json'), 'utf8')),
      `dataset.tokenizer (cached in ${directory})`,
      manifest.tokenizerDescription,
    );
    const test = split('test');
    return { train: split('train'), test, tokenizer, testTexts: test.texts! };
  } catch {
    return null;
  }
}
