import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { ORT_WASM_CDN, TFJS_CDN } from './usage.js';
import { escapeHtml, renderHtml } from './html.js';
import { fixtureSummary, minimalSummary } from './summary.test.util.js';
import { writeRunReports } from './write.js';
import type { Summary } from './summary.js';

const chromiumPath = '/usr/bin/chromium';
const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** What the browser drew in one chart figure. */
interface DrawnChart {
  width: number;
  height: number;
  /** Drawn items per Vega mark name, e.g. models_marks → 4 symbols. */
  marks: Record<string, number>;
  /** Text of the point labels and of the heatmap counts. */
  texts: Record<string, string[]>;
}

interface OpenedReport {
  charts: Record<string, DrawnChart>;
  problems: string[];
  requests: string[];
  text: string;
}

/** Writes the run's reports, opens report.html in headless Chromium and collects what it drew and any complaint. */
async function openReport(browser: Browser, summary: Summary): Promise<OpenedReport> {
  const outDir = mkdtempSync(join(tmpdir(), 'kdkit-report-'));
  await writeRunReports(outDir, summary);
  assert.deepEqual(readdirSync(outDir).sort(), ['report.html', 'report.md', 'summary.json'], 'no temporary files are left behind');
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  const requests: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('request', (request) => requests.push(request.url()));
  page.on('requestfailed', (request) => problems.push(`request failed: ${request.url()}`));
  const url = pathToFileURL(join(outDir, 'report.html')).href;
  await page.goto(url, { waitUntil: 'load' });
  const charts = await page.evaluate(() => {
    const drawn: Record<string, { width: number; height: number; marks: Record<string, number>; texts: Record<string, string[]> }> = {};
    for (const figure of document.querySelectorAll('figure.chart')) {
      const svg = figure.querySelector(':scope > svg');
      const box = svg?.getBoundingClientRect();
      const marks: Record<string, number> = {};
      const texts: Record<string, string[]> = {};
      for (const group of figure.querySelectorAll('g.role-mark')) {
        const name = [...group.classList].find((name) => name.endsWith('_marks')) ?? group.classList[0];
        const items = group.querySelectorAll(':scope > path, :scope > text');
        marks[name] = (marks[name] ?? 0) + items.length;
        if (group.classList.contains('mark-text'))
          texts[name] = [...(texts[name] ?? []), ...[...items].map((item) => item.textContent ?? '')];
      }
      drawn[(figure as HTMLElement).dataset.chart!] = { width: box?.width ?? 0, height: box?.height ?? 0, marks, texts };
    }
    return drawn;
  });
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText is the text as rendered, which this test reads.
  const text = await page.locator('body').innerText();
  await page.close();
  return { charts, problems, requests: requests.filter((request) => request !== url), text };
}

function assertDrawn(chart: DrawnChart | undefined, id: string): asserts chart is DrawnChart {
  assert.ok(chart, `chart ${id} is present`);
  assert.ok(chart.width > 100 && chart.height > 100, `chart ${id} has a size (${chart.width}×${chart.height})`);
}

