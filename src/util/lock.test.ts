import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { DirectoryLockedError, lockDirectory, lockStaleMs, MIN_STALE_MS, withDirectoryLock } from './lock.js';
import { InputError } from '../errors.js';
import { currentProcess } from './process.js';

const temporaryDirectory = () => mkdtempSync(join(tmpdir(), 'kdkit-lock-'));
const options = { what: 'test directory', staleMs: MIN_STALE_MS };

test('a lock records its holder, refuses a second taker at once, and is gone after release', async () => {
  const directory = join(temporaryDirectory(), 'run');
  const lock = await lockDirectory(directory, { ...options, command: 'first' });
  assert.equal(lock.lockPath, `${directory}.lock`);
  const owner = JSON.parse(readFileSync(join(lock.lockPath, 'owner.json'), 'utf8'));
  assert.deepEqual([owner.pid, owner.command], [process.pid, 'first']);
  assert.equal(lock.tookOver, null);

  const refused = await lockDirectory(directory, { ...options, hint: 'try later' }).then(
    () => null,
    (error: unknown) => error,
  );
  assert.ok(refused instanceof DirectoryLockedError && refused instanceof InputError, String(refused));
  assert.match(
    refused.message,
    new RegExp(
      `^test directory ${directory} is in use by another kdkit process: pid ${process.pid} on .*\\(first\\); try later\\. \\(The lock is ${directory}\\.lock; if that process was killed, it expires 2 s after its last refresh\\.\\)$`,
    ),
  );
  assert.equal(refused.holder?.pid, process.pid);

  lock.check();
  await lock.release();
  assert.ok(!existsSync(lock.lockPath));
  const again = await lockDirectory(directory, options);
  await again.release();
});

test('release removes the directories taking the lock created, unless something was written there', async () => {
  const base = temporaryDirectory();
  const empty = join(base, 'a', 'b', 'run');
  await (await lockDirectory(empty, { ...options, lockPath: join(empty, '.lock') })).release();
  assert.deepEqual(readdirSync(base), [], 'a run that wrote nothing leaves nothing');

  const written = join(base, 'c', 'run');
  const lock = await lockDirectory(written, { ...options, lockPath: join(written, '.lock') });
  writeFileSync(join(written, 'logs.jsonl'), '{}\n');
  await lock.release();
  assert.deepEqual(readdirSync(written), ['logs.jsonl']);

  const existing = join(base, 'existing');
  mkdirSync(existing);
  await (await lockDirectory(existing, { ...options, lockPath: join(existing, '.lock') })).release();
  assert.ok(existsSync(existing), 'a directory that was there before stays');
});

test('a lock not refreshed for staleMs is taken over, naming its holder', async () => {
  const directory = join(temporaryDirectory(), 'run');
  const lockPath = `${directory}.lock`;
  mkdirSync(lockPath, { recursive: true });
  writeFileSync(
    join(lockPath, 'owner.json'),
    JSON.stringify({ pid: 999999, hostname: 'elsewhere', startedAt: '2020-01-01T00:00:00.000Z', command: 'kdkit run old.yaml' }),
  );
  const past = new Date(Date.now() - 10_000);
  utimesSync(lockPath, past, past);
  const lock = await lockDirectory(directory, options);
  assert.equal(lock.tookOver?.holder?.pid, 999999);
  assert.ok(lock.tookOver.idleMs >= 10_000, `idle ${lock.tookOver.idleMs} ms`);
  assert.equal(JSON.parse(readFileSync(join(lockPath, 'owner.json'), 'utf8')).pid, process.pid, 'owner.json is the new holder');
  await lock.release();
});

