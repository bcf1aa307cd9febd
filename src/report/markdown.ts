import type { StageSummary, Summary } from './summary.js';
import {
  classLabels,
  comparisonRows,
  confusionRows,
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
import { describeSchedule, type Scheduled } from '../schedules/index.js';

/**
 * report.md: every figure of the run as tables (comparison, quality, cost, the student's classes, the
 * gate, the exports), the stages with their loss terms and curves, and how to load the student.
 */
export function renderMarkdown(summary: Summary): string {
  const gain = distillationGainPoints(summary);
  const lines = [
    `# kdkit run: ${summary.dataset.name}, seed ${summary.seed}`,
    '',
    `Dataset: ${summary.dataset.name}: ${summary.dataset.train} train, ${summary.dataset.validation} validation, ${summary.dataset.test} test, ${summary.dataset.classes} classes.`,
    `Engine: ${summary.engine.backend}${summary.engine.simd ? ' (SIMD)' : ''}, ${summary.engine.threads} thread(s)${summary.engine.accelerator === 'none' ? '' : `, matrix products and convolutions on ONNX Runtime (${summary.engine.acceleratorThreads} threads)`}. Latency is the median forward pass after warm-up on this engine.`,
    '',
    markdownTable(comparisonRows(summary)),
    '',
  ];
  if (gain !== null) {
    lines.push(
      `Distillation ${gain >= 0 ? 'gained' : 'lost'} ${Math.abs(gain).toFixed(2)} points of test accuracy over the scratch student (same architecture, initial weights, data order and budget).`,
      '',
    );
  }
  lines.push(
    '## Quality',
    '',
    'ECE is the expected calibration error of the top-1 confidence (15 bins); KL is the mean KL divergence from the teacher at temperature 1.',
    '',
    markdownTable(qualityRows(summary)),
    '',
    '## Cost',
    '',
    "Sizes are model.json plus weights by weight storage; latency is one forward pass on the model's runtime (TensorFlow.js, or ONNX Runtime for an ONNX teacher; p50 and p95 over repeats) at batch 1 and the large batch; peak memory is weights, input and live intermediates.",
    '',
    markdownTable(costRows(summary)),
    '',
  );
  const speedup = speedupSentence(summary);
  if (speedup) lines.push(speedup, '');
  const llm = llmUsageRows(summary);
  if (llm) lines.push('## The LLM teacher', '', LLM_USAGE_NOTE, '', markdownTable(llm), '');
  const student = summary.models.student;
  if (student) {
    const labels = classLabels(summary);
    lines.push(
      '## The student by class',
      '',
      markdownTable(perClassRows(student, labels)),
      '',
      'Confusion matrix (rows: true class, columns: predicted class):',
      '',
      markdownTable(confusionRows(student, labels)),
      '',
    );
  }
  lines.push('## Deployment gate', '', `**${gateVerdict(summary.gate)}**`, '');
  if (summary.gate.checks.length > 0) lines.push(markdownTable(gateRows(summary.gate), 2), '');
  lines.push(
    '## Exports',
    '',
    "Drop is the float32 student's test accuracy minus the copy's; max |Δ logit| and agreement compare ONNX Runtime with TensorFlow.js over the test set.",
    '',
    markdownTable(exportRows(summary), 3),
    '',
    ...stageLines(summary),
    '## Using the student',
    '',
  );
  for (const snippet of usageSnippets(summary)) {
    lines.push(
      snippet.language === 'html' ? `In a browser, with ${snippet.runtime}, a whole page:` : `In a browser, with ${snippet.runtime}:`,
      '',
      ...snippet.copies.map((copy) => `- ${copy}`),
      '',
      `\`\`\`${snippet.language}`,
      snippet.code,
      '```',
      '',
    );
  }
  lines.push(
    summary.softLabels.mode === 'online'
      ? 'Soft labels: online (the teacher labelled every augmented batch inside the training step).'
      : `Soft labels: ${inlineCode(summary.softLabels.directory)} (${summary.softLabels.cached ? 'reused from the cache' : 'computed in this run'}).`,
    '',
  );
  return lines.join('\n');
}

/** A GitHub-flavoured table: the first `textColumns` columns left-aligned, the figures right-aligned. */
export function markdownTable(rows: string[][], textColumns = 1): string {
  const line = (row: string[]) => `| ${row.map(markdownText).join(' | ')} |`;
  return [line(rows[0]), `|${rows[0].map((_, i) => (i < textColumns ? '---' : '---:')).join('|')}|`, ...rows.slice(1).map(line)].join('\n');
}

/**
 * Text as itself in report.md, wherever user text lands (class names, layer names): HTML's
 * specials and backticks as entities, so no tag or code span starts; backslashes and pipes escaped,
 * so a table cell stays one cell; line breaks as <br>, so a row stays one line.
 */
export function markdownText(text: string): string {
  return text
    .replaceAll('\\', '\\\\')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('`', '&#96;')
    .replaceAll('|', '\\|')
    .replace(/\r\n|\r|\n/g, '<br>');
}

/** `text` as inline code, fenced with more backticks than it holds in a row. */
function inlineCode(text: string): string {
  const fence = '`'.repeat(Math.max(0, ...(text.match(/`+/g) ?? []).map((run) => run.length)) + 1);
  const padding = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${padding}${text}${padding}${fence}`;
}

function stageLines(summary: Summary): string[] {
  const lines = ['## Stages', ''];
  for (const stage of summary.stages) {
    lines.push(
      `### ${stage.name}`,
      '',
      `Loss: ${markdownText(describeLoss(stage))}. ${stage.epochs} epochs, batch ${stage.batchSize}.`,
      '',
    );
    const termNames = Object.keys(stage.history[0]?.terms ?? {});
    lines.push(
      `| epoch | loss | ${termNames.join(' | ')} | val acc | seconds |`,
      `|---:|---:|${termNames.map(() => '---:|').join('')}---:|---:|`,
    );
    for (const epoch of stage.history) {
      lines.push(
        `| ${epoch.epoch} | ${epoch.loss.toFixed(4)} | ${termNames.map((name) => epoch.terms[name].toFixed(4)).join(' | ')} | ${validationPercent(epoch.validationAccuracy) ?? '—'} | ${epoch.seconds.toFixed(1)} |`,
      );
    }
    lines.push('');
  }
  return lines;
}

/** A stage's loss as a weighted sum of its terms, e.g. "0.9 × kd (temperature 4) + 0.1 × ce". */
export function describeLoss(stage: StageSummary): string {
  return stage.terms
    .map((term) => {
      const options = Object.entries(term.options).map(
        ([key, value]) => `${key} ${typeof value === 'object' && value !== null ? describeSchedule(value as Scheduled) : value}`,
      );
      return `${describeSchedule(term.weight)} × ${term.method}${options.length ? ` (${options.join(', ')})` : ''}`;
    })
    .join(' + ');
}
