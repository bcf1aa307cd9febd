// `kdkit run` with an LLM teacher (teacher.llm) against scripts/llm-server.mjs: a transfer set
// without labels labelled by the endpoint, the student distilled from its log-probabilities; a
// second run sends no request; a run interrupted mid-labelling resumes without asking any text
// twice; the API key is written nowhere.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { BANKING77_CLASSES, type LlmServer, SERVED_MODEL, startLlmServer } from '../teachers/llm_server.test.util.js';
import { assertBadInput, kdkit } from './cli.test.util.js';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-llm-run-'));
const KEY_VARIABLE = 'KDKIT_TEST_LLM_KEY';
const KEY = 'sk-kdkit-test-0123456789abcdef';
const classNames = JSON.parse(readFileSync(BANKING77_CLASSES, 'utf8')) as string[];

/** Banking77 queries from the embedded files (text and category columns, quoted as written). */
function queries(file: 'train' | 'test', count: number, start = 0): { text: string; category: string }[] {
  const lines = readFileSync(join(root, 'data', 'banking77', `${file}.csv`), 'utf8')
    .split(/\r?\n/)
    .slice(1);
  return lines
    .filter((line) => /^"?[^"\n]*"?,[a-z_]+$/.test(line))
    .slice(start, start + count)
    .map((line) => {
      const comma = line.lastIndexOf(',');
      return { text: line.slice(0, comma).replace(/^"|"$/g, ''), category: line.slice(comma + 1) };
    });
}

const csv = (rows: string[][]) => rows.map((row) => row.map((cell) => `"${cell.replaceAll('"', '""')}"`).join(',')).join('\n');
const trainFile = join(directory, 'train.csv');
const testFile = join(directory, 'test.csv');
const promptFile = join(directory, 'prompt.txt');
// The transfer set has no label column at all.
writeFileSync(trainFile, csv([['text'], ...queries('train', 120, 0).map(({ text }) => [text])]));
writeFileSync(testFile, csv([['text', 'category'], ...queries('test', 40, 0).map(({ text, category }) => [text, category])]));
writeFileSync(promptFile, 'Which intent is this banking query? Answer with the number alone.\n{options}\nQuery: {text}\n');

function config(name: string, url: string, llm: string[] = [], extra: string[] = []): string {
  const path = join(directory, `${name}.yaml`);
  writeFileSync(
    path,
    [
      'seed: 1',
      `dataset: {name: text, train: ${trainFile}, test: ${testFile}, labelField: category, trainLabels: false, validation: 20, maxLength: 24, classes: ${JSON.stringify(classNames)}}`,
      'teacher:',
      '  llm:',
      `    url: ${url}`,
      `    model: ${SERVED_MODEL}`,
      `    prompt: ${promptFile}`,
      `    apiKeyEnv: ${KEY_VARIABLE}`,
      ...llm.map((line) => `    ${line}`),
      'student: {model: {type: embeddingbag, dimensions: 16}}',
      'distill: {epochs: 2, batchSize: 16, terms: [{method: kd, weight: 0.9, temperature: 1}, {method: ce, weight: 0.1}]}',
      ...extra,
    ].join('\n'),
  );
  return path;
}

function kdkitWithKey(...args: string[]) {
  process.env[KEY_VARIABLE] = KEY;
  try {
    return kdkit(...args);
  } finally {
    delete process.env[KEY_VARIABLE];
  }
}

/** Every file under `path`, recursively. */
function filesUnder(path: string): string[] {
  return readdirSync(path).flatMap((entry) => {
    const full = join(path, entry);
    return statSync(full).isDirectory() ? filesUnder(full) : [full];
  });
}