test('the lock of a process killed with SIGKILL on this host is taken over at once, naming it', async () => {
  const directory = join(temporaryDirectory(), 'run');
  const module = new URL('./lock.js', import.meta.url).href;
  const script = `import { lockDirectory } from '${module}';\nawait lockDirectory(${JSON.stringify(directory)}, { what: 'x' });\nconsole.log('locked');\nsetInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(child.stdout, 'data');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.ok(existsSync(`${directory}.lock`), 'SIGKILL leaves the lock behind');
  // Its stale time is the default 30 s; a dead holder on this host does not make anyone wait for it.
  const started = Date.now();
  const lock = await lockDirectory(directory, options);
  assert.ok(Date.now() - started < 2_000, `took over after ${Date.now() - started} ms`);
  assert.equal(lock.tookOver?.holder?.pid, child.pid);
  await lock.release();
});

test('the lock of a holder killed and left a zombie (its parent never reaps it) is taken over at once', async () => {
  const directory = join(temporaryDirectory(), 'run');
  const module = new URL('./lock.js', import.meta.url).href;
  const script = `import { lockDirectory } from '${module}';\nawait lockDirectory(${JSON.stringify(directory)}, { what: 'x' });\nconsole.log(process.pid);\nsetInterval(() => {}, 1000);`;
  // The shell execs sleep, which becomes the holder's parent and never waits for it, as a
  // container's PID 1 without an init does not.
  const parent = spawn('sh', ['-c', '"$1" --input-type=module -e "$0" & exec sleep 60', script, process.execPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const holderPid = Number(String((await once(parent.stdout, 'data'))[0]).trim());
    process.kill(holderPid, 'SIGKILL');
    const state = () => readFileSync(`/proc/${holderPid}/stat`, 'utf8').replace(/^.*\) /s, '')[0];
    while (state() !== 'Z') await sleep(10);
    const started = Date.now();
    const lock = await lockDirectory(directory, options);
    assert.ok(Date.now() - started < 1_000, `took over after ${Date.now() - started} ms`);
    assert.equal(lock.tookOver?.holder?.pid, holderPid);
    assert.equal(state(), 'Z', 'the holder was still an unreaped zombie when its lock was taken over');
    await lock.release();
  } finally {
    parent.kill('SIGKILL');
  }
});

test("a lock whose pid now belongs to another process (another start time) is taken over; the holder's own start time is not", async () => {
  const stranger = spawn('sleep', ['60'], { stdio: 'ignore' });
  try {
    const strangerStat = () =>
      readFileSync(`/proc/${stranger.pid}/stat`, 'utf8')
        .replace(/^.*\) /s, '')
        .split(' ');
    while (strangerStat().length < 20) await sleep(10);
    const startTicks = Number(strangerStat()[19]);
    const { bootId } = currentProcess();
    const plant = (lockPath: string, ticks: number) => {
      mkdirSync(lockPath, { recursive: true });
      writeFileSync(
        join(lockPath, 'owner.json'),
        JSON.stringify({
          pid: stranger.pid,
          startTicks: ticks,
          bootId,
          hostname: hostname(),
          startedAt: '2026-01-01T00:00:00.000Z',
          command: 'kdkit run old.yaml',
        }),
      );
    };
    const reused = join(temporaryDirectory(), 'run');
    plant(`${reused}.lock`, startTicks - 1);
    const lock = await lockDirectory(reused, { ...options, staleMs: 60_000 });
    assert.equal(lock.tookOver?.holder?.pid, stranger.pid);
    await lock.release();

    const live = join(temporaryDirectory(), 'run');
    plant(`${live}.lock`, startTicks);
    await assert.rejects(lockDirectory(live, { ...options, staleMs: 60_000 }), DirectoryLockedError);
  } finally {
    stranger.kill('SIGKILL');
  }
});

test('a waiting taker is told who holds the lock, and gets it when the holder releases', async () => {
  const directory = join(temporaryDirectory(), 'entry');
  const first = await lockDirectory(directory, options);
  const told: Array<number | undefined> = [];
  const waiting = lockDirectory(directory, { ...options, waitMs: Infinity, onWait: (holder) => told.push(holder?.pid) });
  await sleep(300);
  await first.release();
  const second = await waiting;
  assert.deepEqual(told, [process.pid]);
  assert.equal(second.tookOver, null, 'a released lock is not a takeover');
  await second.release();
});

test('withDirectoryLock releases the lock when its function throws', async () => {
  const directory = join(temporaryDirectory(), 'entry');
  await assert.rejects(
    withDirectoryLock(
      directory,
      () => {
        assert.ok(existsSync(`${directory}.lock`));
        throw new Error('build failed');
      },
      options,
    ),
    /build failed/,
  );
  assert.ok(!existsSync(`${directory}.lock`));
  assert.equal(await withDirectoryLock(directory, () => 42, options), 42);
});

test('a holder whose lock was taken over while it stalled finds out at its next check', async () => {
  const lockPath = join(temporaryDirectory(), 'shared.lock');
  const stalled = await lockDirectory('first', { ...options, lockPath });
  const past = new Date(Date.now() - 10_000);
  utimesSync(lockPath, past, past);
  const successor = await lockDirectory('second', { ...options, lockPath });
  assert.ok(successor.tookOver);
  // proper-lockfile notices at its next refresh (every staleMs / 2) that the lock is not its own.
  await sleep(MIN_STALE_MS);
  assert.throws(() => stalled.check(), /lost the lock on test directory .*first.*another kdkit process may be writing there/);
  await stalled.release();
  assert.ok(existsSync(lockPath), "releasing a lost lock leaves the successor's alone");
  await successor.release();
});

test('KDKIT_LOCK_STALE_MS overrides the stale time, and must be at least 2000', () => {
  assert.equal(lockStaleMs({}), 30_000);
  assert.equal(lockStaleMs({ KDKIT_LOCK_STALE_MS: '2500' }), 2500);
  assert.throws(() => lockStaleMs({ KDKIT_LOCK_STALE_MS: '100' }), /KDKIT_LOCK_STALE_MS must be .* at least 2000; got '100'/);
  assert.throws(() => lockStaleMs({ KDKIT_LOCK_STALE_MS: 'soon' }), InputError);
});
