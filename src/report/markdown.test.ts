import { test } from 'node:test';
import assert from 'node:assert/strict';
import { markdownTable, markdownText, renderMarkdown } from './markdown.js';
import { fixtureSummary, minimalSummary } from './summary.test.util.js';
import { ORT_WEB_VERSION, TFJS_VERSION, TOKENIZERS_VERSION, TRANSFORMERS_VERSION } from './usage.js';
import { readFileSync } from 'node:fs';

/** The table row whose first cell is `first`, under the heading `section`. */
function row(markdown: string, section: string, first: string): string {
  const start = markdown.indexOf(`\n${section}\n`);
  assert.ok(start >= 0, `section ${section}`);
  const end = markdown.indexOf('\n#', start + section.length + 2);
  const line = markdown
    .slice(start, end === -1 ? undefined : end)
    .split('\n')
    .find((candidate) => candidate.startsWith(`| ${first} |`));
  assert.ok(line, `a row '${first}' under ${section}`);
  return line;
}

test('report.md carries the quality and cost of every model', () => {
  const markdown = renderMarkdown(fixtureSummary());
  // 346/359 correct = 96.38%; the F1 of the ten classes, 2·TP/(predicted + support), average
  // (1 + 70/74 + 1 + 70/73 + 70/71 + 72/76 + 70/71 + 70/72 + 64/70 + 64/69) / 10 = 0.96381.
  assert.equal(row(markdown, '## Quality', 'student'), '| student | 96.38% | 99.44% | 96.38% | 2.10% | 96.94% | 0.087 nats |');
  assert.equal(row(markdown, '## Quality', 'teacher'), '| teacher | 98.89% | 99.72% | 98.89% | 1.20% | — | — |');
  // 27,810 B = 27.2 KiB, 15,212 B = 14.9 KiB; 256 samples / 3.9 ms = 65,641/s; 1,310,720 B = 1.25 MiB.
  assert.equal(
    row(markdown, '## Cost', 'student'),
    '| student | 12,810 | 98,560 | 51.8 KiB | 27.2 KiB | 14.9 KiB | 0.41 ms | 0.58 ms | 3.90 ms | 4.60 ms | 65,641/s | 60.0 KiB | 1.25 MiB | 7.1 s |',
  );
  assert.match(
    markdown,
    /\| model \| params \| MACs \| size f32 \| size f16 \| size u8 \| b1 p50 \| b1 p95 \| b256 p50 \| b256 p95 \| b256 throughput \| peak mem b1 \| peak mem b256 \| train \|/,
  );
  assert.match(markdown, /Distillation gained 1\.95 points/);
});

test("report.md carries the student's classes and confusion matrix", () => {
  const markdown = renderMarkdown(fixtureSummary());
  // Class 1: 35 right of 36, and 38 predicted as 1 (35 + one 6 + two 8s).
  assert.equal(row(markdown, '## The student by class', '1'), '| 1 | 92.11% | 97.22% | 94.59% | 36 |');
  assert.equal(row(markdown, '## The student by class', '8'), '| 8 | 91.43% | 91.43% | 91.43% | 35 |');
  // The header's backslash is escaped, so it renders as one backslash.
  assert.match(markdown, /\| true \\\\ predicted \| 0 \| 1 \| 2 \| 3 \| 4 \| 5 \| 6 \| 7 \| 8 \| 9 \|/);
  assert.match(markdown, /\n\| 9 \| 0 \| 0 \| 0 \| 1 \| 0 \| 1 \| 0 \| 0 \| 1 \| 32 \|\n/);
});

test('report.md gives the gate verdict and each check in its unit', () => {
  const summary = fixtureSummary();
  const markdown = renderMarkdown(summary);
  // 345/359 = 96.10% against a 97% floor.
  assert.match(
    markdown,
    /\*\*Failed: student \(uint8, TensorFlow\.js\) misses 1 of 4 deploy: constraints: minAccuracy 96\.10% < 97\.00%\.\*\*/,
  );
  assert.equal(
    row(markdown, '## Deployment gate', 'maxSizeBytes'),
    '| maxSizeBytes | size of the uint8 TensorFlow.js export | ≤ 64.0 KiB | 14.9 KiB | pass |',
  );
  assert.equal(
    row(markdown, '## Deployment gate', 'maxLatencyMs'),
    '| maxLatencyMs | batch-1 p95 latency (TensorFlow.js) | ≤ 1.00 ms | 0.58 ms | pass |',
  );
  assert.equal(row(markdown, '## Deployment gate', 'maxParams'), '| maxParams | parameters | ≤ 20,000 | 12,810 | pass |');
  assert.equal(
    row(markdown, '## Deployment gate', 'minAccuracy'),
    '| minAccuracy | test accuracy of the uint8 export | ≥ 97.00% | 96.10% | FAIL |',
  );

  summary.gate.passed = true;
  for (const check of summary.gate.checks) check.passed = true;
  assert.match(renderMarkdown(summary), /\*\*Passed: student \(uint8, TensorFlow\.js\) meets all 4 deploy: constraints\.\*\*/);
});