describe('kdkit run with an LLM teacher', () => {
  let server: LlmServer;
  before(async () => {
    server = await startLlmServer(['--api-key-env', KEY_VARIABLE, '--text-marker', 'Query: '], { [KEY_VARIABLE]: KEY });
  });
  after(() => server.stop());

  it('labels an unlabelled transfer set, distils a student, reports requests and tokens, and writes the key nowhere', async () => {
    const out = join(directory, 'run');
    const path = config('run', server.url, [], [`softLabels: {store: ${join(directory, 'store')}}`]);
    const result = kdkitWithKey('run', path, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.teacher.kind, 'llm');
    // 100 training texts (120 less 20 for validation) and 40 test texts, one request each in logprobs mode.
    assert.equal(summary.teacher.llm.train.texts, 100);
    assert.equal(summary.teacher.llm.train.requests, 100);
    assert.equal(summary.teacher.llm.test.requests, 40);
    assert.ok(summary.teacher.llm.train.promptTokens > 100 * 77, 'every prompt lists the 77 options');
    assert.equal(summary.teacher.llm.train.completionTokens, 100);
    const stats = await server.stats();
    // Train, validation (labelled by the teacher: the transfer set has no labels) and test.
    assert.equal(stats.chatRequests, 160);
    assert.ok(Object.values(stats.byText).every((count) => count === 1));
    assert.ok(summary.models.teacher.accuracy > 0.5, `the teacher answers well: ${summary.models.teacher.accuracy}`);
    assert.ok(summary.models.student.agreementWithTeacher > 0);
    assert.equal(summary.models.teacher.runtime, 'remote');
    assert.ok(summary.models.teacher.latency.batch1.p50Ms > 0, 'the time per request is measured');
    assert.match(result.stdout, /labels: the training set has none/);
    assert.match(result.stdout, /teacher\.llm: 100 texts \(0 from the store\), 100 requests/);
    // The key: not in the output, not in any file the run or the store wrote.
    assert.ok(!result.stdout.includes(KEY) && !result.stderr.includes(KEY));
    for (const file of [...filesUnder(out), ...filesUnder(join(directory, 'store'))]) {
      assert.ok(!readFileSync(file).includes(KEY), `${file} holds the key`);
    }

    // The same teacher and data again: every answer comes from the store, and no request is sent.
    const again = kdkitWithKey('run', path, '--out', join(directory, 'again'));
    assert.equal(again.status, 0, again.stderr);
    assert.equal((await server.stats()).chatRequests, 160);
    assert.match(again.stdout, /teacher\.llm: 100 texts \(100 from the store\)/);
    const second = JSON.parse(readFileSync(join(directory, 'again', 'summary.json'), 'utf8'));
    assert.equal(second.models.teacher.accuracy, summary.models.teacher.accuracy);
    assert.equal(second.models.student.accuracy, summary.models.student.accuracy);

    // kdkit cache ls: the answers' texts, requests, tokens and failures; cache rm removes them.
    const store = join(directory, 'store');
    const listed = kdkit('cache', 'ls', '--store', store);
    assert.equal(listed.status, 0, listed.stderr);
    assert.match(listed.stdout, /LLM answers \(one per text/);
    const tokens = summary.teacher.llm.train.promptTokens + summary.teacher.llm.train.completionTokens;
    const row = listed.stdout.split('\n').find((line) => line.includes(' (logprobs) '));
    assert.ok(row, listed.stdout);
    // 160 texts, 160 requests; the tokens of train, validation and test together exceed train's.
    assert.match(
      row,
      new RegExp(`^[0-9a-f]{24}\\s+${SERVED_MODEL} at http://127\\.0\\.0\\.1:\\d+/v1/ \\(logprobs\\)\\s+160\\s+160\\s+[\\d,]+ \\(`),
    );
    const total = Number(/\s160\s+160\s+([\d,]+) \(/.exec(row)![1].replaceAll(',', ''));
    assert.ok(total > tokens, `${total} tokens in all, ${tokens} for train`);
    assert.match(row, /\)\s+0\s+0\s+[\d.]+ KiB$/, 'no unanswered text, no failure');
    const key = row.split(/\s+/)[0];
    const removed = kdkit('cache', 'rm', key, '--store', store);
    assert.equal(removed.status, 0, removed.stderr);
    assert.match(removed.stdout, new RegExp(`removed LLM answers ${key} \\(160 texts`));
    assert.doesNotMatch(kdkit('cache', 'ls', '--store', store).stdout, /LLM answers/);
  });

  it('resumes a run interrupted mid-labelling without asking any text twice', async () => {
    const before = (await server.stats()).byText;
    const store = join(directory, 'store-interrupted');
    // 20 requests a second: labelling 160 texts takes 8 s; the run is interrupted once 10 are asked.
    const slow = config('slow', server.url, ['requestsPerMinute: 1200'], [`softLabels: {store: ${store}}`]);
    const child = spawn(process.execPath, [bin, 'run', slow, '--out', join(directory, 'interrupted')], {
      env: { ...process.env, [KEY_VARIABLE]: KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    let exited = false;
    child.once('exit', () => {
      exited = true;
    });
    const askedBefore = Object.values(before).reduce((sum, count) => sum + count, 0);
    const askedNow = async () => Object.values((await server.stats()).byText).reduce((sum, count) => sum + count, 0);
    for (let waited = 0; !exited && (await askedNow()) < askedBefore + 10 && waited < 120_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const code = await new Promise<number | null>((resolve) => {
      child.once('exit', resolve);
      child.kill('SIGINT');
    });
    assert.equal(code, 130, stderr);
    assert.match(stderr, /interrupted \(SIGINT\)/);
    const asked = (await askedNow()) - askedBefore;
    assert.ok(asked > 0 && asked < 160, `interrupted mid-labelling: ${asked} texts asked`);
    // What the interrupted run received is in the store, one whole file per text; what was in
    // flight when it stopped (at most `concurrency` requests) was never received.
    const stored = filesUnder(store).filter((file) => /\/answers\/.*\.json$/.test(file)).length;
    assert.ok(stored > 0 && asked - stored <= 8, `${stored} of ${asked} asked texts stored`);

    const resumed = kdkitWithKey(
      'run',
      config('fast', server.url, [], [`softLabels: {store: ${store}}`]),
      '--out',
      join(directory, 'resumed'),
    );
    assert.equal(resumed.status, 0, resumed.stderr);
    const counts = (await server.stats()).byText;
    // Across the interrupted and the resumed run, a stored text was never asked again: only the
    // texts in flight at the interruption were asked twice, and none more often.
    const askedHere = Object.entries(counts).map(([text, count]) => count - (before[text] ?? 0));
    assert.ok(
      askedHere.every((count) => count <= 2),
      'no text asked more than twice',
    );
    const twice = askedHere.filter((count) => count === 2).length;
    assert.ok(twice <= asked - stored, `${twice} texts asked again, ${asked - stored} were unanswered at the interruption`);
    assert.equal(askedHere.filter((count) => count >= 1).length, 160, 'every text of the run was asked');
  });

  it("bounds the cost of the teacher's own accuracy with evaluateTeacher.samples", async () => {
    const out = join(directory, 'sampled');
    const path = config('sampled', server.url, ['evaluateTeacher: {samples: 10}'], [`softLabels: {store: ${join(directory, 'store')}}`]);
    const result = kdkitWithKey('run', path, '--out', out);
    assert.equal(result.status, 0, result.stderr);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.teacher.llm.test.texts, 10);
    assert.equal(
      summary.models.teacher.confusion.flat().reduce((sum: number, count: number) => sum + count, 0),
      10,
    );
  });

  it("labels a transfer set without labels with an ONNX teacher's argmax just as well", () => {
    const path = join(directory, 'onnx.yaml');
    const teacher = join(root, 'examples', 'bert-teacher');
    writeFileSync(
      path,
      [
        'seed: 1',
        `dataset: {name: text, train: ${trainFile}, test: ${testFile}, labelField: category, trainLabels: false, validation: 20, maxLength: 24, tokenizer: ${join(teacher, 'tokenizer.json')}, classes: ${JSON.stringify(classNames)}}`,
        `teacher: {onnx: ${join(teacher, 'teacher.onnx')}}`,
        'student: {model: {type: embeddingbag, dimensions: 16}}',
        'baseline: true',
        'distill: {epochs: 2, batchSize: 16, terms: [{method: kd, weight: 0.9, temperature: 1}, {method: ce, weight: 0.1}]}',
      ].join('\n'),
    );
    const result = kdkit('run', path, '--out', join(directory, 'onnx'));
    assert.equal(result.status, 0, result.stderr);
    assert.match(
      result.stdout,
      /labels: the training set has none \(dataset\.trainLabels: false\); the teacher's answers label its 100 training and 20 validation samples/,
    );
    const summary = JSON.parse(readFileSync(join(directory, 'onnx', 'summary.json'), 'utf8'));
    assert.equal(summary.teacher.kind, 'onnx');
    // What a page needs besides the model: the class names in order, and how the inputs are made.
    const student = join(directory, 'onnx', 'student');
    assert.deepEqual(JSON.parse(readFileSync(join(student, 'labels.json'), 'utf8')), classNames);
    assert.deepEqual(JSON.parse(readFileSync(join(student, 'preprocess.json'), 'utf8')), {
      kind: 'text',
      inputs: ['input_ids', 'attention_mask', 'token_type_ids'],
      dtype: 'int32',
      onnxDtype: 'int64',
      maxLength: 24,
      tokenizer: '../tokenizer.json',
      padding: 'right',
      padId: 0,
      output: 'logits',
    });
    assert.ok(readFileSync(join(student, '..', 'tokenizer.json')).length > 0);
    assert.ok(
      summary.models.teacher.accuracy > 0.5,
      `the teacher is measured on the labelled test set: ${summary.models.teacher.accuracy}`,
    );
    assert.ok(summary.models.scratch && summary.models.student);
  });

  it('refuses, with exit 2 and the field named: no key in the environment, a dataset without texts, online soft labels, a transfer set without classes', () => {
    const path = config('nokey', server.url);
    const noKey = kdkit('run', path, '--out', join(directory, 'nokey'));
    assertBadInput(noKey, /teacher\.llm\.apiKeyEnv: the environment variable KDKIT_TEST_LLM_KEY is not set/);

    const digits = join(directory, 'digits.yaml');
    writeFileSync(
      digits,
      `dataset: {name: digits}\nteacher: {llm: {url: ${server.url}, model: m, prompt: ${promptFile}}}\nstudent: {model: {type: mlp, hidden: [8]}}\ndistill: {epochs: 1, preset: hinton}\n`,
    );
    assertBadInput(kdkit('run', digits, '--out', join(directory, 'digits')), /teacher\.llm labels texts; dataset 'digits' holds no texts/);

    const online = config('online', server.url, [], ['softLabels: {mode: online}']);
    assertBadInput(kdkitWithKey('run', online, '--out', join(directory, 'online')), /softLabels\.mode: 'online'/);

    const noClasses = join(directory, 'noclasses.yaml');
    writeFileSync(noClasses, readFileSync(path, 'utf8').replace(/, classes: \[[^\]]*\]/, ''));
    assertBadInput(
      kdkitWithKey('run', noClasses, '--out', join(directory, 'noclasses')),
      /dataset\.classes: list the classes \(trainLabels is false/,
    );

    const badPrompt = join(directory, 'prompt-bad.txt');
    writeFileSync(badPrompt, 'Label this: {text}\n');
    const bad = join(directory, 'badprompt.yaml');
    writeFileSync(bad, readFileSync(path, 'utf8').replace(promptFile, badPrompt));
    assertBadInput(
      kdkitWithKey('run', bad, '--out', join(directory, 'badprompt')),
      /prompt-bad\.txt: the prompt template has no \{options\}/,
    );
  });
});
