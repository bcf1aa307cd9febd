import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderCharts, tradeoffSpec } from './charts.js';
import { fixtureSummary } from './summary.test.util.js';

test('the trade-off chart marks the Pareto front and labels every model', () => {
  const spec = tradeoffSpec(
    [
      { name: 'teacher', cost: 1.84, accuracy: 0.9889 },
      { name: 'scratch', cost: 0.42, accuracy: 0.9443 },
      { name: 'student', cost: 0.41, accuracy: 0.9638 },
    ],
    'latency',
  );
  const values = (spec.data as { values: { name: string; front: string }[] }).values;
  assert.deepEqual(
    values.map((value) => [value.name, value.front]),
    [
      ['teacher', 'Pareto front'],
      ['scratch', 'dominated'],
      ['student', 'Pareto front'],
    ],
  );
});

test('renderCharts draws standalone SVGs, and no training charts when no stage has a history', async () => {
  const summary = fixtureSummary();
  const charts = await renderCharts(summary);
  assert.deepEqual(
    charts.map((chart) => chart.id),
    ['training-loss', 'training-accuracy', 'accuracy-latency', 'accuracy-size', 'confusion'],
  );
  for (const chart of charts) {
    assert.match(chart.svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"[^>]* width="\d+" height="\d+"/, chart.id);
    assert.ok(chart.widthPx > 200, `${chart.id} is ${chart.widthPx}px wide`);
  }
  for (const stage of summary.stages) stage.history = [];
  delete summary.models.student;
  assert.deepEqual(
    (await renderCharts(summary)).map((chart) => chart.id),
    ['accuracy-latency', 'accuracy-size'],
  );
});

test('no validation-accuracy chart for a run without a validation set (NaN in memory, null from JSON)', async () => {
  const summary = fixtureSummary();
  for (const stage of summary.stages)
    for (const epoch of stage.history)
      (epoch as { validationAccuracy: number | null }).validationAccuracy = epoch.epoch === 1 ? Number.NaN : null;
  const charts = await renderCharts(summary);
  assert.deepEqual(
    charts.map((chart) => chart.id),
    ['training-loss', 'accuracy-latency', 'accuracy-size', 'confusion'],
  );
  for (const chart of charts) assert.doesNotMatch(chart.svg, /NaN/, chart.id);
});
