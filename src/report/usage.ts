/** "Using the student": how to load each exported copy in a browser, written for this run's exports. */
import type { Summary } from './summary.js';
import { bytes, percent } from './table.js';

export interface UsageSnippet {
  runtime: string;
  /** html: a whole page; js: module code for a bundler. */
  language: 'html' | 'js';
  /** One line per loadable copy, e.g. "float16, 27.2 KiB, 96.38%: `student-float16/model.json`". */
  copies: string[];
  code: string;
}

/**
 * The versions the pages load from the CDN: the TensorFlow.js kdkit trains with, and the
 * onnxruntime-web of the onnxruntime-node that checked the ONNX copies (package.json pins both).
 */
export const TFJS_VERSION = '4.22.0';
export const ORT_WEB_VERSION = '1.30.0';
export const TFJS_CDN = `https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@${TFJS_VERSION}/dist/tf.fesm.min.js`;
/** The CPU (WebAssembly) build: its .wasm is 14.2 MB, where plain 'onnxruntime-web' loads the 28.3 MB WebGPU-capable one. */
export const ORT_WASM_CDN = `https://cdn.jsdelivr.net/npm/onnxruntime-web@${ORT_WEB_VERSION}/dist/ort.wasm.min.mjs`;
/** Hugging Face's tokenizers in JavaScript, the version kdkit tokenizes with (package.json). */
export const TOKENIZERS_VERSION = '0.2.0';
export const TOKENIZERS_CDN = `https://cdn.jsdelivr.net/npm/@huggingface/tokenizers@${TOKENIZERS_VERSION}/dist/tokenizers.min.mjs`;
/** transformers.js, the version kdkit checks its layout with (package.json). */
export const TRANSFORMERS_VERSION = '4.3.1';
export const TRANSFORMERS_CDN = `https://cdn.jsdelivr.net/npm/@huggingface/transformers@${TRANSFORMERS_VERSION}/dist/transformers.min.js`;

/**
 * A page for TensorFlow.js and, when the run exported ONNX, one for ONNX Runtime Web; for text,
 * one for the transformers.js pipeline too. Each page works as written when served from
 * the run directory: the import map names the CDN build, student/labels.json the classes and
 * student/preprocess.json the input.
 */
export function usageSnippets(summary: Summary): UsageSnippet[] {
  const tfjs = summary.exports.tfjs.map((copy) => ({
    label: `${copy.quantization}, ${bytes(copy.sizeBytes)}, ${percent(copy.accuracy)}`,
    url: `${copy.path}/model.json`,
  }));
  // A run that exported no TensorFlow.js variants still saved the float32 student.
  if (tfjs.length === 0) tfjs.push({ label: 'float32', url: summary.artifacts.student ?? 'student/model.json' });
  const classes = summary.dataset.classes;
  const { sampleShape } = summary.dataset;
  const snippets: UsageSnippet[] = [
    {
      runtime: 'TensorFlow.js',
      language: 'html',
      copies: tfjs.map((copy) => `${copy.label}: \`${copy.url}\``),
      code: sampleShape ? tfjsImagePage(tfjs[0].url, sampleShape) : tfjsTextPage(tfjs[0].url, classes),
    },
  ];
  const [onnx] = summary.exports.onnx;
  if (onnx && sampleShape) {
    snippets.push({
      runtime: 'ONNX Runtime Web',
      language: 'html',
      copies: summary.exports.onnx.map(
        (copy) =>
          `${copy.quantization}, ${copy.layout.toUpperCase()}, ${bytes(copy.sizeBytes)}, ${percent(copy.accuracy)}: \`${copy.path}\``,
      ),
      code: ortImagePage(onnx.path, onnx.layout, sampleShape, classes),
    });
  }
  if (onnx && !sampleShape) {
    snippets.push({
      runtime: 'ONNX Runtime Web',
      language: 'html',
      copies: summary.exports.onnx.map(
        (copy) => `${copy.quantization}, ${bytes(copy.sizeBytes)}, ${percent(copy.accuracy)}: \`${copy.path}\``,
      ),
      code: ortTextPage(onnx.path, classes),
    });
  }
  if (onnx && summary.exports.transformersJs) {
    const folder = summary.exports.transformersJs;
    snippets.push({
      runtime: 'transformers.js',
      language: 'html',
      copies: [`float32 ONNX with its tokenizer and labels, ${bytes(onnx.sizeBytes)}, ${percent(onnx.accuracy)}: \`${folder}/\``],
      code: transformersPage(folder, classes),
    });
  }
  return snippets;
}

