/** "Using the student": how to load each exported copy in a browser, written for this run's exports. */
import type { Summary } from './summary.js';
import { bytes, percent } from './table.js';

export interface UsageSnippet {
  runtime: string;
  /** One line per loadable copy, e.g. "float16, 27.2 KiB, 96.38%: `student-float16/model.json`". */
  copies: string[];
  code: string;
}

/** One snippet for TensorFlow.js and, when the run exported ONNX, one for ONNX Runtime Web. */
export function usageSnippets(summary: Summary): UsageSnippet[] {
  const tfjs = summary.exports.tfjs.map((copy) => ({
    label: `${copy.quantization}, ${bytes(copy.sizeBytes)}, ${percent(copy.accuracy)}`,
    url: `${copy.path}/model.json`,
  }));
  // A run that exported no TensorFlow.js variants still saved the float32 student.
  if (tfjs.length === 0) tfjs.push({ label: 'float32', url: summary.artifacts.student ?? 'student/model.json' });
  const classes = summary.dataset.classes;
  const snippets: UsageSnippet[] = [
    {
      runtime: 'TensorFlow.js',
      copies: tfjs.map((copy) => `${copy.label}: \`${copy.url}\``),
      code: [
        "import * as tf from '@tensorflow/tfjs';",
        '',
        '// Any of the copies above; a URL relative to the page. Quantized weights are expanded to float32 on load.',
        `const model = await tf.loadLayersModel('${tfjs[0].url}');`,
        ...inputLines(summary),
      ].join('\n'),
    },
  ];
  const [onnx] = summary.exports.onnx;
  if (onnx && summary.dataset.sampleShape) {
    const [height, width, channels] = summary.dataset.sampleShape;
    const shape = onnx.layout === 'nhwc' ? `[1, ${height}, ${width}, ${channels}]` : `[1, ${channels}, ${height}, ${width}]`;
    snippets.push({
      runtime: 'ONNX Runtime Web',
      copies: summary.exports.onnx.map(
        (copy) =>
          `${copy.quantization}, ${copy.layout.toUpperCase()}, ${bytes(copy.sizeBytes)}, ${percent(copy.accuracy)}: \`${copy.path}\``,
      ),
      code: [
        "import * as ort from 'onnxruntime-web';",
        '',
        `const session = await ort.InferenceSession.create('${onnx.path}');`,
        `// pixels: Float32Array of one image in [0, 1], in ${onnx.layout.toUpperCase()} order.`,
        `const output = await session.run({ image: new ort.Tensor('float32', pixels, ${shape}) });`,
        `const logits = output.logits.data; // ${classes} class scores`,
      ].join('\n'),
    });
  }
  if (onnx && summary.exports.transformersJs) {
    const folder = summary.exports.transformersJs;
    snippets.push({
      runtime: 'transformers.js',
      copies: [`float32 ONNX with its tokenizer and labels, ${bytes(onnx.sizeBytes)}, ${percent(onnx.accuracy)}: \`${folder}/\``],
      code: [
        "import { pipeline, env } from '@huggingface/transformers';",
        '',
        'env.allowRemoteModels = false;',
        `env.localModelPath = '.'; // the directory (or URL) that holds ${folder}/`,
        `const classify = await pipeline('text-classification', '${folder}');`,
        `const [best] = await classify('a query'); // { label, score }: the class name and its softmax probability`,
        `// ${folder}/onnx/model.onnx alone takes int64 input_ids and attention_mask [batch, sequence]; its output is logits [batch, ${classes}].`,
      ].join('\n'),
    });
  }
  return snippets;
}

/** What the TensorFlow.js model takes and gives: images, or a tokenizer's fields. */
function inputLines(summary: Summary): string[] {
  const { sampleShape, inputs, classes } = summary.dataset;
  if (sampleShape) {
    return [
      `// images: float32 in [0, 1], shaped [batch, ${sampleShape.join(', ')}] (NHWC).`,
      `const logits = model.predict(images); // [batch, ${classes}]`,
    ];
  }
  const names = inputs.map((input) => input.name);
  return [
    `// ${names.join(', ')}: int32 tensors [batch, ${inputs[0].shape.join(', ')}] from tokenizer.json, padded on the right.`,
    `const logits = model.predict([${names.map((name) => name.replace(/_(.)/g, (_, letter: string) => letter.toUpperCase())).join(', ')}]); // [batch, ${classes}]`,
  ];
}
