import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { TextTokenizer } from '../data/text/tokenizer.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-text-run-'));

/** A small intent set: 3 classes, 60 training and 12 test queries. */
function files(): { train: string; test: string } {
  const intents = {
    card: ['where is my card', 'my card has not arrived', 'when will my new card come', 'card still not here'],
    refund: ['i want a refund', 'how do i get my money back', 'refund my payment please', 'can you return my money'],
    pin: ['i forgot my pin', 'how to change my pin', 'reset the pin code', 'my pin is blocked'],
  };
  const rows = (count: number) =>
    Array.from({ length: count }, (_, i) => {
      const [label, texts] = Object.entries(intents)[i % 3];
      return `"${texts[i % 4]}${i % 2 ? ', please' : ''}",${label}`;
    });
  const train = join(directory, 'train.csv');
  const test = join(directory, 'test.csv');
  writeFileSync(train, ['text,intent', ...rows(60)].join('\n'));
  writeFileSync(test, ['text,intent', ...rows(12)].join('\n'));
  return { train, test };
}

test('a text run: a transformer teacher distilled into an embedding bag, with the learned tokenizer written beside the student', () => {
  const { train, test: testFile } = files();
  const config = join(directory, 'text.yaml');
  writeFileSync(
    config,
    [
      'seed: 2',
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, validation: 6, maxLength: 12, tokenizer: {train: wordpiece, vocabSize: 60, minFrequency: 1}}`,
      'teacher: {model: {type: transformer, layers: 1, hidden: 16, heads: 2, intermediate: 32}, epochs: 2, batchSize: 16}',
      'student: {model: {type: embeddingbag, dimensions: 8}}',
      'distill: {epochs: 2, batchSize: 16, preset: hinton}',
    ].join('\n'),
  );
  const out = join(directory, 'run');
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /input_ids, attention_mask, token_type_ids \[12\] \(\d+ tokens, WordPiece learned from the training split\)/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(summary.dataset.classNames, ['card', 'pin', 'refund']);
  assert.equal(summary.dataset.sampleShape, undefined);
  assert.equal(summary.artifacts.tokenizer, 'tokenizer.json');
  assert.deepEqual(Object.keys(summary.models).sort(), ['scratch', 'student', 'teacher']);
  // The written tokenizer is the one the run encoded with.
  const tokenizer = TextTokenizer.load(join(out, 'tokenizer.json'), 'test');
  assert.equal(tokenizer.decode(tokenizer.ids('Where is my CARD', 12).ids), 'where is my card');
  // report.md's TensorFlow.js page reads the inputs from preprocess.json and kdkit's text layers
  // from kdkit-layers.mjs, which imports the page's TensorFlow.js and nothing else.
  const preprocess = JSON.parse(readFileSync(join(out, 'student', 'preprocess.json'), 'utf8'));
  assert.deepEqual([preprocess.inputs, preprocess.maxLength], [['input_ids', 'attention_mask', 'token_type_ids'], 12]);
  assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /"kdkit\/layers":"\.\/student\/kdkit-layers\.mjs"/);
  const layers = readFileSync(join(out, 'student', 'kdkit-layers.mjs'), 'utf8');
  assert.deepEqual([...new Set([...layers.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((match) => match[1]))], ['@tensorflow/tfjs']);
  assert.match(layers, /registerTextLayers/);
  // student.onnx takes int64 ids and a mask, and is timed per query with tokenization.
  const [onnx] = summary.exports.onnx;
  assert.equal(onnx.path, 'student.onnx');
  assert.ok(onnx.maxAbsDiff <= 1e-4 && onnx.latency.query.p50Ms > 0);
  assert.equal(summary.exports.transformersJs, 'student-transformers');
});

test("a text student loaded from a run's model.json trains on the run's tokens and exports, its inputs paired by name", () => {
  const { train, test: testFile } = files();
  const previous = join(directory, 'run');
  const config = join(directory, 'loaded.yaml');
  writeFileSync(
    config,
    [
      'seed: 2',
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, validation: 6, maxLength: 12, tokenizer: ${join(previous, 'tokenizer.json')}}`,
      `teacher: {load: ${join(previous, 'teacher')}}`,
      `student: {load: ${join(previous, 'student')}, init: weights}`,
      'baseline: false',
      'distill: {epochs: 1, batchSize: 16, preset: hinton}',
    ].join('\n'),
  );
  const out = join(directory, 'loaded');
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.config.student.init, 'weights');
  assert.ok(summary.models.student.accuracy > 0);
  assert.ok(summary.exports.onnx[0].maxAbsDiff <= 1e-4);
});

