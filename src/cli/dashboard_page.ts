/**
 * The dashboard's page: two live charts (each epoch's loss per term, and validation accuracy, per
 * run and stage), a run selector, and a card per run with its stages, the soft-label store's
 * progress (an LLM teacher's labelling), its latest messages and, once written, its report. The
 * charts are Vega-Lite specs compiled here and drawn by Vega in the page, fed by /events.
 */
import { compile, type TopLevelSpec } from 'vega-lite';
import { escapeHtml } from '../report/html.js';

function lineSpec(title: string): TopLevelSpec {
  return {
    width: 450,
    height: 240,
    // The legend grows as series arrive: the view resizes to it.
    autosize: { type: 'pad', resize: true },
    data: { name: 'points' },
    mark: { type: 'line', point: true, tooltip: true },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 } },
      y: { field: 'value', type: 'quantitative', title, scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 360 } },
    },
  };
}

/** The page for runs named `runs` (their order is the index /events and /report/N use). */
export function dashboardPage(runs: readonly string[]): string {
  const specs = { loss: compile(lineSpec('loss')).spec, accuracy: compile(lineSpec('validation accuracy')).spec };
  // </script> cannot appear inside the JSON: '<' is written as \u003c.
  const json = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>kdkit dashboard: ${escapeHtml(runs.join(', '))}</title>
<style>
  body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; margin: 0; background: #f6f7f9; }
  main { max-width: 1180px; margin: 0 auto; padding: 16px 32px 48px; }
  h1 { font-size: 22px; margin: 8px 0; }
  .charts { display: flex; flex-wrap: wrap; gap: 16px; }
  figure { margin: 0; padding: 12px; background: white; border: 1px solid #dde2ea; border-radius: 6px; }
  figcaption, .muted { color: #5b6577; font-size: 13px; }
  .card { background: white; border: 1px solid #dde2ea; border-radius: 6px; padding: 8px 16px; margin: 16px 0; }
  table { border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { padding: 2px 10px; border-bottom: 1px solid #dde2ea; text-align: right; white-space: nowrap; }
  th:first-child, td:first-child { text-align: left; }
  progress { width: 240px; vertical-align: middle; }
  ul.messages { margin: 4px 0; padding-left: 18px; font-size: 13px; color: #5b6577; }
</style>
</head>
<body>
<main>
<h1>kdkit dashboard</h1>
<p id="status" class="muted">connecting…</p>
<p id="runs">Runs: ${runs.map((run, index) => `<label><input type="checkbox" data-run="${index}" checked> ${escapeHtml(run)}</label>`).join(' ')}</p>
<div class="charts">
  <figure><figcaption>Training loss by epoch, each term (run · stage · term)</figcaption><div id="loss"></div></figure>
  <figure><figcaption>Validation accuracy by epoch (run · stage)</figcaption><div id="accuracy"></div></figure>
</div>
<p class="muted"><span id="epochs">0</span> epochs received</p>
<div id="cards"></div>
<script src="/vega.js"></script>
<script type="application/json" id="specs">${json(specs)}</script>
<script type="application/json" id="names">${json(runs)}</script>
<script>
${PAGE_SCRIPT}
</script>
</main>
</body>
</html>
`;
}

/** The page's own code: plain browser JavaScript, no build step. */
const PAGE_SCRIPT = `
const specs = JSON.parse(document.getElementById('specs').textContent);
const names = JSON.parse(document.getElementById('names').textContent);
const rows = { loss: [], accuracy: [] };
const shown = new Set(names.map((_, run) => run));
const state = names.map(() => ({ stages: new Map(), labelling: new Map(), messages: [], finished: false }));
let epochs = 0;

const views = {};
for (const id of ['loss', 'accuracy']) {
  views[id] = new vega.View(vega.parse(specs[id]), { renderer: 'svg', container: '#' + id, hover: true });
}
const ready = Promise.all(Object.values(views).map((view) => view.runAsync()));

function redraw(id) {
  const view = views[id];
  view.change('points', vega.changeset().remove(() => true).insert(rows[id].filter((row) => shown.has(row.run))));
  return view.runAsync();
}

function text(value) {
  const span = document.createElement('span');
  span.textContent = value;
  return span.innerHTML;
}

function card(run) {
  const s = state[run];
  const stages = [...s.stages.values()]
    .map((stage) => '<tr><td>' + text(stage.name) + '</td><td>' + stage.epoch + ' / ' + stage.epochs + '</td><td>' +
      (stage.loss === undefined ? '—' : stage.loss.toFixed(4)) + '</td><td>' +
      (stage.accuracy == null ? '—' : (stage.accuracy * 100).toFixed(2) + '%') + '</td><td>' + (stage.done ? 'done' : 'training') + '</td></tr>')
    .join('');
  const labelling = [...s.labelling.values()]
    .map((l) => '<p>' + text(l.what) + ': <progress max="' + l.total + '" value="' + l.done + '"></progress> ' + l.done + ' / ' + l.total +
      ' texts, ' + l.requests + ' requests, ' + l.tokens + ' tokens' + (l.fromStore ? ' (' + l.fromStore + ' from the store)' : '') + '</p>')
    .join('');
  const report = s.finished ? '<p><a href="/report/' + run + '" target="_blank">report.html</a></p>' : '';
  return '<section class="card" data-run="' + run + '"><h2>' + text(names[run]) + (s.finished ? ' (finished)' : '') + '</h2>' +
    (stages ? '<table><thead><tr><th>stage</th><th>epoch</th><th>loss</th><th>val acc</th><th></th></tr></thead><tbody>' + stages + '</tbody></table>' : '') +
    labelling + report + '<ul class="messages">' + s.messages.slice(-6).map((m) => '<li>' + text(m) + '</li>').join('') + '</ul></section>';
}

function render() {
  document.getElementById('cards').innerHTML = names.map((_, run) => card(run)).join('');
  document.getElementById('epochs').textContent = String(epochs);
}

function accept(run, event) {
  const s = state[run];
  const name = names[run];
  if (event.type === 'run-start') {
    state[run] = { stages: new Map(), labelling: new Map(), messages: [], finished: false };
    for (const id of ['loss', 'accuracy']) rows[id] = rows[id].filter((row) => row.run !== run);
    return ['loss', 'accuracy'];
  }
  if (event.type === 'stage-start') {
    s.stages.set(event.stage, { name: event.stage, epochs: event.epochs, epoch: 0, done: false });
  } else if (event.type === 'epoch') {
    const stage = s.stages.get(event.stage) || { name: event.stage, epochs: event.epochs, epoch: 0, done: false };
    stage.epoch = event.epoch;
    stage.loss = event.loss;
    stage.accuracy = event.validationAccuracy;
    s.stages.set(event.stage, stage);
    epochs++;
    for (const [term, value] of Object.entries(event.terms || { loss: event.loss })) {
      rows.loss.push({ run, series: name + ' · ' + event.stage + ' · ' + term, epoch: event.epoch, value });
    }
    const changed = ['loss'];
    if (event.validationAccuracy != null) {
      rows.accuracy.push({ run, series: name + ' · ' + event.stage, epoch: event.epoch, value: event.validationAccuracy });
      changed.push('accuracy');
    }
    return changed;
  } else if (event.type === 'stage-end') {
    const stage = s.stages.get(event.stage);
    if (stage) stage.done = true;
  } else if (event.type === 'labelling') {
    s.labelling.set(event.what, event);
  } else if (event.type === 'info') {
    s.messages.push(event.message);
  } else if (event.type === 'run-end') {
    s.finished = true;
  }
  return [];
}

const pending = new Set();
let scheduled = false;
function schedule(changed) {
  for (const id of changed) pending.add(id);
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(async () => {
    scheduled = false;
    await ready;
    const ids = [...pending];
    pending.clear();
    render();
    await Promise.all(ids.map(redraw));
    document.body.dataset.points = String(rows.loss.length + rows.accuracy.length);
  });
}

document.getElementById('runs').addEventListener('change', (event) => {
  const run = Number(event.target.dataset.run);
  if (event.target.checked) shown.add(run); else shown.delete(run);
  schedule(['loss', 'accuracy']);
});

const events = new EventSource('/events');
events.onopen = () => { document.getElementById('status').textContent = 'live: showing each event as the runs write it'; };
events.onerror = () => { document.getElementById('status').textContent = 'disconnected: the dashboard server stopped (the page keeps what it showed)'; };
events.onmessage = (message) => {
  const { run, event } = JSON.parse(message.data);
  schedule(accept(run, event));
};
render();
`;