test('report.md lists every export with its cost and loss', () => {
  const markdown = renderMarkdown(fixtureSummary());
  // 1 sample of 359 lost = 0.28 points; 51,804 B = 50.6 KiB.
  assert.equal(
    row(markdown, '## Exports', 'TensorFlow.js'),
    '| TensorFlow.js | float32 | student/ | 51.8 KiB | 96.38% | 0.00 pts | — | — | — | — |',
  );
  assert.match(markdown, /\n\| TensorFlow\.js \| uint8 \| student-uint8\/ \| 14\.9 KiB \| 96\.10% \| 0\.28 pts \| — \| — \| — \| — \|\n/);
  assert.equal(
    row(markdown, '## Exports', 'ONNX (opset 13, NHWC)'),
    '| ONNX (opset 13, NHWC) | float32 | student.onnx | 50.6 KiB | 96.38% | 0.00 pts | 2.4e-6 | 100.00% | 0.09 / 0.14 ms | 1.62 / 1.90 ms |',
  );
  assert.match(markdown, /\| max \\\|Δ logit\\\| \|/, 'pipes inside a cell are escaped');
});

test('"Using the student" loads each exported copy in a browser', () => {
  const summary = fixtureSummary();
  const markdown = renderMarkdown(summary);
  const usage = markdown.slice(markdown.indexOf('## Using the student'));
  for (const path of ['student/model.json', 'student-float16/model.json', 'student-uint8/model.json'])
    assert.ok(usage.includes(`\`${path}\``), path);
  assert.ok(usage.includes("const model = await tf.loadLayersModel('student/model.json');"));
  assert.ok(
    usage.includes(
      `<script type="importmap">\n  {"imports":{"@tensorflow/tfjs":"https://cdn.jsdelivr.net/npm/@tensorflow/tfjs@4.22.0/dist/tf.fesm.min.js"}}`,
    ),
  );
  assert.ok(usage.includes("import * as ort from 'onnxruntime-web/wasm';"), 'the WebAssembly build, not the WebGPU one');
  assert.ok(usage.includes('Cross-Origin-Embedder-Policy: require-corp'));
  assert.ok(usage.includes("const session = await ort.InferenceSession.create('student.onnx');"));
  assert.ok(usage.includes("session.run({ image: new ort.Tensor('float32', toLayout(toInput(pixels)), [1, 8, 8, 1]) })"));
  assert.ok(usage.includes("await json('student/labels.json')") && usage.includes("await json('student/preprocess.json')"));
  assert.ok(usage.includes('tf.softmax(model.predict('), 'the logits become probabilities');
  assert.equal(usage.split('```html').length - 1, 2, 'two whole pages');

  summary.exports.onnx[0].layout = 'nchw';
  const nchw = renderMarkdown(summary);
  assert.ok(nchw.includes("new ort.Tensor('float32', toLayout(toInput(pixels)), [1, 1, 8, 8])"));
  assert.ok(nchw.includes('This copy takes NCHW'));
});

