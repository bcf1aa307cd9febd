// The run directory belongs to kdkit alone: a user's folder, a planted link, another config's run
// or an unset --out cannot make kdkit write or delete what it did not create, and --resume never
// passes an old stage off as the new config's. Real `kdkit run` processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { assertBadInput, kdkit } from './cli.test.util.js';
import { RUN_MARKER, topLevelEntries } from '../run/directory.js';

const bin = fileURLToPath(new URL('../../bin/kdkit.js', import.meta.url));
const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-run-directory-'));

/** A digits run of a few seconds; `extra` lines override or add config keys. */
function config(directory: string, name: string, extra: Record<string, string> = {}): string {
  const keys: Record<string, string> = {
    dataset: '{name: digits}',
    teacher: '{model: {type: mlp, hidden: [32]}, epochs: 2, batchSize: 64}',
    student: '{model: {type: mlp, hidden: [16]}}',
    baseline: 'false',
    distill: '{epochs: 3, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}',
    export: '{quantize: [], onnx: false}',
    ...extra,
  };
  const path = join(directory, name);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(
    path,
    `${Object.entries(keys)
      .map(([key, value]) => `${key}: ${value}`)
      .join('\n')}\n`,
  );
  return path;
}

/** Every path under `directory` (links not followed) with its content: what a write or a delete would change. */
function snapshot(directory: string): string[] {
  return readdirSync(directory, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const path = join(directory, name);
      const stat = lstatSync(path);
      return `${name} ${stat.isFile() ? readFileSync(path, 'utf8') : stat.isSymbolicLink() ? 'link' : 'dir'}`;
    });
}

function kdkitIn(cwd: string, ...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8', timeout: 300_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test("--out on a user's own folder is refused and nothing in it changes; --force writes kdkit's entries and leaves the rest", () => {
  const directory = temporaryDirectory();
  const out = join(directory, 'mine');
  mkdirSync(join(out, 'checkpoints', 'teacher'), { recursive: true });
  mkdirSync(join(out, 'student'));
  writeFileSync(join(out, 'summary.json'), 'my summary');
  writeFileSync(join(out, 'report.md'), 'my report');
  writeFileSync(join(out, 'logs.jsonl'), 'my log\n');
  writeFileSync(join(out, 'student', 'notes.txt'), 'my student');
  writeFileSync(join(out, 'checkpoints', 'teacher', 'notes.txt'), 'my notes');
  const before = snapshot(out);
  const refused = kdkit('run', config(directory, 'c.yaml'), '--out', out);
  assertBadInput(
    refused,
    new RegExp(
      `${out} is not empty and is not a kdkit run directory \\(it holds checkpoints, logs.jsonl, report.md, student, summary.json\\).*--force`,
    ),
  );
  assert.deepEqual(snapshot(out), before, 'not one file written, changed or removed');

  const forced = kdkit('run', config(directory, 'c.yaml'), '--out', out, '--force');
  assert.equal(forced.status, 0, forced.stderr);
  assert.equal(
    readFileSync(join(out, 'checkpoints', 'teacher', 'notes.txt'), 'utf8'),
    'my notes',
    'starting a stage over removes only its checkpoints',
  );
  assert.equal(readFileSync(join(out, 'student', 'notes.txt'), 'utf8'), 'my student');
  assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).seed, 1);
});

test('an empty --out (an unset shell variable) is exit 2 and writes nothing in the working directory', () => {
  const directory = temporaryDirectory();
  const path = config(directory, 'c.yaml');
  const result = kdkitIn(directory, 'run', path, '--out', '');
  assertBadInput(result, /--out is empty \(an unset shell variable\?\)/);
  assert.deepEqual(readdirSync(directory), ['c.yaml']);
});

test("two configs of the same name in different folders do not share the default directory: the second is refused, the first's run untouched", () => {
  const directory = temporaryDirectory();
  const first = config(directory, join('a', 'exp.yaml'));
  const second = config(directory, join('b', 'exp.yaml'), { distill: '{epochs: 1, terms: [{method: ce, weight: 1}]}' });
  assert.equal(kdkitIn(directory, 'run', first).status, 0);
  const run = join(directory, 'runs', 'exp-seed1');
  const before = snapshot(run);
  const refused = kdkitIn(directory, 'run', second);
  assertBadInput(
    refused,
    new RegExp(`${run} holds the run of ${first}, not of ${second} \\(both default to this directory\\); give --out`),
  );
  assert.deepEqual(snapshot(run), before);
  // Run again, the same config reuses its own directory.
  assert.equal(kdkitIn(directory, 'run', first).status, 0);
});

