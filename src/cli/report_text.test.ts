// What a run prints and reports when there is no validation set, and when the class names are
// user text that markdown or HTML would otherwise interpret.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kdkit } from './cli.test.util.js';
import { encodeNpy } from '../util/npy.js';

const directory = mkdtempSync(join(tmpdir(), 'kdkit-report-text-'));
test.after(() => rmSync(directory, { recursive: true, force: true }));

const classes = ['<script>alert(1)</script>', 'pipe | and `tick`', 'two\nlines & more'];

function part(name: string, count: number): void {
  // Each class a different brightness, so the models have something to learn.
  const labels = Int32Array.from({ length: count }, (_, i) => i % classes.length);
  const images = Float32Array.from(
    { length: count * 64 },
    (_, i) => (labels[Math.floor(i / 64)] + ((i * 7919) % 13) / 13) / classes.length,
  );
  writeFileSync(join(directory, `${name}-x.npy`), encodeNpy({ dtype: 'float32', data: images, shape: [count, 8, 8, 1] }));
  writeFileSync(join(directory, `${name}-y.npy`), encodeNpy({ dtype: 'int32', data: labels, shape: [count] }));
}

test('with validation: 0 and class names holding markup, nothing shows NaN and report.md escapes the names', () => {
  part('train', 120);
  part('test', 30);
  const config = join(directory, 'exp.yaml');
  writeFileSync(
    config,
    `${[
      `dataset: {name: npy, validation: 0, classes: ${JSON.stringify(classes)}, train: {images: ${directory}/train-x.npy, labels: ${directory}/train-y.npy}, test: {images: ${directory}/test-x.npy, labels: ${directory}/test-y.npy}}`,
      'teacher: {model: {type: mlp, hidden: [8]}, epochs: 2, batchSize: 32}',
      'student: {model: {type: mlp, hidden: [4]}}',
      'distill: {epochs: 2, batchSize: 32, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}',
      'export: {quantize: [], onnx: false}',
    ].join('\n')}\n`,
  );
  const out = join(directory, 'run');
  const result = kdkit('run', config, '--out', out);
  assert.equal(result.status, 0, result.stderr);

  // The per-epoch lines (not a terminal) have no validation figure at all.
  const epochLines = result.stdout.split('\n').filter((line) => / epoch \d\/2 /.test(line));
  assert.equal(epochLines.length, 6, result.stdout);
  for (const line of epochLines) assert.doesNotMatch(line, /val|NaN/);
  assert.doesNotMatch(result.stdout, /NaN/);

  const summaryText = readFileSync(join(out, 'summary.json'), 'utf8');
  const summary = JSON.parse(summaryText);
  assert.equal(summary.dataset.validation, 0);
  for (const stage of summary.stages)
    for (const epoch of stage.history) assert.equal(epoch.validationAccuracy, null, `${stage.name} epoch ${epoch.epoch}`);

  const markdown = readFileSync(join(out, 'report.md'), 'utf8');
  assert.doesNotMatch(markdown, /NaN/);
  assert.match(markdown, /\n\| 1 \| [\d.]+ \| [\d.]+ \| — \| [\d.]+ \|\n/, 'the val acc column holds a dash');
  assert.doesNotMatch(markdown, /<script>/);
  const byClass = markdown.slice(markdown.indexOf('## The student by class'), markdown.indexOf('## Deployment gate'));
  assert.match(byClass, /\n\| &lt;script&gt;alert\(1\)&lt;\/script&gt; \| /);
  assert.match(byClass, /\n\| pipe \\\| and &#96;tick&#96; \| /);
  assert.match(byClass, /\n\| two<br>lines &amp; more \| /);
  // Every row of both tables (per class, confusion) has as many cells as its header.
  for (const table of byClass.split('\n\n').filter((block) => block.startsWith('|'))) {
    const cells = table.split('\n').map((row) => row.split(/(?<!\\)\|/).length);
    assert.ok(
      cells.every((count) => count === cells[0]),
      table,
    );
  }

  const html = readFileSync(join(out, 'report.html'), 'utf8');
  assert.doesNotMatch(html, /NaN/);
  assert.doesNotMatch(html, /<script>alert/);
  assert.doesNotMatch(html, /data-chart="training-accuracy"/, 'no validation-accuracy chart without a validation set');
});