/** The first lines of every page: where to serve it from, and the import map. */
function pageHead(runtime: string, imports: Record<string, string>, install: string): string[] {
  return [
    '<!doctype html>',
    '<meta charset="utf-8">',
    `<!-- ${runtime}: serve this page from the run directory (any static server, e.g. npx http-server). -->`,
    `<!-- With a bundler instead of the import map: ${install}, and keep the import line. -->`,
    '<script type="importmap">',
    `  ${JSON.stringify({ imports })}`,
    '</script>',
  ];
}

/** How a page turns one image's stored values into the model's input, per preprocess.json. */
const SCALE_LINES = [
  '  // pixels: one image as stored (preprocess.scale takes it to what the model was trained on),',
  '  // row by row, channels last. x = (pixel · scale − mean[channel]) / std[channel].',
  '  const toInput = (pixels) =>',
  '    Float32Array.from(pixels, (value, i) => {',
  '      const channel = i % pre.shape[2];',
  '      return (value * pre.scale - pre.mean[channel]) / pre.std[channel];',
  '    });',
];

const RANKED =
  '  return labels.map((label, c) => ({ label, probability: probabilities[c] })).sort((a, b) => b.probability - a.probability);';

/** Why an ONNX Runtime Web page imports the wasm build, and what threads need. */
const ORT_BUILD_NOTE = [
  "  // The WebAssembly build: 14.2 MB of .wasm, fetched beside the script (plain 'onnxruntime-web' loads the 28.3 MB WebGPU one).",
  '  // Threads need a cross-origin-isolated page, served with the headers',
  '  //   Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp;',
  '  // without them it runs on one thread.',
];

/** ONNX Runtime's `logits` to the ranked classes: softmax by hand (ONNX Runtime Web has no tensor ops). */
const SOFTMAX_RANKED = [
  '    const top = Math.max(...logits.data);',
  '    const exps = Array.from(logits.data, (logit) => Math.exp(logit - top));',
  '    const sum = exps.reduce((total, value) => total + value, 0);',
  '    const probabilities = exps.map((value) => value / sum);',
  `  ${RANKED}`,
];

function tfjsImagePage(url: string, shape: readonly number[]): string {
  return [
    ...pageHead('TensorFlow.js', { '@tensorflow/tfjs': TFJS_CDN }, `npm install @tensorflow/tfjs@${TFJS_VERSION}`),
    '<script type="module">',
    "  import * as tf from '@tensorflow/tfjs';",
    '',
    '  const json = (path) => fetch(path).then((response) => response.json());',
    '  // Any of the copies above; quantized weights are expanded to float32 on load.',
    `  const model = await tf.loadLayersModel('${url}');`,
    "  const labels = await json('student/labels.json'); // the class names, in the order of the logits",
    `  const pre = await json('student/preprocess.json'); // shape [${shape.join(', ')}] (NHWC), scale, mean, std`,
    ...SCALE_LINES,
    '',
    '  /** The classes, most likely first: [{ label, probability }]. The model gives logits; softmax makes them probabilities. */',
    '  window.classify = async (pixels) => {',
    '    const output = tf.tidy(() => tf.softmax(model.predict(tf.tensor(toInput(pixels), [1, ...pre.shape]))));',
    '    const probabilities = await output.data();',
    '    output.dispose();',
    `  ${RANKED}`,
    '  };',
    '</script>',
  ].join('\n');
}

