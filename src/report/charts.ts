/**
 * The report's charts: Vega-Lite specs built from the summary, rendered in Node to SVG strings with
 * Vega's headless renderer, so report.html needs no script, no canvas and no network to show them.
 */
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { paretoFront, type TradeoffPoint } from './pareto.js';
import { classLabels, modelNames } from './table.js';
import { CONFUSION_NAMED_CLASSES, confusionAxes, confusionSide } from './confusion_axes.js';
import type { Summary } from './summary.js';

export interface Chart {
  /** Stable id, the figure's data-chart attribute. */
  id: string;
  title: string;
  /** One or two sentences on how to read the chart. */
  caption: string;
  svg: string;
  /** The SVG's width in CSS pixels, legends included. */
  widthPx: number;
}

const font = 'system-ui, -apple-system, "Segoe UI", sans-serif';
const config = { font, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelFontSize: 11, titleFontSize: 12 } };

/** Every chart the summary has data for, in reading order. */
export async function renderCharts(summary: Summary): Promise<Chart[]> {
  const charts: (Omit<Chart, 'svg' | 'widthPx'> & { spec: TopLevelSpec })[] = [];
  const epochs = summary.stages.flatMap((stage) => stage.history);
  if (epochs.length > 0) {
    charts.push({
      id: 'training-loss',
      title: 'Training loss',
      caption: 'Mean weighted loss per epoch, one line per stage. Stages minimise different losses, so compare shapes, not levels.',
      spec: curveSpec(summary, 'loss', 'training loss'),
    });
  }
  // A run without a validation set has no accuracy to draw (NaN, or null from JSON).
  if (epochs.some((epoch) => Number.isFinite(epoch.validationAccuracy))) {
    charts.push({
      id: 'training-accuracy',
      title: 'Validation accuracy',
      caption: 'Validation accuracy after each epoch, one line per stage.',
      spec: curveSpec(summary, 'validationAccuracy', 'validation accuracy'),
    });
  }
  const names = modelNames(summary);
  // A model without the figure (a remote teacher has no size) is left out of that chart.
  const accuracyAgainst = (cost: (name: string) => number | null) =>
    names.flatMap((name) => {
      const value = cost(name);
      return value === null ? [] : [{ name, cost: value, accuracy: summary.models[name].accuracy }];
    });
  charts.push(
    {
      id: 'accuracy-latency',
      title: 'Accuracy against latency',
      caption:
        'Test accuracy against TensorFlow.js batch-1 median latency. Filled points and the step line are the Pareto front: no other model is both faster and more accurate.',
      spec: tradeoffSpec(
        accuracyAgainst((name) => summary.models[name].latency.batch1.p50Ms),
        'batch-1 latency, p50 (ms, log scale)',
      ),
    },
    {
      id: 'accuracy-size',
      title: 'Accuracy against size',
      caption:
        'Test accuracy against float32 model size. Filled points and the step line are the Pareto front: no other model is both smaller and more accurate.',
      spec: tradeoffSpec(
        accuracyAgainst((name) => {
          const size = summary.models[name].sizeBytes;
          return size === null ? null : size / 1024;
        }),
        'size, float32 (KiB, log scale)',
      ),
    },
  );
  const student = summary.models.student;
  if (student) {
    charts.push({
      id: 'confusion',
      title: 'Confusion matrix of the student',
      caption: `Test samples by true class (rows) and predicted class (columns); the diagonal is correct.${
        confusionAxes(classLabels(summary)).indices
          ? ' The axes number the classes; hover a number for its name, or read it in the per-class table below.'
          : ''
      }`,
      spec: confusionSpec(student.confusion, classLabels(summary)),
    });
  }
  const classNames = classLabels(summary);
  return Promise.all(
    charts.map(async ({ spec, ...chart }) => {
      const rendered = await renderSvg(spec);
      const svg = chart.id === 'confusion' ? withAxisTooltips(rendered, confusionAxes(classNames).axisLabels, classNames) : rendered;
      return { ...chart, svg, widthPx: Number(/^<svg[^>]*\swidth="([\d.]+)"/.exec(svg)?.[1] ?? 0) };
    }),
  );
}

const xmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const xmlText = (text: string) => text.replace(/[&<>"']/g, (character) => xmlEscapes[character]);

/**
 * The SVG with each axis label of a class given its full name as a tooltip (an SVG <title>, shown
 * on hover with no script): `axisLabels[c]` is what the axis shows for class c, perhaps cut short
 * with "…" by the label limit, `names[c]` its name.
 */
export function withAxisTooltips(svg: string, axisLabels: readonly string[], names: readonly string[]): string {
  const decode = (text: string) =>
    text.replace(/&(amp|lt|gt|quot|#39);/g, (entity) => ({ '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" })[entity]!);
  const nameOf = (shown: string): string | undefined => {
    const exact = axisLabels.indexOf(shown);
    if (exact >= 0) return names[exact];
    if (!shown.endsWith('…')) return undefined;
    const prefix = shown.slice(0, -1);
    const matches = axisLabels.flatMap((label, c) => (label.startsWith(prefix) ? [names[c]] : []));
    return matches.length === 1 ? matches[0] : undefined;
  };
  return svg.replace(/(<g class="mark-text role-axis-label"[^>]*>)([\s\S]*?)(<\/g>)/g, (_, open: string, labels: string, close: string) => {
    const titled = labels.replace(/(<text[^>]*>)([^<]*)(<\/text>)/g, (text, start: string, content: string, end: string) => {
      const name = nameOf(decode(content));
      return name === undefined ? text : `${start}<title>${xmlText(name)}</title>${content}${end}`;
    });
    return `${open}${titled}${close}`;
  });
}

/** Renders a Vega-Lite spec to a standalone SVG string, headless. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** One line per stage of a per-epoch figure. */
export function curveSpec(summary: Summary, field: 'loss' | 'validationAccuracy', title: string): TopLevelSpec {
  const values = summary.stages.flatMap((stage) =>
    stage.history.map((epoch) => ({ stage: stage.name, epoch: epoch.epoch, value: epoch[field] })),
  );
  return {
    config,
    width: 340,
    height: 220,
    name: 'curves',
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1, format: 'd' } },
      y: {
        field: 'value',
        type: 'quantitative',
        title,
        scale: { zero: false },
        ...(field === 'validationAccuracy' ? { axis: { format: '.0%' } } : {}),
      },
      color: { field: 'stage', type: 'nominal', title: 'stage', scale: { domain: summary.stages.map((stage) => stage.name) } },
    },
  };
}

/** Accuracy against a cost, each point labelled with its model, the Pareto front drawn as a step line. */
export function tradeoffSpec(points: TradeoffPoint[], costTitle: string): TopLevelSpec {
  const front = new Set(paretoFront(points).map((point) => point.name));
  const values = points.map((point) => ({ ...point, front: front.has(point.name) ? 'Pareto front' : 'dominated' }));
  const x = { field: 'cost', type: 'quantitative', title: costTitle, scale: { type: 'log', nice: false, padding: 40 } } as const;
  const y = {
    field: 'accuracy',
    type: 'quantitative',
    title: 'test accuracy',
    scale: { zero: false, padding: 16 },
    axis: { format: '.1%' },
  } as const;
  return {
    config: { ...config, legend: { ...config.legend, orient: 'bottom' } },
    width: 380,
    height: 240,
    data: { values },
    layer: [
      {
        name: 'front',
        transform: [{ filter: "datum.front === 'Pareto front'" }],
        // A step after each front point: the best accuracy reachable within each cost budget.
        mark: { type: 'line', interpolate: 'step-after', color: '#888', strokeDash: [4, 3] },
        encoding: { x, y, order: { field: 'cost' } },
      },
      {
        name: 'models',
        mark: { type: 'point', size: 80, strokeWidth: 2 },
        encoding: {
          x,
          y,
          fill: {
            field: 'front',
            type: 'nominal',
            title: null,
            scale: { domain: ['Pareto front', 'dominated'], range: ['#1f77b4', 'white'] },
          },
          stroke: { value: '#1f77b4' },
        },
      },
      {
        name: 'labels',
        mark: { type: 'text', align: 'center', dy: -13, fontSize: 11 },
        encoding: { x, y, text: { field: 'name' } },
      },
    ],
  };
}

/** A heatmap of counts with the count written in each non-empty cell. */
export function confusionSpec(confusion: number[][], labels: readonly string[]): TopLevelSpec {
  const { axisLabels, xAngle } = confusionAxes(labels);
  const values = confusion.flatMap((row, actual) =>
    row.map((count, predicted) => ({ actual: axisLabels[actual], predicted: axisLabels[predicted], count })),
  );
  const largest = Math.max(1, ...values.map((cell) => cell.count));
  const side = confusionSide(labels.length);
  const small = labels.length > CONFUSION_NAMED_CLASSES;
  const x = {
    field: 'predicted',
    type: 'ordinal',
    title: 'predicted class',
    sort: axisLabels,
    // Past the classes whose labels fit, Vega drops labels that would overlap rather than draw them over each other.
    axis: { labelAngle: xAngle, labelLimit: 110, labelOverlap: 'greedy', ...(small && { labelFontSize: 7 }) },
  } as const;
  const y = {
    field: 'actual',
    type: 'ordinal',
    title: 'true class',
    sort: axisLabels,
    axis: { labelLimit: 140, labelOverlap: 'greedy', ...(small && { labelFontSize: 7 }) },
  } as const;
  return {
    config,
    width: side,
    height: side,
    data: { values },
    layer: [
      {
        name: 'cells',
        mark: { type: 'rect' },
        // A square-root scale keeps single mistakes visible next to a full diagonal.
        encoding: {
          x,
          y,
          color: { field: 'count', type: 'quantitative', title: 'samples', scale: { type: 'sqrt', domain: [0, largest], scheme: 'blues' } },
        },
      },
      // Counts are written in the cells while they fit (14 px a cell, for two digits); past that the colour alone says.
      {
        name: 'counts',
        transform: [{ filter: side / labels.length >= 14 ? 'datum.count > 0' : 'false' }],
        mark: { type: 'text', fontSize: labels.length > 15 ? 8 : 11 },
        encoding: {
          x,
          y,
          text: { field: 'count', type: 'quantitative' },
          color: { condition: { test: `datum.count > ${largest / 2}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}
