// The dashboard in headless Chromium: `kdkit dashboard` follows two runs' logs.jsonl side by side and
// its chart gains a point when an epoch ends; `kdkit run --dashboard` shows a run live and then its
// report. Both serve on 127.0.0.1 only, and nothing but GET and HEAD.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-dashboard-'));

/** Starts kdkit with `args`; resolves with the process and the dashboard URL it prints. */
async function startKdkit(args: string[]): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no dashboard URL in 60 s: ${output}`)), 60_000);
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    child.stdout?.on('data', read);
    child.stderr?.on('data', read);
    child.once('exit', (code) => reject(new Error(`kdkit exited (${code}) before serving: ${output}`)));
  });
  return { child, url, output: () => output };
}

/** Stops a dashboard with Ctrl-C; resolves with its exit code. */
function interrupt(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.kill('SIGINT');
  });
}

/** Waits until the charts have drawn these many points (Vega's symbol marks, legends aside). */
async function waitForPoints(page: Page, expected: { loss: number; accuracy: number }): Promise<void> {
  await page.waitForFunction(
    ([loss, accuracy]) =>
      document.querySelectorAll('#loss g.mark-symbol.role-mark path').length === loss &&
      document.querySelectorAll('#accuracy g.mark-symbol.role-mark path').length === accuracy,
    [expected.loss, expected.accuracy],
    { timeout: 30_000 },
  );
}

const line = (event: object) => `${JSON.stringify({ time: '2026-12-07T10:00:00.000Z', ...event })}\n`;
const epoch = (stage: string, n: number, terms: Record<string, number>, validationAccuracy: number) =>
  line({
    type: 'epoch',
    stage,
    epochs: 5,
    epoch: n,
    loss: Object.values(terms).reduce((sum, value) => sum + value, 0),
    terms,
    validationAccuracy,
    seconds: 0.5,
  });

describe('the dashboard in Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu'] });
  });
  after(() => browser?.close());

  it('kdkit dashboard shows two runs side by side from their logs, gains a point when an epoch ends, and writes nothing', async () => {
    const first = join(directory, 'first');
    const second = join(directory, 'second');
    mkdirSync(first);
    mkdirSync(second);
    // An earlier run in the same directory: the dashboard shows the latest run only.
    writeFileSync(
      join(first, 'logs.jsonl'),
      line({ type: 'run-start' }) +
        line({ type: 'stage-start', stage: 'old', epochs: 9, stepsPerEpoch: 3 }) +
        epoch('old', 1, { ce: 9 }, 0.1) +
        line({ type: 'run-start' }) +
        line({ type: 'stage-start', stage: 'student', epochs: 5, stepsPerEpoch: 3 }) +
        epoch('student', 1, { kd: 1.2, ce: 0.4 }, 0.5) +
        epoch('student', 2, { kd: 0.9, ce: 0.3 }, 0.6) +
        '{"type": "epoch", "stage": "stud', // a line cut off by a kill: skipped until completed
    );
    writeFileSync(
      join(second, 'logs.jsonl'),
      line({ type: 'run-start' }) +
        line({ type: 'stage-start', stage: 'scratch', epochs: 5, stepsPerEpoch: 3 }) +
        epoch('scratch', 1, { ce: 1.5 }, 0.4) +
        line({ type: 'labelling', what: 'train', done: 40, total: 100, fromStore: 10, requests: 30, tokens: 900 }),
    );
    const { child, url } = await startKdkit(['dashboard', first, second, '--port', '0']);
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(url);
      // first: 2 epochs × 2 terms and 2 accuracies; second: 1 term and 1 accuracy.
      await waitForPoints(page, { loss: 5, accuracy: 3 });
      // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText is the text as rendered.
      const cards = await page.locator('#cards').innerText();
      assert.match(cards, /student\s+2 \/ 5/);
      assert.doesNotMatch(cards, /\bold\b/, 'the earlier run in the directory is not shown');
      assert.match(cards, /train:\s+40 \/ 100 texts, 30 requests, 900 tokens \(10 from the store\)/);

      // An epoch ends: its line reaches the log, and the chart gains its points.
      appendFileSync(
        join(first, 'logs.jsonl'),
        `ent", "epochs": 5, "epoch": 3, "loss": 1, "terms": {"kd": 0.7, "ce": 0.3}, "validationAccuracy": 0.7}\n`,
      );
      await waitForPoints(page, { loss: 7, accuracy: 4 });
      appendFileSync(join(first, 'logs.jsonl'), epoch('student', 4, { kd: 0.6, ce: 0.2 }, 0.72));
      await waitForPoints(page, { loss: 9, accuracy: 5 });

      // The run selector: without the second run, its series leave the charts.
      await page.locator('input[data-run="1"]').uncheck();
      await waitForPoints(page, { loss: 8, accuracy: 4 });
      assert.deepEqual(errors, []);
      await page.close();

      // Nothing writes: every method but GET and HEAD is refused, and unknown paths are 404.
      for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await fetch(url, { method })).status, 405, method);
      assert.equal((await fetch(new URL('/report/7', url))).status, 404);
      assert.equal((await fetch(new URL('/../../etc/passwd', url))).status, 404);
    } finally {
      assert.equal(await interrupt(child), 0);
    }
  });

  it('kdkit run --dashboard shows the run live, then its report, until Ctrl-C', async () => {
    const config = join(directory, 'run.yaml');
    writeFileSync(
      config,
      [
        'seed: 1',
        'dataset: {name: digits}',
        'teacher: {model: {type: mlp, hidden: [32]}, epochs: 3}',
        'student: {model: {type: mlp, hidden: [8]}}',
        'distill: {epochs: 4, preset: hinton}',
        'export: {quantize: [], onnx: false}',
      ].join('\n'),
    );
    const out = join(directory, 'live');
    const { child, url, output } = await startKdkit(['run', config, '--out', out, '--dashboard', '--port', '0']);
    try {
      const page = await browser.newPage();
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#cards')?.textContent?.includes('(finished)'), null, { timeout: 120_000 });
      // The teacher's 3 epochs, the scratch baseline's 4 and the student's 4: a point per term (ce; ce; the
      // hinton preset's kd and ce) and a validation accuracy each.
      await waitForPoints(page, { loss: 3 + 4 + 4 * 2, accuracy: 3 + 4 + 4 });
      assert.equal(await page.locator('a[href="/report/0"]').count(), 1);
      const report = await fetch(new URL('/report/0', url));
      assert.equal(report.status, 200);
      assert.match(await report.text(), /kdkit run: digits, seed 1/);
      assert.match(output(), /dashboard: still serving http:\/\/127\.0\.0\.1:\d+\/ \(Ctrl-C to stop\)/);
      await page.close();
    } finally {
      assert.equal(await interrupt(child), 0);
    }
    const log = readFileSync(join(out, 'logs.jsonl'), 'utf8');
    assert.match(log, /"type":"run-start"/);
    assert.match(log, /"type":"run-end","gatePassed":true/);
  });
});