test('report.md of a run without scratch, deploy: constraints or ONNX leaves those parts out', () => {
  const markdown = renderMarkdown(minimalSummary());
  assert.match(markdown, /\*\*The config sets no deploy: constraints, so the gate had nothing to check\.\*\*/);
  assert.doesNotMatch(markdown, /\| check \||\| scratch \||ONNX \(opset|onnxruntime-web|Distillation gained/);
  assert.equal(row(markdown, '## Quality', 'student'), '| student | 96.38% | 99.44% | 96.38% | 2.10% | 96.94% | 0.087 nats |');
});

test('markdownTable aligns text left and figures right, and escapes pipes', () => {
  assert.equal(
    markdownTable(
      [
        ['name', 'kind', 'value'],
        ['a|b', 'x', '1'],
      ],
      2,
    ),
    '| name | kind | value |\n|---|---|---:|\n| a\\|b | x | 1 |',
  );
});

test('user text is literal in report.md: no tag, entity, code span, extra cell or line break gets through', () => {
  assert.equal(markdownText('<script>alert(1)</script>'), '&lt;script&gt;alert(1)&lt;/script&gt;');
  assert.equal(markdownText('a | b'), 'a \\| b');
  assert.equal(markdownText('`rm -rf`'), '&#96;rm -rf&#96;');
  assert.equal(markdownText('&amp; stays as typed'), '&amp;amp; stays as typed');
  assert.equal(markdownText('one\ntwo\r\nthree'), 'one<br>two<br>three');
  assert.equal(markdownText('\\|'), '\\\\\\|');

  const summary = fixtureSummary();
  summary.dataset.classNames[0] = '<img src=x onerror=alert(1)>';
  summary.dataset.classNames[1] = 'left|right\nnext';
  const markdown = renderMarkdown(summary);
  assert.doesNotMatch(markdown, /<img/);
  assert.equal(row(markdown, '## The student by class', '&lt;img src=x onerror=alert(1)&gt;').split(' | ').length, 5);
  assert.ok(row(markdown, '## The student by class', 'left\\|right<br>next'));
  assert.match(markdown, /\| true \\\\ predicted \| &lt;img src=x onerror=alert\(1\)&gt; \| left\\\|right<br>next \| 2 \|/);
});

test('report.md shows a dash, not NaN, for the validation accuracy of a run without a validation set', () => {
  const summary = fixtureSummary();
  for (const stage of summary.stages)
    for (const epoch of stage.history)
      (epoch as { validationAccuracy: number | null }).validationAccuracy = epoch.epoch === 1 ? Number.NaN : null;
  const markdown = renderMarkdown(summary);
  assert.doesNotMatch(markdown, /NaN/);
  assert.match(markdown, /\n\| 1 \| [\d.]+ \| [\d. |]+ \| — \| [\d.]+ \|\n/);
  assert.match(markdown, /\n\| 2 \| [\d.]+ \| [\d. |]+ \| — \| [\d.]+ \|\n/);
});

test("report.md gives an LLM teacher's requests and tokens per split, and no such section for other teachers", () => {
  assert.ok(!renderMarkdown(fixtureSummary()).includes('## The LLM teacher'));
  const summary = fixtureSummary();
  const usage = (texts: number, fromStore: number, promptTokens: number, unanswered = 0) => ({
    texts,
    fromStore,
    requests: texts,
    promptTokens,
    completionTokens: texts,
    unanswered,
    unparseable: 0,
  });
  summary.teacher = {
    ...summary.teacher,
    kind: 'llm',
    llm: { train: usage(9003, 9003, 1718618, 2), test: usage(3080, 0, 585054) },
  };
  const markdown = renderMarkdown(summary);
  assert.match(
    markdown,
    /\| split \| texts \| from the store \| requests \| prompt tokens \| completion tokens \| unanswered \| unparseable \|/,
  );
  assert.equal(row(markdown, '## The LLM teacher', 'train'), '| train | 9,003 | 9,003 | 9,003 | 1,718,618 | 9,003 | 2 | 0 |');
  assert.equal(row(markdown, '## The LLM teacher', 'test'), '| test | 3,080 | 0 | 3,080 | 585,054 | 3,080 | 0 | 0 |');
  assert.ok(!markdown.includes('| validation |'), 'no row for a split the LLM did not label');
});

test('a teacher timed one request at a time (an LLM) shows — in the large-batch columns, whose header keeps the batch the students were timed at', () => {
  const summary = fixtureSummary();
  summary.models.teacher = { ...summary.models.teacher, latencyBatch: 1 };
  const markdown = renderMarkdown(summary);
  assert.match(markdown, /\| model \| test acc \| params \| MACs \| size \| latency b1 \| latency b256 \| train \|/);
  assert.match(row(markdown, '## Cost', 'teacher'), /^\| teacher \|( [^|]+ \|){7} — \| — \| — \|/);
  assert.match(row(markdown, '## Cost', 'student'), /\| 3\.90 ms \| 4\.60 ms \| 65,641\/s \|/);
});

test('the pages load the TensorFlow.js kdkit trains with and the onnxruntime-web of the onnxruntime-node that checked the exports', () => {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.dependencies['@tensorflow/tfjs-core'], TFJS_VERSION);
  assert.equal(pkg.devDependencies['@tensorflow/tfjs'], TFJS_VERSION, 'the Chromium test answers the CDN URL from this package');
  assert.equal(pkg.dependencies['onnxruntime-node'], ORT_WEB_VERSION);
  assert.equal(pkg.devDependencies['onnxruntime-web'], ORT_WEB_VERSION);
  assert.equal(
    pkg.dependencies['@huggingface/tokenizers'],
    TOKENIZERS_VERSION,
    'the text page tokenizes with the library kdkit trained with',
  );
  assert.equal(pkg.devDependencies['@huggingface/transformers'], TRANSFORMERS_VERSION, 'the layout is checked with this transformers.js');
});
