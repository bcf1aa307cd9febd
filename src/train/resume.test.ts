import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { kdkit } from '../cli/cli.test.util.js';
import { RUN_LOCK } from '../run/directory.js';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const directory = mkdtempSync(join(tmpdir(), 'kdkit-resume-'));
// Every stage (teacher, scratch, student) checkpoints at each epoch and every 20 ms within one;
// dropout in the teacher makes Math.random's position part of what must be restored.
const config = join(directory, 'run.yaml');
writeFileSync(
  config,
  `${[
    'dataset: {name: digits}',
    'teacher: {model: {type: cnn, filters: [8], dense: [32], dropout: 0.3}, epochs: 4, batchSize: 32}',
    'student: {model: {type: mlp, hidden: [32], dropout: 0.2}}',
    'distill: {epochs: 4, batchSize: 16, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}',
    'checkpoints: {everyMinutes: 0.0003, keep: 2}',
    'export: {quantize: [], onnx: false}',
  ].join('\n')}\n`,
);

const weightsOf = (out: string) => ['teacher', 'student'].map((name) => readFileSync(join(out, name, 'weights.bin')));
const figuresOf = (out: string) => {
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  return Object.fromEntries(
    Object.entries(summary.models as Record<string, { accuracy: number; ece: number }>).map(([name, model]) => [
      name,
      [model.accuracy, model.ece],
    ]),
  );
};

const reference = join(directory, 'uninterrupted');
test('an uninterrupted run, for reference', () => {
  const result = kdkit('run', config, '--out', reference);
  assert.equal(result.status, 0, result.stderr);
});

/** Starts a run and kills it with SIGKILL once `ready(out)` holds (polled every 2 ms). */
async function killWhen(out: string, ready: (out: string) => boolean, runConfig = config): Promise<void> {
  const child = spawn(process.execPath, [bin, 'run', runConfig, '--out', out], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  while (!ready(out)) {
    if (child.exitCode !== null) throw new Error('the run finished before it could be killed');
    await sleep(2);
  }
  child.kill('SIGKILL');
  await exited;
}

/**
 * As a supervisor ends a job: the run starts under a wrapper (`sh`, as `npx` wraps it) in a
 * process group of its own, and the whole group is killed with SIGKILL once `ready(out)` holds.
 * The harness is a child subreaper that never reaps, like a container's PID 1 without an init: the
 * killed node process stays a zombie while the run is resumed. Returns the harness (to end after)
 * and the zombie's pid.
 */
async function killGroupWhen(out: string, ready: (out: string) => boolean): Promise<{ harness: ReturnType<typeof spawn>; zombie: number }> {
  const script = [
    'import ctypes, os, sys, time',
    'ctypes.CDLL(None).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: orphans of the group become ours, and are never reaped',
    'pid = os.fork()',
    'if pid == 0:',
    '    os.setsid()',
    "    os.execvp('sh', ['sh', '-c', '\"$0\" \"$@\"; exit 0', *sys.argv[1:]])",
    'print(pid, flush=True)',
    'time.sleep(600)',
  ].join('\n');
  const harness = spawn('/usr/bin/python3', ['-c', script, process.execPath, bin, 'run', config, '--out', out], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const group = Number(String((await once(harness.stdout!, 'data'))[0]).trim());
  while (!ready(out)) {
    if (existsSync(join(out, 'summary.json'))) throw new Error('the run finished before it could be killed');
    await sleep(2);
  }
  const holder = (JSON.parse(readFileSync(join(out, RUN_LOCK, 'owner.json'), 'utf8')) as { pid: number }).pid;
  process.kill(-group, 'SIGKILL');
  while (processState(holder) !== 'Z') await sleep(5);
  return { harness, zombie: holder };
}

const processState = (pid: number) => readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];

const checkpointsOf = (out: string, stage: string) =>
  existsSync(join(out, 'checkpoints', stage))
    ? readdirSync(join(out, 'checkpoints', stage)).filter((name) => name.startsWith('ckpt-'))
    : [];

const instants: Array<[string, (out: string) => boolean]> = [
  ['in the teacher, after its first checkpoint', (out) => checkpointsOf(out, 'teacher').length >= 1],
  ['in the scratch baseline', (out) => checkpointsOf(out, 'scratch').length >= 1],
  ['in the student, mid-way', (out) => checkpointsOf(out, 'student').length >= 2],
];

for (const [when, ready] of instants) {
  test(`its process group killed with SIGKILL ${when}, the run left a zombie, then --resume at once: the same final weights`, async () => {
    const out = join(directory, `group-${when.replace(/\W+/g, '-')}`);
    const { harness, zombie } = await killGroupWhen(out, ready);
    try {
      assert.ok(!existsSync(join(out, 'summary.json')), 'the run was killed before it finished');
      // No KDKIT_LOCK_STALE_MS: were the zombie taken for a live holder, this would be refused (or wait 30 s).
      const started = Date.now();
      const resumed = kdkit('run', config, '--out', out, '--resume');
      assert.equal(resumed.status, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`took over the lock on ${out} from pid ${zombie} `));
      assert.match(resumed.stdout, /resuming from ckpt-\d+/);
      assert.equal(processState(zombie), 'Z', 'the killed run was still an unreaped zombie');
      assert.ok(Date.now() - started < 120_000);
      const [teacher, student] = weightsOf(out);
      const [teacherReference, studentReference] = weightsOf(reference);
      assert.ok(teacher.equals(teacherReference), 'teacher weights are bit-identical');
      assert.ok(student.equals(studentReference), 'student weights are bit-identical');
      assert.deepEqual(figuresOf(out), figuresOf(reference));
    } finally {
      harness.kill('SIGKILL');
    }
  });

  test(`killed with SIGKILL ${when}, then --resume: the same final weights and figures as the uninterrupted run`, async () => {
    const out = join(directory, when.replace(/\W+/g, '-'));
    await killWhen(out, ready);
    assert.ok(!existsSync(join(out, 'summary.json')), 'the run was killed before it finished');
    const resumed = kdkit('run', config, '--out', out, '--resume');
    assert.equal(resumed.status, 0, resumed.stderr);
    assert.match(resumed.stdout, /resuming from ckpt-\d+/);
    const [teacher, student] = weightsOf(out);
    const [teacherReference, studentReference] = weightsOf(reference);
    assert.ok(teacher.equals(teacherReference), 'teacher weights are bit-identical');
    assert.ok(student.equals(studentReference), 'student weights are bit-identical');
    assert.deepEqual(figuresOf(out), figuresOf(reference));
  });
}

