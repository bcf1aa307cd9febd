import { test } from 'node:test';
import assert from 'node:assert/strict';
import { speedups } from './summary.js';
import { speedupSentence } from './table.js';
import { renderMarkdown } from './markdown.js';
import { fixtureSummary } from './summary.test.util.js';

function stats(p50Ms: number) {
  return { batchSize: 1, p50Ms, p95Ms: p50Ms * 1.5, samplesPerSecond: 1000 / p50Ms, repeats: 50 };
}

test('a TensorFlow.js teacher is compared on both runtimes: its own latency, and its ONNX export against student.onnx', () => {
  const summary = fixtureSummary();
  summary.models.teacher.latency.batch1 = stats(2.4);
  summary.models.student.latency.batch1 = stats(0.6);
  summary.exports.onnx[0].latency.batch1 = stats(0.08);
  const result = speedups({ models: summary.models, exports: summary.exports, teacherOnnxLatency: { batch1: stats(0.4) } });
  assert.deepEqual(result, [
    { runtime: 'onnxruntime', teacherMs: 0.4, studentMs: 0.08, speedup: 5 },
    { runtime: 'tfjs', teacherMs: 2.4, studentMs: 0.6, speedup: 4 },
  ]);
  assert.equal(
    speedupSentence({ speedups: result }),
    'At batch 1 the student is 5.0× faster than the teacher on ONNX Runtime (0.080 ms against 0.400 ms), and 4.0× faster on TensorFlow.js (0.600 ms against 2.40 ms).',
  );
});

test('an ONNX teacher is compared on ONNX Runtime only; a slower student says so', () => {
  const summary = fixtureSummary();
  summary.models.teacher.runtime = 'onnxruntime';
  summary.models.teacher.latency.batch1 = stats(0.1);
  summary.exports.onnx[0].latency.batch1 = stats(0.25);
  const result = speedups({ models: summary.models, exports: summary.exports, teacherOnnxLatency: null });
  assert.deepEqual(result, [{ runtime: 'onnxruntime', teacherMs: 0.1, studentMs: 0.25, speedup: 0.4 }]);
  assert.equal(
    speedupSentence({ speedups: result }),
    'At batch 1 the student is 2.5× slower than the teacher on ONNX Runtime (0.250 ms against 0.100 ms).',
  );
});

test('without an ONNX export or a remote teacher there is nothing to compare on that runtime', () => {
  const summary = fixtureSummary();
  summary.exports.onnx = [];
  assert.deepEqual(
    speedups({ models: summary.models, exports: summary.exports, teacherOnnxLatency: { batch1: stats(0.4) } }).map((s) => s.runtime),
    ['tfjs'],
  );
  summary.models.teacher.runtime = 'remote';
  assert.deepEqual(speedups({ models: summary.models, exports: summary.exports, teacherOnnxLatency: null }), []);
  assert.equal(speedupSentence({ speedups: [] }), null);
  // Summaries from before speedups were recorded render without the sentence.
  const old = fixtureSummary();
  delete old.speedups;
  assert.doesNotMatch(renderMarkdown(old), /At batch 1/);
});

test('report.md says how much faster the student is', () => {
  const summary = fixtureSummary();
  summary.speedups = [{ runtime: 'onnxruntime', teacherMs: 1.3, studentMs: 0.16, speedup: 1.3 / 0.16 }];
  assert.match(
    renderMarkdown(summary),
    /At batch 1 the student is 8\.1× faster than the teacher on ONNX Runtime \(0\.160 ms against 1\.30 ms\)\./,
  );
});