function ortImagePage(path: string, layout: 'nhwc' | 'nchw', shape: readonly number[], classes: number): string {
  const [height, width, channels] = shape;
  const tensorShape = layout === 'nhwc' ? `[1, ${height}, ${width}, ${channels}]` : `[1, ${channels}, ${height}, ${width}]`;
  return [
    ...pageHead('ONNX Runtime Web', { 'onnxruntime-web/wasm': ORT_WASM_CDN }, `npm install onnxruntime-web@${ORT_WEB_VERSION}`),
    '<script type="module">',
    ...ORT_BUILD_NOTE,
    "  import * as ort from 'onnxruntime-web/wasm';",
    '',
    '  const json = (path) => fetch(path).then((response) => response.json());',
    `  const session = await ort.InferenceSession.create('${path}');`,
    "  const labels = await json('student/labels.json'); // the class names, in the order of the logits",
    `  const pre = await json('student/preprocess.json'); // shape [${shape.join(', ')}], scale, mean, std`,
    ...SCALE_LINES,
    ...(layout === 'nchw'
      ? [
          '  // This copy takes NCHW: channels first.',
          '  const toLayout = (x) => {',
          '    const [h, w, c] = pre.shape;',
          '    return Float32Array.from(x, (_, i) => x[(i % (h * w)) * c + Math.floor(i / (h * w))]);',
          '  };',
        ]
      : ['  const toLayout = (x) => x; // this copy takes NHWC, as the pixels come']),
    '',
    `  /** The classes, most likely first: [{ label, probability }], from the ${classes} logits by softmax. */`,
    '  window.classify = async (pixels) => {',
    `    const { logits } = await session.run({ image: new ort.Tensor('float32', toLayout(toInput(pixels)), ${tensorShape}) });`,
    ...SOFTMAX_RANKED,
    '  };',
    '</script>',
  ].join('\n');
}

/** The tokenization a text page does (preprocess.json and the tokenizer loaded as `pre` and `tokenizer`): `tokenize(text)` gives { ids, types }. */
const TOKENIZE_LINES = [
  "  // One text's ids as kdkit's training saw them: the special tokens kept, the text's own tokens cut",
  '  // from the end past maxLength, then padded on the right with padId (attention_mask 0 there).',
  '  const tokenize = (text) => {',
  '    const full = tokenizer.encode(text, { add_special_tokens: true, return_token_type_ids: true });',
  '    let ids = full.ids;',
  '    let types = full.token_type_ids ?? ids.map(() => 0);',
  '    if (ids.length > pre.maxLength) {',
  '      const content = tokenizer.encode(text, { add_special_tokens: false }).ids;',
  '      let before = 0;',
  '      while (before < ids.length && !content.every((id, i) => ids[before + i] === id)) before++;',
  '      const keep = pre.maxLength - (ids.length - content.length);',
  '      const cut = (values) => [...values.slice(0, before + keep), ...values.slice(before + content.length)];',
  '      ids = cut(ids);',
  '      types = cut(types);',
  '    }',
  '    return { ids, types };',
  '  };',
];

/** A text student's ONNX copy in ONNX Runtime Web, tokenized in the page as kdkit tokenized its training texts. */
function ortTextPage(path: string, classes: number): string {
  return [
    ...pageHead(
      'ONNX Runtime Web',
      { '@huggingface/tokenizers': TOKENIZERS_CDN, 'onnxruntime-web/wasm': ORT_WASM_CDN },
      `npm install @huggingface/tokenizers@${TOKENIZERS_VERSION} onnxruntime-web@${ORT_WEB_VERSION}`,
    ),
    '<script type="module">',
    ...ORT_BUILD_NOTE,
    "  import { Tokenizer } from '@huggingface/tokenizers';",
    "  import * as ort from 'onnxruntime-web/wasm';",
    '',
    '  const json = (path) => fetch(path).then((response) => response.json());',
    `  const session = await ort.InferenceSession.create('${path}');`,
    "  const labels = await json('student/labels.json'); // the class names, in the order of the logits",
    "  const pre = await json('student/preprocess.json'); // the inputs, maxLength, padId and the tokenizer's path from student/",
    "  const tokenizer = new Tokenizer(await json(new URL(pre.tokenizer, new URL('student/', location.href)).href), {});",
    '',
    ...TOKENIZE_LINES,
    '  const encode = (text) => {',
    '    const { ids, types } = tokenize(text);',
    '    const row = (values, fill) =>',
    "      new ort.Tensor('int64', BigInt64Array.from({ length: pre.maxLength }, (_, i) => BigInt(i < values.length ? values[i] : fill)), [1, pre.maxLength]);",
    '    const feeds = { input_ids: row(ids, pre.padId), attention_mask: row(ids.map(() => 1), 0) };',
    "    if (session.inputNames.includes('token_type_ids')) feeds.token_type_ids = row(types, 0); // BERT-style models only",
    '    return feeds;',
    '  };',
    '',
    `  /** The classes, most likely first: [{ label, probability }], from the ${classes} logits by softmax. */`,
    '  window.classify = async (text) => {',
    '    const { logits } = await session.run(encode(text));',
    ...SOFTMAX_RANKED,
    '  };',
    '</script>',
  ].join('\n');
}

