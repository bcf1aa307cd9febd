// report.md's "Using the student" pages, as written, in headless Chromium: a digits run's every
// export (TensorFlow.js float32, float16, uint8; ONNX in NHWC and NCHW, float32, float16, uint8)
// loads from the run directory over HTTP through the page's import map, whose CDN URLs are
// answered from node_modules (the same files the CDN serves), and ranks the classes as Node
// does: the labels from student/labels.json, the probabilities the softmax of Node's logits.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { chromium, type Browser } from 'playwright-core';
import { loadDigits } from '../data/digits.js';
import { IMAGE_FIELD, imageDataset, memoryDataset, readRange } from '../data/dataset.js';
import { initEngine } from '../engine/index.js';
import { loadModelDir } from '../models/io.js';
import { predictLogits } from '../models/predict.js';
import { ORT_WASM_CDN, TFJS_CDN, TOKENIZERS_CDN, TRANSFORMERS_CDN } from '../report/usage.js';
import { TextTokenizer } from '../data/text/tokenizer.js';
import { kdkit } from './cli.test.util.js';
import { contentTypes, serveDirectories } from '../browser_page.test.util.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-pages-'));
const SAMPLES = 12;

/** A run of `dataset` exporting every copy, its ONNX copies in `layout`. */
function run(name: string, dataset: string, layout: 'nhwc' | 'nchw'): string {
  return runConfig(name, [
    `dataset: ${dataset}`,
    'teacher: {model: {type: mlp, hidden: [64]}, epochs: 10, optimizer: {type: adam, learningRate: 0.01}}',
    'student: {model: {type: mlp, hidden: [16]}}',
    'distill: {epochs: 10, optimizer: {type: adam, learningRate: 0.01}, preset: hinton}',
    `export: {quantize: [float16, uint8], onnx: true, onnxLayout: ${layout}}`,
  ]);
}

function runConfig(name: string, lines: string[]): string {
  const out = join(directory, name);
  const config = join(directory, `${name}.yaml`);
  writeFileSync(config, ['seed: 1', ...lines].join('\n'));
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);
  return out;
}

/** A version-1.0 `.npy` of `descr` with `shape` and the bytes of `data`. */
function npy(path: string, descr: string, shape: number[], data: Uint8Array): string {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  header += `${' '.repeat((64 - ((10 + header.length + 1) % 64)) % 64)}\n`;
  const preamble = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  preamble.writeUInt16LE(header.length, 8);
  writeFileSync(path, Buffer.concat([preamble, Buffer.from(header, 'latin1'), Buffer.from(data)]));
  return path;
}

/**
 * 6×6 RGB images, uint8, whose class is the channel that is brightest on average (red, green,
 * blue), from a fixed generator: a set where the channel order matters, to check NCHW pages.
 */
function rgbImages(count: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  let state = seed;
  const next = () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pixels = new Uint8Array(count * 6 * 6 * 3);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 3;
    labels[i] = label;
    for (let p = 0; p < 36; p++)
      for (let c = 0; c < 3; c++) pixels[(i * 36 + p) * 3 + c] = Math.floor(next() * 160) + (c === label ? 90 : 0);
  }
  return { pixels, labels };
}

