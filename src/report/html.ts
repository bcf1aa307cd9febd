/**
 * report.html: the run on one self-contained page. Charts are inline SVG rendered in Node, styles are
 * inline, and a Content-Security-Policy forbids every fetch, so the page opens offline and cannot
 * phone home. Every interpolated string is escaped.
 */
import { stringify } from 'yaml';
import type { Chart } from './charts.js';
import { confusionAxes } from './confusion_axes.js';
import { describeLoss } from './markdown.js';
import {
  classLabels,
  costRows,
  distillationGainPoints,
  exportRows,
  gateRows,
  gateVerdict,
  LLM_USAGE_NOTE,
  llmUsageRows,
  perClassRows,
  speedupSentence,
  qualityRows,
  validationPercent,
} from './table.js';
import { usageSnippets } from './usage.js';
import type { Summary } from './summary.js';

const style = `
  :root { color-scheme: light; --ink: #1d2330; --muted: #5b6577; --line: #dde2ea; --pass: #1a7f37; --fail: #c62828; }
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0; background: #f6f7f9; }
  main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 64px; }
  h1 { font-size: 26px; margin: 8px 0 4px; }
  h2 { font-size: 20px; margin: 40px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
  h3 { font-size: 16px; margin: 20px 0 6px; }
  p.meta, figcaption, p.note { color: var(--muted); }
  .verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 600; color: white; }
  .verdict.pass { background: var(--pass); } .verdict.fail { background: var(--fail); } .verdict.none { background: var(--muted); }
  .scroll { overflow-x: auto; }
  table { border-collapse: collapse; background: white; margin: 8px 0; font-variant-numeric: tabular-nums; }
  th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); white-space: nowrap; }
  th { background: #eef1f5; font-weight: 600; }
  td.num, th.num { text-align: right; } td.text, th.text { text-align: left; }
  td.FAIL { color: var(--fail); font-weight: 600; } td.pass { color: var(--pass); }
  .charts { display: flex; flex-wrap: wrap; gap: 16px; }
  figure.chart { margin: 0; padding: 12px; background: white; border: 1px solid var(--line); border-radius: 6px; box-sizing: content-box; max-width: calc(100% - 26px); }
  figure.chart svg { display: block; max-width: 100%; height: auto; }
  figcaption { font-size: 13px; margin-bottom: 8px; }
  pre { background: #1d2330; color: #e8ecf2; padding: 12px 16px; border-radius: 6px; overflow-x: auto; font-size: 13px; }
`;