/** A text student in TensorFlow.js, its layers from student/kdkit-layers.mjs (kdkit/layers, written by the run). */
function tfjsTextPage(url: string, classes: number): string {
  return [
    ...pageHead(
      'TensorFlow.js',
      { '@tensorflow/tfjs': TFJS_CDN, '@huggingface/tokenizers': TOKENIZERS_CDN, 'kdkit/layers': './student/kdkit-layers.mjs' },
      `npm install @tensorflow/tfjs@${TFJS_VERSION} @huggingface/tokenizers@${TOKENIZERS_VERSION} kdkit`,
    ),
    '<script type="module">',
    "  import * as tf from '@tensorflow/tfjs';",
    "  import { Tokenizer } from '@huggingface/tokenizers';",
    "  // kdkit's transformer and embedding-bag layers, which the model is made of: the run wrote them",
    "  // beside the student (the same module as 'kdkit/layers'); they import the page's TensorFlow.js.",
    "  import { registerTextLayers } from 'kdkit/layers';",
    '',
    '  registerTextLayers();',
    '  const json = (path) => fetch(path).then((response) => response.json());',
    '  // Any of the copies above; quantized weights are expanded to float32 on load.',
    `  const model = await tf.loadLayersModel('${url}');`,
    "  const labels = await json('student/labels.json'); // the class names, in the order of the logits",
    "  const pre = await json('student/preprocess.json'); // the inputs, maxLength, padId and the tokenizer's path from student/",
    "  const tokenizer = new Tokenizer(await json(new URL(pre.tokenizer, new URL('student/', location.href)).href), {});",
    '',
    ...TOKENIZE_LINES,
    '',
    `  /** The classes, most likely first: [{ label, probability }], from the ${classes} logits by softmax. */`,
    '  window.classify = async (text) => {',
    '    const { ids, types } = tokenize(text);',
    "    const row = (values, fill) => tf.tensor2d([Array.from({ length: pre.maxLength }, (_, i) => (i < values.length ? values[i] : fill))], [1, pre.maxLength], 'int32');",
    '    const given = { input_ids: row(ids, pre.padId), attention_mask: row(ids.map(() => 1), 0), token_type_ids: row(types, 0) };',
    '    const logits = model.predict(model.inputNames.map((name) => given[name])); // int32 [1, maxLength] each, by input name',
    '    const softmax = tf.softmax(logits); // the logits are not probabilities',
    '    const probabilities = Array.from(await softmax.data());',
    '    tf.dispose([softmax, logits, ...Object.values(given)]);',
    `  ${RANKED}`,
    '  };',
    '</script>',
  ].join('\n');
}

/** The transformers.js pipeline over the run's transformers.js layout. */
function transformersPage(folder: string, classes: number): string {
  return [
    ...pageHead(
      'transformers.js',
      { '@huggingface/transformers': TRANSFORMERS_CDN },
      `npm install @huggingface/transformers@${TRANSFORMERS_VERSION}`,
    ),
    '<script type="module">',
    '  // transformers.js runs its own ONNX Runtime Web, whose WebGPU-capable WebAssembly it fetches from jsDelivr;',
    '  // for the smaller wasm-only build, use the ONNX Runtime Web page instead.',
    "  import { env, pipeline } from '@huggingface/transformers';",
    '',
    '  env.allowLocalModels = true; // off by default in a browser',
    "  env.allowRemoteModels = false; // the model is the run's, not the Hugging Face Hub's",
    `  // The directory that holds ${folder}/, as a path: transformers.js 4.3 looks for a tokenizer only`,
    '  // at a local path, not at a URL.',
    "  env.localModelPath = './';",
    '  // fp32: onnx/model.onnx (in a browser transformers.js would otherwise look for a quantized file).',
    `  const classifier = await pipeline('text-classification', '${folder}', { dtype: 'fp32', device: 'wasm' });`,
    '',
    "  // transformers.js cuts a text longer than the model's length after adding [CLS] and [SEP] (the [SEP]",
    "  // goes), where kdkit's training kept [SEP]: past maxLength tokens its answers can differ.",
    `  /** The classes, most likely first: [{ label, probability }], the softmax of the ${classes} logits. */`,
    '  window.classify = async (text) =>',
    '    (await classifier(text, { top_k: null })).map(({ label, score }) => ({ label, probability: score }));',
    '</script>',
  ].join('\n');
}