test("transformers.js' pipeline('text-classification') loads the student's folder and gives the run's tokenizer and model's answers", async () => {
  const out = join(directory, 'run');
  const { pipeline, env } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = out;
  const classify = await pipeline('text-classification', 'student-transformers');
  const texts = ['Where is my card?', 'I forgot my PIN', 'refund my payment please, it has been a week and nothing came back at all'];
  const tokenizer = TextTokenizer.load(join(out, 'tokenizer.json'), 'test');
  const session = await ort.InferenceSession.create(join(out, 'student.onnx'));
  const config = JSON.parse(readFileSync(join(out, 'student-transformers', 'config.json'), 'utf8'));
  for (const text of texts) {
    // A text longer than the model's 12 tokens: transformers.js cuts the ids after the special
    // tokens are added, so the final [SEP] goes (Hugging Face's Python tokenizers, and kdkit, keep
    // it and cut the text instead). What it feeds the model is the first 12 ids.
    const full = tokenizer.ids(text, 1000).ids;
    const ids = full.length <= 12 ? tokenizer.ids(text, 12).ids : full.slice(0, 12);
    const tensor = (values: number[]) => new ort.Tensor('int64', BigInt64Array.from(values, BigInt), [1, values.length]);
    const logits = (
      await session.run({ input_ids: tensor(ids), attention_mask: tensor(ids.map(() => 1)), token_type_ids: tensor(ids.map(() => 0)) })
    ).logits.data as Float32Array;
    const exp = Array.from(logits, (value) => Math.exp(value - Math.max(...logits)));
    const expected = exp.map((value) => value / exp.reduce((sum, each) => sum + each, 0));
    const scores = (await classify(text, { top_k: null })) as Array<{ label: string; score: number }>;
    assert.equal(scores.length, 3);
    for (const { label, score } of scores) assert.ok(Math.abs(score - expected[config.label2id[label]]) < 1e-5, `${text}: ${label}`);
  }
  await session.release();
  await classify.dispose();
});

test('a text dataset with a label the training split lacks is exit 2 naming the file and line', () => {
  const { train } = files();
  const test = join(directory, 'stray.csv');
  writeFileSync(test, 'text,intent\nwhere is my card,card\nclose my account,closing\n');
  const config = join(directory, 'stray.yaml');
  writeFileSync(
    config,
    `dataset: {name: text, train: ${train}, test: ${test}, labelField: intent}\nteacher: {model: {type: embeddingbag}, epochs: 1}\nstudent: {model: {type: embeddingbag}}\ndistill: {epochs: 1, preset: hinton}\n`,
  );
  assertBadInput(
    kdkit('run', config, '--out', join(directory, 'stray')),
    /stray\.csv line 3: label 'closing' is not one of the training split's labels/,
  );
});