export async function renderHtml(summary: Summary): Promise<string> {
  // Vega and Vega-Lite take ~200 ms to import; loaded here, they stay off every other CLI command's start-up.
  const { renderCharts } = await import('./charts.js');
  const charts = new Map((await renderCharts(summary)).map((chart) => [chart.id, chart]));
  const figures = (ids: string[], beside = '') => {
    const present = ids.flatMap((id) => charts.get(id) ?? []);
    return present.length || beside ? `<div class="charts">${present.map(figure).join('')}${beside}</div>` : '';
  };
  const { dataset, engine, gate } = summary;
  const gain = distillationGainPoints(summary);
  const speedup = speedupSentence(summary);
  const student = summary.models.student;
  const verdictClass = gate.checks.length === 0 ? 'none' : gate.passed ? 'pass' : 'fail';
  const title = `kdkit run: ${dataset.name}, seed ${summary.seed}`;
  const llm = llmUsageRows(summary);
  const body = [
    `<h1>${escapeHtml(title)}</h1>`,
    `<p class="meta">${escapeHtml(`${dataset.name}: ${dataset.train} train, ${dataset.validation} validation, ${dataset.test} test, ${dataset.classes} classes. Engine: ${engine.backend}${engine.simd ? ' (SIMD)' : ''}, ${engine.threads} thread(s)${engine.accelerator === 'none' ? '' : `, ONNX Runtime with ${engine.acceleratorThreads} threads for matrix products and convolutions`}. kdkit ${summary.kdkit.version}, ${summary.createdAt}.`)}</p>`,
    `<p>Deployment gate: <span class="verdict ${verdictClass}">${gate.checks.length === 0 ? 'no checks' : gate.passed ? 'passed' : 'failed'}</span> ${escapeHtml(gateVerdict(gate))}</p>`,
    gain === null
      ? ''
      : `<p>${escapeHtml(`Distillation ${gain >= 0 ? 'gained' : 'lost'} ${Math.abs(gain).toFixed(2)} points of test accuracy over the scratch student (same architecture, initial weights, data order and budget).`)}</p>`,
    '<h2>Models</h2>',
    '<h3>Quality</h3>',
    '<p class="note">ECE: expected calibration error of the top-1 confidence (15 bins). KL: mean KL divergence from the teacher at temperature 1.</p>',
    htmlTable(qualityRows(summary)),
    '<h3>Cost</h3>',
    '<p class="note">Sizes: model.json plus weights by weight storage. Latency: one forward pass on the model\'s runtime (TensorFlow.js, or ONNX Runtime for an ONNX teacher), p50 and p95 over repeats after warm-up. Peak memory: weights, input and live intermediates of one forward pass.</p>',
    // 14 columns do not fit 1280 px: what a model weighs, then how fast it runs.
    splitTable(costRows(summary), [
      [0, 1, 2, 3, 4, 5, 11, 12, 13],
      [0, 6, 7, 8, 9, 10],
    ]),
    speedup ? `<p>${escapeHtml(speedup)}</p>` : '',
    ...(llm ? ['<h3>The LLM teacher</h3>', `<p class="note">${escapeHtml(LLM_USAGE_NOTE)}</p>`, htmlTable(llm)] : []),
    '<h2>Trade-offs</h2>',
    figures(['accuracy-latency', 'accuracy-size']),
    '<h2>Training</h2>',
    `<ul>${summary.stages.map((stage) => `<li><strong>${escapeHtml(stage.name)}</strong>: ${escapeHtml(`${describeLoss(stage)}; ${stage.epochs} epochs, batch ${stage.batchSize}${finalValidation(stage)}.`)}</li>`).join('')}</ul>`,
    figures(['training-loss', 'training-accuracy']),
    ...(student ? ['<h2>The student by class</h2>', figures(['confusion'], htmlTable(perClassRows(student, perClassNames(summary))))] : []),
    '<h2>Deployment gate</h2>',
    `<p>${escapeHtml(gateVerdict(gate))}</p>`,
    gate.checks.length ? htmlTable(gateRows(gate), 2) : '',
    '<h2>Exports</h2>',
    '<p class="note">Drop: the float32 student\'s test accuracy minus the copy\'s. Max |Δ logit| and agreement compare ONNX Runtime with TensorFlow.js over the test set.</p>',
    // Each copy's size and accuracy, then ONNX Runtime's agreement and speed.
    splitTable(
      exportRows(summary),
      [
        [0, 1, 2, 3, 4, 5],
        [0, 1, 2, 6, 7, 8, 9],
      ],
      3,
    ),
    '<h2>Using the student</h2>',
    ...usageSnippets(summary).map((snippet) =>
      [
        `<h3>${escapeHtml(snippet.runtime)}</h3>`,
        `<ul>${snippet.copies.map((copy) => `<li>${escapeHtml(copy).replace(/`([^`]*)`/g, '<code>$1</code>')}</li>`).join('')}</ul>`,
        `<pre><code>${escapeHtml(snippet.code)}</code></pre>`,
      ].join('\n'),
    ),
    '<h2>Config</h2>',
    `<pre class="config">${escapeHtml(stringify(summary.config))}</pre>`,
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${style}</style>
</head>
<body>
<main>
${body.filter(Boolean).join('\n')}
</main>
</body>
</html>
`;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

/** `rows` as one table per group of column indices (each group starting with the key columns); indices past the header are left out. */
function splitTable(rows: string[][], groups: number[][], textColumns = 1): string {
  return groups
    .map((group) => group.filter((column) => column < rows[0].length))
    .filter((group) => group.length > textColumns)
    .map((group) =>
      htmlTable(
        rows.map((row) => group.map((column) => row[column])),
        textColumns,
      ),
    )
    .join('\n');
}

/** The first `textColumns` columns are text, left-aligned; the rest are figures, right-aligned. */
function htmlTable(rows: string[][], textColumns = 1): string {
  const cellClass = (cell: string, column: number) => (column < textColumns ? 'text' : cell === 'FAIL' || cell === 'pass' ? cell : 'num');
  const head = rows[0].map((cell, column) => `<th class="${column < textColumns ? 'text' : 'num'}">${escapeHtml(cell)}</th>`).join('');
  const body = rows
    .slice(1)
    .map((row) => `<tr>${row.map((cell, column) => `<td class="${cellClass(cell, column)}">${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<div class="scroll"><table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table></div>`;
}

/** The per-class table's class column: "12 card_arrival" when the confusion matrix numbers the classes, else the names. */
function perClassNames(summary: Summary): string[] {
  const names = classLabels(summary);
  return confusionAxes(names).indices ? names.map((name, index) => `${index} ${name}`) : names;
}

function figure(chart: Chart): string {
  // Sized to the SVG, so the caption wraps to the chart's width rather than stretching the figure.
  return `<figure class="chart" data-chart="${escapeHtml(chart.id)}" style="width: ${chart.widthPx}px"><figcaption><strong>${escapeHtml(chart.title)}.</strong> ${escapeHtml(chart.caption)}</figcaption>${chart.svg}</figure>`;
}

/** ", final validation accuracy 97.22%", or nothing for a stage without epochs or a validation set. */
function finalValidation(stage: Summary['stages'][number]): string {
  const last = stage.history.at(-1);
  const validation = last ? validationPercent(last.validationAccuracy) : null;
  return validation === null ? '' : `, final validation accuracy ${validation}`;
}
