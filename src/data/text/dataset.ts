/**
 * Text classification datasets: labelled texts read from files (read.ts), tokenized into the named
 * int32 inputs `input_ids`, `attention_mask` (and `token_type_ids` for BERT's templates) of
 * `maxLength` tokens, by a tokenizer.json or a WordPiece vocabulary learned from the training
 * split. Banking77 (data/banking77/, CC BY 4.0) is embedded.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../../errors.js';
import { memoryDataset, type Dataset } from '../dataset.js';
import type { TrainTestParts } from '../mnist_family.js';
import { readTextRecords, type TextFields, type TextRecords } from './read.js';
import { TextTokenizer } from './tokenizer.js';
import { bertTokenizerJson, trainWordPiece, type WordPieceOptions } from './wordpiece.js';

/** A tokenizer.json to load, or a WordPiece vocabulary to learn from the training texts. */
export type TokenizerSpec = string | ({ train: 'wordpiece' } & WordPieceOptions);

export interface TextDatasetSpec extends TextFields {
  /** Names the parts in logs and errors: `${name}/train`. */
  name: string;
  train: string;
  test: string;
  /** The class names in index order, or their count (labels 0 … n−1); else the training labels, sorted. */
  classes?: number | readonly string[];
  tokenizer: TokenizerSpec;
  maxLength: number;
  /**
   * false: the training texts' labels are not read (they may be absent): a transfer set the
   * teacher labels. Their labels are -1 until the run replaces them with the teacher's answers.
   */
  trainLabels?: boolean;
}

/** The label of a training sample whose label was not read (`trainLabels: false`). */
export const NO_LABEL = -1;

/** Train and test as token inputs, and the tokenizer that made them (exported beside the student). */
export interface TextParts extends TrainTestParts {
  readonly tokenizer: TextTokenizer;
  /** The test split's texts, in order: deployment latency is timed on them, tokenization included. */
  readonly testTexts: readonly string[];
}

export function loadTextParts(spec: TextDatasetSpec): TextParts {
  const unlabelled = spec.trainLabels === false;
  const train = readTextRecords(spec.train, unlabelled ? { ...spec, labelField: null } : spec, 'dataset.train');
  const test = readTextRecords(spec.test, spec, 'dataset.test');
  if (train.texts.length === 0) throw new InputError(`dataset.train: ${spec.train} has no records`);
  if (test.texts.length === 0) throw new InputError(`dataset.test: ${spec.test} has no records`);
  if (unlabelled && spec.classes === undefined) {
    throw new InputError('dataset.classes: list the classes (trainLabels is false, so they cannot be read from the training labels)');
  }
  const classNames = classNamesOf(spec.classes, train);
  const tokenizer = tokenizerOf(spec.tokenizer, train.texts);
  const part = (records: TextRecords, path: string, which: 'train' | 'test'): Dataset => {
    const encoded = tokenizer.encode(records.texts, spec.maxLength);
    const dataset = memoryDataset({
      name: `${spec.name}/${which}`,
      inputs: tokenizer.fields(spec.maxLength),
      values: { ...encoded },
      labels:
        which === 'train' && unlabelled
          ? new Int32Array(records.texts.length).fill(NO_LABEL)
          : labelIndices(records, classNames, path, spec.classes === undefined),
      numClasses: classNames.length,
      classNames,
    });
    return { ...dataset, texts: records.texts };
  };
  return { train: part(train, spec.train, 'train'), test: part(test, spec.test, 'test'), tokenizer, testTexts: test.texts };
}

function tokenizerOf(spec: TokenizerSpec, trainTexts: readonly string[]): TextTokenizer {
  if (typeof spec === 'string') return TextTokenizer.load(spec, 'dataset.tokenizer');
  const vocab = trainWordPiece(trainTexts, spec);
  return new TextTokenizer(
    bertTokenizerJson(vocab, spec.lowercase),
    'dataset.tokenizer (WordPiece learned from dataset.train)',
    'WordPiece learned from the training split',
  );
}

/** The classes a config gives, or the distinct training labels in order (numeric when all are integers). */
function classNamesOf(classes: number | readonly string[] | undefined, train: TextRecords): readonly string[] {
  if (typeof classes === 'number') return Array.from({ length: classes }, (_, i) => String(i));
  if (classes !== undefined) {
    const seen = new Set<string>();
    for (const name of classes) {
      if (seen.has(name)) throw new InputError(`dataset.classes: '${name}' is listed twice`);
      seen.add(name);
    }
    return classes;
  }
  const distinct = [...new Set(train.labels)];
  const numeric = distinct.every((label) => /^-?\d+$/.test(label));
  distinct.sort(numeric ? (a, b) => Number(a) - Number(b) : undefined);
  if (distinct.length < 2) {
    throw new InputError(`dataset.train: every record has the label '${distinct[0]}'; a classifier needs at least 2 classes`);
  }
  return distinct;
}

function labelIndices(records: TextRecords, classNames: readonly string[], path: string, inferred: boolean): Int32Array {
  const index = new Map(classNames.map((name, i) => [name, i]));
  return Int32Array.from(records.labels, (label, i) => {
    const found = index.get(label);
    if (found === undefined) {
      const among = inferred
        ? "the training split's labels (list every class in dataset.classes)"
        : `the ${classNames.length} in dataset.classes`;
      throw new InputError(`${path} line ${records.lines[i]}: label '${label}' is not one of ${among}`);
    }
    return found;
  });
}

/** data/banking77/ in the package, from src/data/text/ and dist/data/text/ alike. */
export const BANKING77_DIR = fileURLToPath(new URL('../../../data/banking77/', import.meta.url));

/** Banking77's 77 intents in the order of its categories.json. */
export function banking77Classes(): readonly string[] {
  return JSON.parse(readFileSync(`${BANKING77_DIR}categories.json`, 'utf8')) as string[];
}

/** The embedded Banking77 (Casanueva et al. 2020): 10,003 training and 3,080 test queries. */
export function loadBanking77(tokenizer: TokenizerSpec, maxLength: number): TextParts {
  return loadTextParts(banking77Spec(tokenizer, maxLength));
}

/** Banking77 as a text dataset spec: its files in the package, its 77 classes in order. */
export function banking77Spec(tokenizer: TokenizerSpec, maxLength: number, trainLabels = true): TextDatasetSpec {
  return {
    trainLabels,
    name: 'banking77',
    train: `${BANKING77_DIR}train.csv`,
    test: `${BANKING77_DIR}test.csv`,
    textField: 'text',
    labelField: 'category',
    classes: banking77Classes(),
    tokenizer,
    maxLength,
  };
}