for (const [entry, makeTarget] of [
  ['student', (target: string) => mkdirSync(target)],
  ['checkpoints', (target: string) => mkdirSync(join(target, 'teacher'), { recursive: true })],
  ['logs.jsonl', (target: string) => writeFileSync(target, 'theirs\n')],
  ['summary.json', (target: string) => writeFileSync(target, 'theirs')],
] as const) {
  test(`a symbolic link planted at ${entry} inside the run directory is refused; its target is untouched`, () => {
    const directory = temporaryDirectory();
    const path = config(directory, 'c.yaml');
    const out = join(directory, 'run');
    assert.equal(kdkit('run', path, '--out', out).status, 0);
    const elsewhere = join(directory, 'elsewhere');
    mkdirSync(elsewhere);
    const target = join(elsewhere, 'target');
    makeTarget(target);
    if (entry === 'checkpoints') writeFileSync(join(target, 'teacher', 'ckpt-000000001'), 'theirs');
    const before = snapshot(elsewhere);
    spawnSync('rm', ['-rf', join(out, entry)]);
    symlinkSync(target, join(out, entry));
    const refused = kdkit('run', path, '--out', out, '--resume');
    assertBadInput(refused, new RegExp(`${join(out, entry)} is a symbolic link to ${target}; kdkit does not write through links`));
    assert.deepEqual(snapshot(elsewhere), before, 'nothing written, appended or deleted through the link');
  });
}

test('a rerun with another config removes what the earlier run wrote and this one does not; every entry left is in summary.json', () => {
  const directory = temporaryDirectory();
  const out = join(directory, 'run');
  assert.equal(kdkit('run', config(directory, 'full.yaml', { export: '{quantize: [uint8], onnx: true}' }), '--out', out).status, 0);
  assert.ok(existsSync(join(out, 'student.onnx')) && existsSync(join(out, 'student-uint8')) && existsSync(join(out, 'student-uint8.onnx')));
  writeFileSync(join(out, 'mine.txt'), 'a file the user put there');
  const rerun = kdkit('run', config(directory, 'small.yaml'), '--out', out);
  assert.equal(rerun.status, 0, rerun.stderr);
  assert.match(rerun.stdout, /removed what an earlier run wrote and this one did not: student-uint8, student\.onnx, student-uint8\.onnx/);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  const described = topLevelEntries(Object.values(summary.artifacts as Record<string, string>));
  assert.deepEqual(
    readdirSync(out)
      .filter((name) => name !== RUN_MARKER && name !== 'mine.txt')
      .sort(),
    described.sort(),
  );
  assert.equal(readFileSync(join(out, 'mine.txt'), 'utf8'), 'a file the user put there', 'what kdkit did not write stays');
});

test("--resume sweeps the temporary files of killed writers and leaves a live writer's", () => {
  const directory = temporaryDirectory();
  const path = config(directory, 'c.yaml', { export: '{quantize: [uint8], onnx: false}' });
  const out = join(directory, 'run');
  assert.equal(kdkit('run', path, '--out', out).status, 0);
  const dead = spawnSync('true').pid!;
  const leftovers = [
    `.summary.json.${dead}.tmp`,
    `.summary.json.${dead}.0123456789ab.tmp`,
    join('student-uint8', `.model.json.${dead}.tmp`),
    join('checkpoints', 'teacher', `.ckpt-000000004.${dead}.0123456789ab.tmp`),
  ];
  for (const name of leftovers) writeFileSync(join(out, name), 'torn');
  mkdirSync(join(out, 'checkpoints', 'student', `.ckpt-000000002.${dead}.ba9876543210.tmp`));
  const live = join('cache', `.logits-00000.npy.${process.pid}.0123456789ab.tmp`);
  writeFileSync(join(out, live), 'in flight');
  const resumed = kdkit('run', path, '--out', out, '--resume');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /removed temporary files left by killed writers: /);
  for (const name of [...leftovers, join('checkpoints', 'student', `.ckpt-000000002.${dead}.ba9876543210.tmp`)])
    assert.ok(!existsSync(join(out, name)), name);
  assert.ok(existsSync(join(out, live)), "a live writer's temporary stays");
});

