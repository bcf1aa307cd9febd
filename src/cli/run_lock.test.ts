// Two runs on one --out: the second is refused while the first lives, and takes over once a
// killed first run's lock goes stale. Real `kdkit run` processes, started with spawn so the test
// can act while they run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { kdkit } from './cli.test.util.js';
import { RUN_LOCK } from './main.js';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-run-lock-'));
// The shortest stale time proper-lockfile allows, so a killed run's lock expires within the test.
const STALE_MS = 2000;

/** A digits run of about `epochs` / 12 seconds (two MLP stages, no exports). */
function config(directory: string, epochs: number, extra = ''): string {
  const path = join(directory, `run-${epochs}.yaml`);
  writeFileSync(
    path,
    `dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [64]}, epochs: ${epochs}, batchSize: 32}\nstudent: {model: {type: mlp, hidden: [16]}}\nbaseline: false\nexport: {quantize: [], onnx: false}\ndistill: {epochs: ${epochs}, batchSize: 32, terms: [{method: kd, weight: 1, temperature: 4}]}\n${extra}`,
  );
  return path;
}

interface Running {
  pid: number;
  output: () => { stdout: string; stderr: string };
  exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  kill: (signal: NodeJS.Signals) => void;
}

function start(...args: string[]): Running {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, KDKIT_LOCK_STALE_MS: String(STALE_MS) } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (status, signal) => resolve({ status, signal })),
  );
  return { pid: child.pid!, output: () => ({ stdout, stderr }), exited, kill: (signal) => child.kill(signal) };
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Started, holding its lock, and past validation: it has logged its first event. */
const running = (out: string) => existsSync(join(out, RUN_LOCK)) && existsSync(join(out, 'logs.jsonl'));