/** The ```html blocks under "Using the student", with the copies listed before each. */
function pages(markdown: string): { code: string; copies: string[] }[] {
  const usage = markdown.slice(markdown.indexOf('## Using the student'));
  const found: { code: string; copies: string[] }[] = [];
  const block = /((?:^- .*\n)+)\n```html\n([\s\S]*?)\n```/gm;
  for (let match = block.exec(usage); match; match = block.exec(usage)) {
    const copies = [...match[1].matchAll(/`([^`]+)`$/gm)].map((copy) => copy[1]);
    found.push({ code: match[2], copies });
  }
  return found;
}

/** transformers.js's own onnxruntime-web, whose files it fetches from jsDelivr by its version. */
const transformersOrt = join(root, 'node_modules', '@huggingface', 'transformers', 'node_modules', 'onnxruntime-web');
const transformersOrtCdn = `https://cdn.jsdelivr.net/npm/onnxruntime-web@${JSON.parse(readFileSync(join(transformersOrt, 'package.json'), 'utf8')).version}/dist/`;

/** The file in node_modules a page's CDN URL names, or null for a URL no page should reach. */
function cdnFileOf(url: string): string | null {
  if (url === TOKENIZERS_CDN) return join(root, 'node_modules', '@huggingface', 'tokenizers', 'dist', 'tokenizers.min.mjs');
  if (url === TFJS_CDN) return join(root, 'node_modules', '@tensorflow', 'tfjs', 'dist', 'tf.fesm.min.js');
  if (url === TRANSFORMERS_CDN) return join(root, 'node_modules', '@huggingface', 'transformers', 'dist', 'transformers.min.js');
  const file = url.slice(url.lastIndexOf('/') + 1);
  if (url.startsWith(ORT_WASM_CDN.replace(/[^/]*$/, ''))) return join(root, 'node_modules', 'onnxruntime-web', 'dist', file);
  if (url.startsWith(transformersOrtCdn)) return join(transformersOrt, 'dist', file);
  return null;
}

const softmax = (logits: ArrayLike<number>) => {
  const top = Math.max(...Array.from(logits));
  const exps = Array.from(logits, (logit) => Math.exp(logit - top));
  const sum = exps.reduce((total, value) => total + value, 0);
  return exps.map((value) => value / sum);
};

/** An image set as the pages and Node each take it: raw values per image, and [0, 1] NHWC floats. */
interface Images {
  raw: number[][];
  scaled: Float32Array;
  shape: [number, number, number];
}

describe("report.md's pages in Chromium", () => {
  let browser: Browser;

  before(async () => {
    await initEngine({ backend: 'wasm' });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });
  after(() => browser?.close());

  /** Node's logits for a copy: TensorFlow.js for a model.json, onnxruntime-node for an .onnx file. */
  async function nodeLogits(
    out: string,
    copy: string,
    images: Images,
    layout: 'nhwc' | 'nchw',
    classNames: string[],
  ): Promise<Float32Array> {
    const count = images.raw.length;
    const [height, width, channels] = images.shape;
    if (copy.endsWith('model.json')) {
      const model = await loadModelDir(join(out, copy));
      const dataset = imageDataset({
        name: 'pages',
        images: images.scaled,
        labels: new Int32Array(count),
        sampleShape: images.shape,
        numClasses: classNames.length,
        classNames,
      });
      const logits = predictLogits(model, dataset);
      model.dispose();
      return logits;
    }
    // NHWC → NCHW here by its own loop, not the page's.
    const size = height * width;
    const nchw = new Float32Array(images.scaled.length);
    for (let n = 0; n < count; n++)
      for (let c = 0; c < channels; c++)
        for (let p = 0; p < size; p++) nchw[(n * channels + c) * size + p] = images.scaled[(n * size + p) * channels + c];
    const session = await ort.InferenceSession.create(join(out, copy));
    const input =
      layout === 'nhwc'
        ? new ort.Tensor('float32', images.scaled, [count, height, width, channels])
        : new ort.Tensor('float32', nchw, [count, channels, height, width]);
    const result = await session.run({ image: input });
    await session.release();
    return result.logits.data as Float32Array;
  }

  /** Each copy's page, as report.md writes it, ranks the classes of `images` as Node does. */
  async function check(out: string, images: Images, classNames: string[], layout: 'nhwc' | 'nchw') {
    await checkPages(out, classNames, [3, 3], images.raw, (copy) => nodeLogits(out, copy, images, layout, classNames));
  }

  /**
   * Each of report.md's whole pages (as many as `copyCounts`, each listing that many copies), for
   * each copy it lists, gives `classify(input)` for each of `inputs` the ranking Node's
   * `expected(copy)` logits give; for the inputs `compared(code, index)` keeps, when given.
   */
  async function checkPages(
    out: string,
    classNames: string[],
    copyCounts: readonly number[],
    inputs: unknown[],
    expected: (copy: string) => Promise<Float32Array>,
    compared: (code: string, index: number) => boolean = () => true,
  ) {
    const markdown = readFileSync(join(out, 'report.md'), 'utf8');
    const found = pages(markdown);
    assert.deepEqual(
      found.map(({ copies }) => copies.length),
      copyCounts,
      'whole pages, and the copies each lists',
    );
    const labels = JSON.parse(readFileSync(join(out, 'student', 'labels.json'), 'utf8')) as string[];
    assert.deepEqual(labels, classNames);
    const classes = classNames.length;
    const { origin, server } = await serveDirectories({ '/': resolve(out) });
    try {
      for (const { code, copies } of found) {
        for (const copy of copies) {
          // "Any of the copies above": the page with this copy's path in place of the first's.
          const page = `page-${copy.replace(/\W/g, '-')}.html`;
          writeFileSync(join(out, page), code.replaceAll(`'${copies[0]}'`, `'${copy}'`));
          const tab = await browser.newPage();
          const errors: string[] = [];
          const outside: string[] = [];
          tab.on('pageerror', (error) => errors.push(error.message));
          await tab.route('**/*', async (route) => {
            const url = route.request().url();
            if (url.startsWith(`${origin}/`)) return route.continue();
            // The CDN's files are the npm packages' own: answered from node_modules.
            const cdnFile = cdnFileOf(url);
            if (cdnFile === null || !existsSync(cdnFile)) {
              outside.push(url);
              return route.abort();
            }
            return route.fulfill({
              body: readFileSync(cdnFile),
              contentType: contentTypes[extname(cdnFile)] ?? 'application/octet-stream',
            });
          });
          try {
            await tab.goto(`${origin}/${page}`);
            await tab.waitForFunction(() => typeof (window as unknown as { classify?: unknown }).classify === 'function', null, {
              timeout: 60_000,
            });
            type Ranked = { label: string; probability: number }[];
            const ranked = await tab.evaluate(
              (values) =>
                Promise.all(values.map((value) => (window as unknown as { classify: (v: unknown) => Promise<Ranked> }).classify(value))),
              inputs,
            );
            assert.deepEqual(errors, [], `${copy}: page errors`);
            assert.deepEqual(outside, [], `${copy}: requests outside the page's server and the CDN`);
            const logits = await expected(copy);
            ranked.forEach((ranking, i) => {
              if (!compared(code, i)) return;
              const probabilities = softmax(logits.subarray(i * classes, (i + 1) * classes));
              assert.equal(ranking.length, classes);
              for (const { label, probability } of ranking) {
                const c = labels.indexOf(label);
                assert.ok(
                  Math.abs(probability - probabilities[c]) < 1e-5,
                  `${copy}, sample ${i}, class ${label}: ${probability} in the page, ${probabilities[c]} in Node`,
                );
              }
              assert.equal(ranking[0].label, labels[probabilities.indexOf(Math.max(...probabilities))], `${copy}, sample ${i}: best first`);
            });
          } finally {
            await tab.close();
          }
        }
      }
    } finally {
      server.close();
    }
  }

  it('digits: every TensorFlow.js copy and every NHWC ONNX copy, from the counts 0-16 as stored', async () => {
    const out = run('digits', '{name: digits}', 'nhwc');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.ok(summary.models.student.accuracy > 0.8, `a trained student: ${summary.models.student.accuracy}`);
    assert.deepEqual(JSON.parse(readFileSync(join(out, 'student', 'preprocess.json'), 'utf8')), {
      kind: 'image',
      input: 'image',
      shape: [8, 8, 1],
      layout: 'nhwc',
      onnxLayout: 'nhwc',
      dtype: 'float32',
      scale: 1 / 16,
      mean: [0],
      std: [1],
      output: 'logits',
    });
    const test = loadDigits().test;
    const scaled = (readRange(test, 0, SAMPLES)[IMAGE_FIELD] as Float32Array).slice();
    // The digits as stored: counts 0..16, which preprocess.json's scale (1/16) takes back to the model's input.
    const raw = Array.from({ length: SAMPLES }, (_, i) =>
      Array.from(scaled.subarray(i * 64, (i + 1) * 64), (value) => Math.round(value * 16)),
    );
    await check(out, { raw, scaled, shape: [8, 8, 1] }, ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'], 'nhwc');
  });

  it("RGB uint8 images: every NCHW ONNX copy through the page's transposition, the class names from labels.json", async () => {
    const train = rgbImages(300, 1);
    const test = rgbImages(60, 2);
    const file = (name: string) => join(directory, name);
    npy(file('train-x.npy'), '|u1', [300, 6, 6, 3], train.pixels);
    npy(file('train-y.npy'), '|u1', [300], train.labels);
    npy(file('test-x.npy'), '|u1', [60, 6, 6, 3], test.pixels);
    npy(file('test-y.npy'), '|u1', [60], test.labels);
    const dataset = `{name: npy, train: {images: ${file('train-x.npy')}, labels: ${file('train-y.npy')}}, test: {images: ${file('test-x.npy')}, labels: ${file('test-y.npy')}}, classes: [red, green, blue], validation: 30}`;
    const out = run('rgb', dataset, 'nchw');
    const preprocess = JSON.parse(readFileSync(join(out, 'student', 'preprocess.json'), 'utf8'));
    assert.deepEqual([preprocess.shape, preprocess.onnxLayout, preprocess.scale], [[6, 6, 3], 'nchw', 1 / 255]);
    const raw = Array.from({ length: SAMPLES }, (_, i) => Array.from(test.pixels.subarray(i * 108, (i + 1) * 108)));
    const scaled = Float32Array.from(test.pixels.subarray(0, SAMPLES * 108), (value) => value / 255);
    await check(out, { raw, scaled, shape: [6, 6, 3] }, ['red', 'green', 'blue'], 'nchw');
  });
  it('text: every TensorFlow.js copy (with kdkit-layers.mjs), every ONNX copy and the transformers.js layout, tokenized in the page as kdkit tokenizes (texts past maxLength cut as in training)', async () => {
    const rows = readFileSync(join(root, 'data', 'banking77', 'train.csv'), 'utf8')
      .split(/\r?\n/)
      .slice(1)
      .filter((row) => /^"?[^"]*"?,[a-z_]+$/.test(row))
      .slice(0, 400)
      .map((row) => {
        const comma = row.lastIndexOf(',');
        return { text: row.slice(0, comma).replace(/^"|"$/g, ''), category: row.slice(comma + 1) };
      });
    const csv = (part: typeof rows) => ['text,category', ...part.map(({ text, category }) => `"${text}",${category}`)].join('\n');
    writeFileSync(join(directory, 'text-train.csv'), csv(rows));
    writeFileSync(join(directory, 'text-test.csv'), csv(rows.slice(0, 60)));
    const maxLength = 12;
    const out = runConfig('text', [
      `dataset: {name: text, train: ${join(directory, 'text-train.csv')}, test: ${join(directory, 'text-test.csv')}, labelField: category, maxLength: ${maxLength}, validation: 40}`,
      'teacher: {model: {type: embeddingbag, dimensions: 32}, epochs: 3}',
      'student: {model: {type: embeddingbag, dimensions: 8}}',
      'distill: {epochs: 3, preset: hinton}',
      'export: {quantize: [float16, uint8], onnx: true}',
    ]);
    const classNames = [...new Set(rows.map(({ category }) => category))].sort();
    const tokenizer = TextTokenizer.load(join(out, 'tokenizer.json'), 'test');
    const texts = rows.slice(0, SAMPLES).map(({ text }) => text);
    assert.ok(
      texts.some((text) => tokenizer.ids(text, 1000).ids.length > maxLength),
      'some texts are longer than maxLength, so the page must cut them as training did',
    );
    const encoded = tokenizer.encode(texts, maxLength);
    // transformers.js cuts a text past the model's length its own way (README): compared on the texts that fit.
    const fits = texts.map((text) => tokenizer.ids(text, 1000).ids.length <= maxLength);
    assert.ok(fits.filter(Boolean).length >= 3, 'some texts fit maxLength');
    const transformersPage = (code: string) => code.includes("from '@huggingface/transformers'");
    await checkPages(
      out,
      classNames,
      [3, 3, 1],
      texts,
      async (copy) => {
        if (copy.endsWith('model.json')) {
          const model = await loadModelDir(join(out, copy));
          const fields = Object.entries(encoded).filter((entry): entry is [string, Int32Array] => entry[1] !== undefined);
          const dataset = memoryDataset({
            name: 'pages',
            labels: new Int32Array(SAMPLES),
            numClasses: classNames.length,
            classNames,
            inputs: fields.map(([name]) => ({ name, dtype: 'int32' as const, shape: [maxLength] })),
            values: Object.fromEntries(fields),
          });
          const logits = predictLogits(model, dataset);
          model.dispose();
          return logits;
        }
        // student-transformers/ holds the float32 ONNX file as onnx/model.onnx.
        const session = await ort.InferenceSession.create(join(out, copy.endsWith('/') ? `${copy}onnx/model.onnx` : copy));
        const feeds = Object.fromEntries(
          session.inputNames.map((name) => [
            name,
            new ort.Tensor('int64', BigInt64Array.from(encoded[name as keyof typeof encoded]!, BigInt), [SAMPLES, maxLength]),
          ]),
        );
        const result = await session.run(feeds);
        await session.release();
        return result.logits.data as Float32Array;
      },
      (code, i) => !transformersPage(code) || fits[i],
    );
  });
});