test("a transformer teacher distilled into a smaller transformer with TinyBERT's, MiniLM's and DistilBERT's terms", () => {
  const { train, test: testFile } = files();
  const config = join(directory, 'tinybert.yaml');
  writeFileSync(
    config,
    [
      'seed: 3',
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, validation: 6, maxLength: 12, tokenizer: {train: wordpiece, vocabSize: 60, minFrequency: 1}}`,
      'teacher: {model: {type: transformer, layers: 2, hidden: 16, heads: 2, intermediate: 32}, epochs: 1, batchSize: 16}',
      'student: {model: {type: transformer, layers: 1, hidden: 8, heads: 2, intermediate: 16}}',
      'distill:',
      '  epochs: 1',
      '  batchSize: 16',
      '  terms:',
      '    - {method: tinybert-attention, weight: 1, layers: uniform}',
      '    - {method: tinybert-hidden, weight: 1, layers: uniform}',
      '    - {method: minilm, weight: 1, student: layer_1.value, teacher: layer_2.value, relationHeads: 2}',
      '    - {method: distilbert-cosine, weight: 1, student: layer_1.hidden, teacher: layer_2.hidden}',
      '    - {method: soft-ce, weight: 1, temperature: 2}',
      'export: {onnx: false}',
    ].join('\n'),
  );
  const out = join(directory, 'tinybert');
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const student = summary.stages.find((stage: { name: string }) => stage.name === 'student');
  // layers: uniform expanded to layer_1 → layer_2 for attention; embeddings and layer_1 → layer_2 for hidden states.
  assert.deepEqual(Object.keys(student.history.at(-1).terms).sort(), [
    'distilbert-cosine',
    'minilm',
    'soft-ce',
    'tinybert-attention',
    'tinybert-hidden',
    'tinybert-hidden#2',
  ]);
});

test('a TinyBERT mapping that does not fit the models is exit 2 naming the term', () => {
  const { train, test: testFile } = files();
  const config = join(directory, 'uneven.yaml');
  writeFileSync(
    config,
    [
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, maxLength: 12, tokenizer: {train: wordpiece, vocabSize: 60, minFrequency: 1}}`,
      'teacher: {model: {type: transformer, layers: 3, hidden: 16, heads: 2, intermediate: 32}, epochs: 1}',
      'student: {model: {type: transformer, layers: 2, hidden: 8, heads: 2, intermediate: 16}}',
      'distill: {epochs: 1, terms: [{method: tinybert-attention, weight: 1, layers: uniform}]}',
    ].join('\n'),
  );
  assertBadInput(
    kdkit('run', config, '--out', join(directory, 'uneven')),
    /distill\.terms\[0\]\.layers: uniform: 3 teacher layers do not divide into 2 student layers/,
  );
});

test('a second run on the same data and tokenizer reads the tokens from the store; a changed file tokenizes again', () => {
  const { train, test: testFile } = files();
  const store = join(directory, 'store');
  const config = join(directory, 'cached.yaml');
  writeFileSync(
    config,
    [
      `dataset: {name: text, train: ${train}, test: ${testFile}, labelField: intent, validation: 6, maxLength: 12, tokenizer: {train: wordpiece, vocabSize: 60, minFrequency: 1}}`,
      'teacher: {model: {type: embeddingbag, dimensions: 4}, epochs: 1}',
      'student: {model: {type: embeddingbag, dimensions: 4}}',
      `softLabels: {store: ${store}}`,
      'distill: {epochs: 1, preset: hinton}',
      'export: {onnx: false}',
    ].join('\n'),
  );
  const first = kdkit('run', config, '--out', join(directory, 'cached-1'));
  assert.equal(first.status, 0, first.stderr);
  assert.doesNotMatch(first.stdout, /tokenized earlier/);
  const second = kdkit('run', config, '--out', join(directory, 'cached-2'));
  assert.equal(second.status, 0, second.stderr);
  assert.match(second.stdout, /WordPiece learned from the training split; tokenized earlier, read from the store/);
  // Same data, same tokens, same results.
  const accuracy = (run: string) => JSON.parse(readFileSync(join(directory, run, 'summary.json'), 'utf8')).models.student.accuracy;
  assert.equal(accuracy('cached-2'), accuracy('cached-1'));
  writeFileSync(testFile, `${readFileSync(testFile, 'utf8')}\n"where is my card now",card`);
  const third = kdkit('run', config, '--out', join(directory, 'cached-3'));
  assert.equal(third.status, 0, third.stderr);
  assert.doesNotMatch(third.stdout, /tokenized earlier/);
});