test('--resume after the config changed is exit 2 naming each change; --retrain-changed trains the changed stages again, as a fresh run would', () => {
  const directory = temporaryDirectory();
  const out = join(directory, 'run');
  assert.equal(kdkit('run', config(directory, 'c.yaml'), '--out', out).status, 0);
  const studentWeights = readFileSync(join(out, 'student', 'weights.bin'));
  const changes: Array<[Record<string, string>, string[], RegExp]> = [
    [
      { distill: '{epochs: 5, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 4}, {method: ce, weight: 0.1}]}' },
      [],
      /the student stage's checkpoints in \S+ were made with another config, so its weights are not this config's: distill\.epochs: 3 → 5\./,
    ],
    [
      { distill: '{epochs: 3, batchSize: 64, terms: [{method: kd, weight: 0.9, temperature: 2}, {method: ce, weight: 0.1}]}' },
      [],
      /student stage's .*: distill\.terms\[0\]\.temperature: 4 → 2\./,
    ],
    [{ student: '{model: {type: mlp, hidden: [24]}}' }, [], /student stage's .*: student\.model\.hidden\[0\]: 16 → 24\./],
    [{}, ['--seed', '2'], /the teacher stage's .*: seed: 1 → 2; data\.train: "[0-9a-f]+…" → "[0-9a-f]+…"; data\.validation: /],
  ];
  for (const [extra, flags, message] of changes) {
    const refused = kdkit('run', config(directory, 'changed.yaml', extra), '--out', out, '--resume', ...flags);
    assertBadInput(refused, message);
    assert.match(refused.stderr, /Add --retrain-changed to train the changed stages again/);
    assert.ok(readFileSync(join(out, 'student', 'weights.bin')).equals(studentWeights), 'the old weights stay as they were');
  }

  const changed = config(directory, 'changed.yaml', changes[0][0]);
  const retrained = kdkit('run', changed, '--out', out, '--resume', '--retrain-changed');
  assert.equal(retrained.status, 0, retrained.stderr);
  assert.match(retrained.stdout, /teacher: finished in ckpt-\d+, not retrained/);
  assert.match(retrained.stdout, /student: trained again, its config changed since its checkpoints \(distill\.epochs: 3 → 5\)/);
  const fresh = join(directory, 'fresh');
  assert.equal(kdkit('run', changed, '--out', fresh).status, 0);
  assert.ok(
    readFileSync(join(out, 'student', 'weights.bin')).equals(readFileSync(join(fresh, 'student', 'weights.bin'))),
    'the student of the changed config, bit for bit',
  );
  assert.equal(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).stages.at(-1).history.length, 5);
  // Unchanged since, --resume reuses every stage.
  const again = kdkit('run', changed, '--out', out, '--resume');
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /student: finished in ckpt-\d+, not retrained/);
});

test('a full disk stops the run naming the file, leaves no temporary behind, and --resume continues once there is room', (t) => {
  const directory = temporaryDirectory();
  const disk = join(directory, 'disk');
  mkdirSync(disk);
  // A 96 KiB tmpfs fills up during the teacher's checkpoints (tests run as root, as CI does).
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', disk], { encoding: 'utf8' });
  assert.equal(mounted.status, 0, `mounting a small tmpfs (needs root): ${mounted.stderr}`);
  t.after(() => spawnSync('umount', [disk]));
  const path = config(directory, 'c.yaml', { teacher: '{model: {type: mlp, hidden: [32]}, epochs: 3, batchSize: 32}' });
  const out = join(disk, 'run');
  const full = kdkit('run', path, '--out', out);
  assert.equal(full.status, 1, full.stderr);
  assert.match(full.stderr, new RegExp(`kdkit: run failed: cannot write ${out}/\\S+: ENOSPC \\(no space left on the device\\)`));
  const left = readdirSync(out, { recursive: true, encoding: 'utf8' });
  assert.deepEqual(
    left.filter((name) => name.endsWith('.tmp')),
    [],
    'no temporary file or directory left',
  );
  assert.equal(spawnSync('mount', ['-o', 'remount,size=16m', disk]).status, 0);
  const resumed = kdkit('run', path, '--out', out, '--resume');
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /teacher: resuming from ckpt-\d+/);
  const fresh = join(directory, 'fresh');
  assert.equal(kdkit('run', path, '--out', fresh).status, 0);
  assert.ok(
    readFileSync(join(out, 'student', 'weights.bin')).equals(readFileSync(join(fresh, 'student', 'weights.bin'))),
    'the same student as a run that never ran out of space',
  );
});

test('the cache `kdkit cache build` fills where `kdkit run` will look does not make that directory foreign', () => {
  const directory = temporaryDirectory();
  const teacherConfig = config(directory, 'teach.yaml');
  assert.equal(kdkit('run', teacherConfig, '--out', join(directory, 'teacher-run')).status, 0);
  const path = config(directory, 'load.yaml', { teacher: `{load: ${join(directory, 'teacher-run', 'teacher')}}` });
  const built = kdkitIn(directory, 'cache', 'build', path);
  assert.equal(built.status, 0, built.stderr);
  assert.deepEqual(readdirSync(join(directory, 'runs', 'load-seed1')), ['cache']);
  const run = kdkitIn(directory, 'run', path);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /soft labels: cached/);
});

test("a finished run of a kdkit from before the marker is still kdkit's to run in again", () => {
  const directory = temporaryDirectory();
  const path = config(directory, 'c.yaml');
  const out = join(directory, 'run');
  assert.equal(kdkit('run', path, '--out', out).status, 0);
  spawnSync('rm', [join(out, RUN_MARKER)]);
  const again = kdkit('run', path, '--out', out);
  assert.equal(again.status, 0, again.stderr);
  assert.ok(existsSync(join(out, RUN_MARKER)));
});