// .ci/run installs Debian's chromium; without it these tests fail rather than skip.
describe('report.html in headless Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  });
  after(async () => {
    await browser?.close();
  });

  test('draws every chart of a full run, with no errors and no network requests', async () => {
    const report = await openReport(browser, fixtureSummary());
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.requests, [], 'the page fetches nothing beyond itself');
    assert.deepEqual(Object.keys(report.charts).sort(), [
      'accuracy-latency',
      'accuracy-size',
      'confusion',
      'training-accuracy',
      'training-loss',
    ]);

    for (const id of ['training-loss', 'training-accuracy']) {
      const chart = report.charts[id];
      assertDrawn(chart, id);
      // One line per stage: teacher, scratch, assistant-1, student.
      assert.equal(chart.marks.curves_marks, 4, `${id}: one line per stage`);
    }
    for (const id of ['accuracy-latency', 'accuracy-size']) {
      const chart = report.charts[id];
      assertDrawn(chart, id);
      assert.equal(chart.marks.models_marks, 4, `${id}: one point per model`);
      assert.deepEqual(chart.texts.labels_marks.sort(), ['assistant-1', 'scratch', 'student', 'teacher'], `${id}: every point is labelled`);
      assert.equal(chart.marks.front_marks, 1, `${id}: the Pareto front is one step line`);
    }
    const confusion = report.charts.confusion;
    assertDrawn(confusion, 'confusion');
    assert.equal(confusion.marks.cells_marks, 10 * 10, 'a cell per (true, predicted) pair');
    // A count in each non-empty cell: 10 on the diagonal, and the 13 mistakes fill 12 cells.
    assert.equal(confusion.marks.counts_marks, 22);
    assert.deepEqual(
      confusion.texts.counts_marks.filter((count) => count === '2'),
      ['2'],
    );

    assert.match(report.text, /Deployment gate:\s*failed/);
    assert.match(report.text, /minAccuracy\s+test accuracy of the uint8 export\s+≥ 97\.00%\s+96\.10%\s+FAIL/);
    assert.match(report.text, /maxSizeBytes\s+size of the uint8 TensorFlow\.js export\s+≤ 64\.0 KiB\s+14\.9 KiB\s+pass/);
    assert.match(report.text, /ort\.InferenceSession\.create\('student\.onnx'\)/);
    assert.match(report.text, /minAccuracy: 0\.97/, 'the config is shown as YAML');
  });

  test('a run without scratch, deploy: constraints or ONNX export still draws the charts that apply', async () => {
    const report = await openReport(browser, minimalSummary());
    assert.deepEqual(report.problems, []);
    assert.deepEqual(report.requests, []);
    assert.deepEqual(Object.keys(report.charts).sort(), [
      'accuracy-latency',
      'accuracy-size',
      'confusion',
      'training-accuracy',
      'training-loss',
    ]);
    for (const id of ['accuracy-latency', 'accuracy-size']) {
      const chart = report.charts[id];
      assertDrawn(chart, id);
      assert.deepEqual(chart.texts.labels_marks.sort(), ['assistant-1', 'student', 'teacher']);
    }
    assertDrawn(report.charts['training-loss'], 'training-loss');
    assert.equal(report.charts['training-loss'].marks.curves_marks, 3);
    assert.match(report.text, /The config sets no deploy: constraints, so the gate had nothing to check\./);
    assert.doesNotMatch(report.text, /onnxruntime-web|Distillation gained/);
  });

  /** report.html at 1280 × 900: the tables' and the page's overflow, the confusion axes' labels and their tooltips, and a screenshot. */
  async function layoutAt1280(summary: Summary) {
    const outDir = mkdtempSync(join(tmpdir(), 'kdkit-layout-'));
    await writeRunReports(outDir, summary);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    try {
      await page.goto(pathToFileURL(join(outDir, 'report.html')).href, { waitUntil: 'load' });
      const screenshot = join(outDir, 'report-1280.png');
      await page.screenshot({ path: screenshot, fullPage: true });
      const layout = await page.evaluate(() => {
        const figure = document.querySelector('figure[data-chart="confusion"]')!;
        const axisLabels = [...figure.querySelectorAll('g.role-axis-label')].map((group) =>
          [...group.querySelectorAll(':scope > text')].map((element) => {
            // The label's box in its own (perhaps rotated) frame: its corners on the screen, projected
            // onto the baseline's direction u and its normal v.
            const text = element as SVGTextElement;
            const box = text.getBBox();
            const m = text.getScreenCTM()!;
            const length = Math.hypot(m.a, m.b);
            const [ux, uy] = [m.a / length, m.b / length];
            const corners = [
              [box.x, box.y],
              [box.x + box.width, box.y],
              [box.x, box.y + box.height],
              [box.x + box.width, box.y + box.height],
            ].map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
            const along = corners.map(([x, y]) => x * ux + y * uy);
            const across = corners.map(([x, y]) => -x * uy + y * ux);
            return {
              text: text.lastChild?.textContent ?? '',
              title: text.querySelector('title')?.textContent ?? null,
              u: [Math.min(...along), Math.max(...along)],
              v: [Math.min(...across), Math.max(...across)],
            };
          }),
        );
        return {
          pageWidth: document.documentElement.scrollWidth,
          overflowingTables: [...document.querySelectorAll('.scroll')].filter((wrapper) => wrapper.scrollWidth > wrapper.clientWidth)
            .length,
          tables: document.querySelectorAll('table').length,
          axisLabels,
        };
      });
      return { ...layout, screenshot: readFileSync(screenshot) };
    } finally {
      await page.close();
    }
  }

  /**
   * Whether any two labels of an axis overlap (beyond a pixel of antialiasing): the labels of an
   * axis share one rotation, so two overlap when their intervals along and across it both do.
   */
  const overlapping = (boxes: { u: number[]; v: number[] }[]) =>
    boxes.some((a, i) =>
      boxes.slice(i + 1).some((b) => a.u[0] < b.u[1] - 1 && b.u[0] < a.u[1] - 1 && a.v[0] < b.v[1] - 1 && b.v[0] < a.v[1] - 1),
    );

  test("at 1280 px, Fashion-MNIST's class names on the confusion axes are rotated apart, named in tooltips, and every table fits", async () => {
    const summary = fixtureSummary();
    const names = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
    summary.dataset.classNames = names;
    const layout = await layoutAt1280(summary);
    assert.ok(layout.screenshot.length > 10_000, 'a screenshot of the page');
    assert.ok(layout.pageWidth <= 1280, `the page is ${layout.pageWidth} px wide`);
    assert.equal(layout.overflowingTables, 0, 'no table needs scrolling');
    // Quality, cost (weights; speed), exports (size and accuracy; ONNX Runtime), the gate, the student by class.
    assert.equal(layout.tables, 7, 'the cost and exports tables are split in two each');
    const [x, y] = layout.axisLabels;
    assert.deepEqual(
      x.map((label) => label.title),
      names,
      'each predicted-class label has its full name as a tooltip',
    );
    assert.deepEqual(
      y.map((label) => label.title),
      names,
    );
    assert.ok(!overlapping(x), 'the predicted-class labels do not overlap');
    assert.ok(!overlapping(y));
  });

  test("at 1280 px, Banking77's 77 classes are numbered on the confusion axes, named in tooltips and in the per-class table", async () => {
    const summary = fixtureSummary();
    const names = Array.from({ length: 77 }, (_, c) => `intent_with_a_long_name_${c}`);
    summary.dataset.classNames = names;
    summary.dataset.classes = 77;
    const student = summary.models.student;
    student.confusion = names.map((_, actual) =>
      names.map((__, predicted) => (actual === predicted ? 30 : (actual + predicted) % 19 === 0 ? 1 : 0)),
    );
    student.perClass = names.map(() => ({ precision: 0.9, recall: 0.9, f1: 0.9, support: 31 }));
    const layout = await layoutAt1280(summary);
    assert.ok(layout.pageWidth <= 1280);
    assert.equal(layout.overflowingTables, 0);
    const [x, y] = layout.axisLabels;
    assert.deepEqual(
      x.map((label) => label.text),
      names.map((_, c) => String(c)),
    );
    assert.deepEqual(
      x.map((label) => label.title),
      names,
    );
    assert.deepEqual(
      y.map((label) => label.title),
      names,
    );
    assert.ok(!overlapping(x) && !overlapping(y), 'the numbers do not overlap');
    const report = await openReport(browser, summary);
    assert.match(report.text, /The axes number the classes; hover a number for its name/);
    assert.match(report.text, /\n12 intent_with_a_long_name_12\t90\.00%/, 'the per-class table numbers the classes as the axes do');
  });

  test('HTML-special characters in names and config values reach the page as text', async () => {
    const summary = fixtureSummary();
    const hostile = '<img src=x onerror="alert(1)">&\'';
    summary.models[hostile] = summary.models['assistant-1'];
    delete summary.models['assistant-1'];
    summary.stages[2].name = hostile;
    (summary.config as Record<string, unknown>).note = '</pre><script>alert(2)</script>';
    const report = await openReport(browser, summary);
    assert.deepEqual(report.problems, []);
    assert.ok(report.text.includes(hostile), 'the model name is shown literally');
    assert.ok(report.text.includes('note: </pre><script>alert(2)</script>'), 'the config value is shown literally');
    assert.deepEqual(report.charts['accuracy-size'].texts.labels_marks.sort(), [hostile, 'scratch', 'student', 'teacher'].sort());
  });
});

