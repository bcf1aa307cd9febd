import type { Summary } from './summary.js';
import { comparisonRows, distillationGainPoints, percent } from './table.js';
import { describeSchedule, type Scheduled } from '../schedules/index.js';

/** report.md: the comparison table, the stages with their loss terms and curves, and how to load the student. */
export function renderMarkdown(summary: Summary): string {
  const rows = comparisonRows(summary);
  const table = [
    `| ${rows[0].join(' | ')} |`,
    `|${rows[0].map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
    ...rows.slice(1).map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
  const gain = distillationGainPoints(summary);
  const lines = [
    `# kdkit run: ${summary.dataset.name}, seed ${summary.seed}`,
    '',
    `Dataset: ${summary.dataset.name}: ${summary.dataset.train} train, ${summary.dataset.validation} validation, ${summary.dataset.test} test, ${summary.dataset.classes} classes.`,
    `Engine: ${summary.engine.backend}${summary.engine.simd ? ' (SIMD)' : ''}, ${summary.engine.threads} thread(s)${summary.engine.accelerator === 'none' ? '' : `, matrix products and convolutions on ONNX Runtime (${summary.engine.acceleratorThreads} threads)`}. Latency is the median forward pass after warm-up on this engine.`,
    '',
    table,
    '',
  ];
  if (gain !== null) {
    lines.push(`Distillation ${gain >= 0 ? 'gained' : 'lost'} ${Math.abs(gain).toFixed(2)} points of test accuracy over the scratch student (same architecture, initial weights, data order and budget).`, '');
  }
  lines.push('## Stages', '');
  for (const stage of summary.stages) {
    const terms = stage.terms.map((term) => `${describeSchedule(term.weight)} × ${term.method}${Object.keys(term.options).length ? ` (${Object.entries(term.options).map(([k, v]) => `${k} ${typeof v === 'object' && v !== null ? describeSchedule(v as Scheduled) : v}`).join(', ')})` : ''}`).join(' + ');
    lines.push(`### ${stage.name}`, '', `Loss: ${terms}. ${stage.epochs} epochs, batch ${stage.batchSize}.`, '');
    const termNames = Object.keys(stage.history[0]?.terms ?? {});
    lines.push(`| epoch | loss | ${termNames.join(' | ')} | val acc | seconds |`, `|---:|---:|${termNames.map(() => '---:|').join('')}---:|---:|`);
    for (const epoch of stage.history) {
      lines.push(`| ${epoch.epoch} | ${epoch.loss.toFixed(4)} | ${termNames.map((name) => epoch.terms[name].toFixed(4)).join(' | ')} | ${percent(epoch.validationAccuracy)} | ${epoch.seconds.toFixed(1)} |`);
    }
    lines.push('');
  }
  lines.push(
    '## Using the student',
    '',
    'In a browser or Node.js, with TensorFlow.js:',
    '',
    '```js',
    "const model = await tf.loadLayersModel('student/model.json'); // a URL in the browser",
    'const logits = model.predict(images); // NHWC float32 in [0, 1]',
    '```',
    '',
    `Soft labels: \`${summary.softLabels.directory}\` (${summary.softLabels.cached ? 'reused from the cache' : 'computed in this run'}).`,
    '',
  );
  return lines.join('\n');
}