// The pure-JavaScript cpu backend: the issue asks for the same weights within 1e-6 there; they come out bit-identical too.
test('on the cpu backend too: killed in the student, then --resume, the same final weights', async () => {
  const cpuConfig = join(directory, 'cpu.yaml');
  writeFileSync(
    cpuConfig,
    `${[
      'backend: cpu',
      'dataset: {name: digits}',
      'teacher: {model: {type: mlp, hidden: [32], dropout: 0.3}, epochs: 3, batchSize: 32}',
      'student: {model: {type: mlp, hidden: [16], dropout: 0.2}}',
      'distill: {epochs: 4, batchSize: 16, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}',
      'checkpoints: {everyMinutes: 0.0003, keep: 2}',
      'export: {quantize: [], onnx: false}',
    ].join('\n')}\n`,
  );
  const cpuReference = join(directory, 'cpu-uninterrupted');
  assert.equal(kdkit('run', cpuConfig, '--out', cpuReference).status, 0);
  const out = join(directory, 'cpu-killed');
  await killWhen(out, (dir) => checkpointsOf(dir, 'student').length >= 2, cpuConfig);
  assert.ok(!existsSync(join(out, 'summary.json')), 'the run was killed before it finished');
  const resumed = kdkit('run', cpuConfig, '--out', out, '--resume');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /resuming from ckpt-\d+/);
  weightsOf(out).forEach((weights, i) => {
    const [actual, expected] = [weights, weightsOf(cpuReference)[i]].map((bytes) => new Float32Array(Uint8Array.from(bytes).buffer));
    assert.ok(
      actual.every((value, j) => Math.abs(value - expected[j]) <= 1e-6),
      `${['teacher', 'student'][i]} weights within 1e-6`,
    );
    assert.ok(weights.equals(weightsOf(cpuReference)[i]), `${['teacher', 'student'][i]} weights bit-identical`);
  });
  assert.deepEqual(figuresOf(out), figuresOf(cpuReference));
});

test('without --resume, a run starts over and ignores old checkpoints', () => {
  const out = join(directory, 'in-the-student-mid-way');
  const again = kdkit('run', config, '--out', out);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stdout, /resuming/);
  assert.ok(weightsOf(out)[1].equals(weightsOf(reference)[1]));
});