test('renderHtml escapes interpolated text and references nothing outside the page', async () => {
  const summary = fixtureSummary();
  summary.dataset.name = 'digits <b>&</b>';
  (summary.config as Record<string, unknown>).note = '</pre><script src="https://cdn.example/x.js"></script>';
  const html = await renderHtml(summary);
  assert.ok(html.includes('digits &#60;b&#62;&#38;&#60;/b&#62;'));
  assert.doesNotMatch(html, /<script|<b>|<link|<img|<iframe|@import/i);
  assert.doesNotMatch(html, /<[^>]*\s(src|href)=/i, 'no tag loads anything');
  // Namespace declarations are identifiers, not fetches, and the pages of "Using the student" are
  // escaped text whose import maps name the CDN; nothing else may name a URL.
  assert.doesNotMatch(
    html
      .replace(/xmlns(:xlink)?="http:\/\/www\.w3\.org\/[^"]*"/g, '')
      .replace('https://cdn.example/x.js', '')
      .replaceAll(TFJS_CDN, '')
      .replaceAll(ORT_WASM_CDN, ''),
    /https?:\/\//,
  );
  assert.equal(escapeHtml(`<a href="x">'&'</a>`), '&#60;a href=&#34;x&#34;&#62;&#39;&#38;&#39;&#60;/a&#62;');
});