test('a second run on the same --out exits 2 at once naming the holder; the first completes', async () => {
  const directory = temporaryDirectory();
  const out = join(directory, 'run');
  const first = start('run', config(directory, 100), '--out', out);
  await waitFor('the first run to take its lock', () => running(out));
  const owner = JSON.parse(readFileSync(join(out, RUN_LOCK, 'owner.json'), 'utf8'));
  assert.equal(owner.pid, first.pid);

  const second = start('run', config(directory, 1), '--out', out);
  const refused = await second.exited;
  assert.equal(refused.status, 2, second.output().stderr);
  const { stdout, stderr } = second.output();
  assert.match(
    stderr,
    new RegExp(
      `^kdkit: run directory ${out} is in use by another kdkit process: pid ${first.pid} on .*, started ${owner.startedAt} \\(kdkit run .*run-100\\.yaml\\); wait for it to finish, or give another --out\\.`,
    ),
  );
  assert.match(stderr, /if that process was killed, it expires 2 s after its last refresh/);
  assert.equal(stdout, '', 'the refused run says nothing else');
  assert.ok(existsSync(join(out, RUN_LOCK)), 'and leaves the lock to its holder');

  const finished = await first.exited;
  assert.equal(finished.status, 0, first.output().stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(
    summary.stages.map((stage: { name: string; epochs: number }) => [stage.name, stage.epochs]),
    [
      ['teacher', 100],
      ['student', 100],
    ],
  );
  const logs = readFileSync(join(out, 'logs.jsonl'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  assert.equal(logs.filter((event) => /^writing to /.test(event.message ?? '')).length, 1, 'one run wrote the log');
  assert.ok(!existsSync(join(out, RUN_LOCK)), 'released on success');
  assert.deepEqual(readdirSync(directory).sort(), ['run', 'run-1.yaml', 'run-100.yaml'], 'nothing written beside the run directory');
});

test('the lock of a run killed with SIGKILL is taken over by the next run at once, saying so', async () => {
  const directory = temporaryDirectory();
  const out = join(directory, 'run');
  const killed = start('run', config(directory, 100), '--out', out);
  await waitFor('the run to take its lock', () => running(out));
  killed.kill('SIGKILL');
  assert.equal((await killed.exited).signal, 'SIGKILL');
  assert.ok(existsSync(join(out, RUN_LOCK)), 'SIGKILL leaves the lock behind');

  // Its holder no longer runs on this host, so nobody waits for the lock to go stale; only a run
  // killed before it recorded itself in the lock leaves one that must expire (STALE_MS here).
  const started = Date.now();
  let next = start('run', config(directory, 2), '--out', out);
  while ((await next.exited).status === 2) {
    assert.match(next.output().stderr, /in use by another kdkit process: a process that has not recorded itself yet/);
    assert.ok(Date.now() - started < STALE_MS + 10_000, `still refused after ${Date.now() - started} ms`);
    await sleep(250);
    next = start('run', config(directory, 2), '--out', out);
  }
  assert.equal((await next.exited).status, 0, next.output().stderr);
  assert.match(
    next.output().stdout,
    new RegExp(
      `took over the lock on ${out} from (pid ${killed.pid} on .*|a process that has not recorded itself yet), which had not refreshed it for [\\d.]+ s`,
    ),
  );
  assert.ok(existsSync(join(out, 'summary.json')));
  assert.ok(!existsSync(join(out, RUN_LOCK)));
});

test('the lock is released on SIGTERM, on a failed run (exit 1) and on a failed gate (exit 3)', async () => {
  const directory = temporaryDirectory();
  const terminated = join(directory, 'terminated');
  const run = start('run', config(directory, 100), '--out', terminated);
  await waitFor('the run to take its lock', () => running(terminated));
  run.kill('SIGTERM');
  // 128 + 15, as a shell reports a process ended by SIGTERM, after saying what was kept and how to continue.
  assert.equal((await run.exited).status, 143);
  assert.match(
    run.output().stderr,
    new RegExp(
      `kdkit: interrupted \\(SIGTERM\\)\\. Kept in ${terminated}: the checkpoints of every stage so far and the soft labels; continue with\n  kdkit run \\S+ --out ${terminated} --resume\n`,
    ),
  );
  assert.ok(!existsSync(join(terminated, RUN_LOCK)), 'released on SIGTERM');
  // Ctrl-C: 128 + 2, the same words.
  const interrupted = start('run', config(directory, 100), '--out', terminated, '--resume');
  await waitFor(
    'the resumed run to take its lock',
    () => existsSync(join(terminated, RUN_LOCK)) && /resuming|teacher epoch/.test(interrupted.output().stdout),
  );
  interrupted.kill('SIGINT');
  assert.equal((await interrupted.exited).status, 130);
  assert.match(
    interrupted.output().stderr,
    new RegExp(
      `kdkit: interrupted \\(SIGINT\\)\\. Kept in ${terminated}: .*continue with\n  kdkit run \\S+ --out ${terminated} --resume\n`,
    ),
  );
  assert.ok(!existsSync(join(terminated, RUN_LOCK)), 'released on SIGINT');

  const diverged = join(directory, 'diverged');
  const divergent = join(directory, 'divergent.yaml');
  writeFileSync(
    divergent,
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: mlp, hidden: [8]}}\nbaseline: false\ndistill: {epochs: 1, optimizer: {type: sgd, learningRate: 1e30}, terms: [{method: ce, weight: 1}]}\n',
  );
  const failed = kdkit('run', divergent, '--out', diverged);
  assert.equal(failed.status, 1, failed.stderr);
  assert.ok(!existsSync(join(diverged, RUN_LOCK)), 'released on exit 1');

  const strict = join(directory, 'strict');
  const gated = kdkit('run', config(directory, 3, 'deploy: {minAccuracy: 0.9999}\n'), '--out', strict);
  assert.equal(gated.status, 3, gated.stderr);
  assert.ok(existsSync(join(strict, 'summary.json')) && !existsSync(join(strict, RUN_LOCK)), 'released on exit 3');
});

test('a run rejected before it starts leaves no directory, even the parents the lock created', () => {
  const directory = temporaryDirectory();
  const path = join(directory, 'deep.yaml');
  writeFileSync(
    path,
    'dataset: {name: digits}\nteacher: {model: {type: mlp, hidden: [8]}, epochs: 1}\nstudent: {model: {type: cnn, filters: [4, 4, 4, 4]}}\ndistill: {epochs: 1, terms: [{method: ce, weight: 1}]}\n',
  );
  const rejected = kdkit('run', path, '--out', join(directory, 'runs', 'nested', 'run'));
  assert.equal(rejected.status, 2, rejected.stderr);
  assert.deepEqual(readdirSync(directory), ['deep.yaml']);
});
