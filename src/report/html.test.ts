import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync } from 'node:fs';
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
    assert.match(report.text, /No deploy: constraints/);
    assert.doesNotMatch(report.text, /onnxruntime-web|Distillation gained/);
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
