import type { Summary } from './summary.js';

const ORDER = ['teacher', 'scratch', 'student'];

/** Rows of the side-by-side comparison, shared by the console table and report.md. */
export function comparisonRows(summary: Summary): string[][] {
  const header = ['model', 'test acc', 'params', 'MACs', 'size', 'latency b1', `latency b${firstBatch(summary)}`, 'train', 'agrees w/ teacher'];
  const names = Object.keys(summary.models).sort((a, b) => rank(a) - rank(b));
  const rows = names.map((name) => {
    const model = summary.models[name];
    return [
      name,
      percent(model.accuracy),
      model.params.toLocaleString('en-US'),
      model.macs.toLocaleString('en-US'),
      bytes(model.sizeBytes),
      `${model.latencyMs.batch1.toFixed(2)} ms`,
      `${model.latencyMs.batchN.toFixed(1)} ms`,
      model.trainSeconds > 0 ? `${model.trainSeconds.toFixed(1)} s` : 'loaded',
      model.agreementWithTeacher === undefined ? '—' : percent(model.agreementWithTeacher),
    ];
  });
  return [header, ...rows];
}

/** A plain-text table with aligned columns. */
export function formatTable(rows: string[][]): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  const line = (row: string[]) => row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ');
  return [line(rows[0]), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

/** Student accuracy minus scratch accuracy, in percentage points, when both exist. */
export function distillationGainPoints(summary: Summary): number | null {
  const { student, scratch } = summary.models;
  return student && scratch ? (student.accuracy - scratch.accuracy) * 100 : null;
}

export function percent(fraction: number): string {
  return `${(fraction * 100).toFixed(2)}%`;
}

export function bytes(count: number): string {
  if (count >= 1 << 20) return `${(count / (1 << 20)).toFixed(2)} MiB`;
  if (count >= 1 << 10) return `${(count / (1 << 10)).toFixed(1)} KiB`;
  return `${count} B`;
}

function rank(name: string): number {
  const index = ORDER.indexOf(name);
  return index === -1 ? ORDER.length : index;
}

function firstBatch(summary: Summary): number {
  return Object.values(summary.models)[0]?.latencyBatch ?? 256;
}
