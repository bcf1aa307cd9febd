/**
 * Exclusive locks on directories, so that two kdkit processes never write into the same run
 * directory or soft-label entry at once. A lock is a directory made with mkdir (atomic on every
 * filesystem kdkit runs on), managed by proper-lockfile: the holder refreshes its mtime every few
 * seconds, and a lock not refreshed for `staleMs` belongs to a process that died without releasing
 * it (kill -9, a crash, power loss), so the next process removes it and takes over. The holder's
 * pid, host, start time and command are kept in owner.json inside the lock, for the message of a
 * process that is refused. Locks are also removed on exit and on SIGINT/SIGTERM (proper-lockfile
 * registers a signal-exit handler).
 */
import * as fs from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import lockfile from 'proper-lockfile';
import { InputError } from '../errors.js';
import { writeFileAtomic } from './atomic.js';
import { currentProcess, isRunning, type ProcessIdentity } from './process.js';

/**
 * Long enough that no synchronous stretch of a live run (evaluation, export) lets its lock look
 * stale; short enough that a killed run blocks the next one briefly.
 */
export const DEFAULT_STALE_MS = 30_000;
/** proper-lockfile's floor: it treats any smaller stale time as 2 s. */
export const MIN_STALE_MS = 2_000;
/** Refresh often, so a busy event loop can stall for most of `staleMs` before the lock looks stale. */
const REFRESH_MS = 5_000;
const OWNER_FILE = 'owner.json';

/** Who holds a lock, as recorded in its owner.json: its pid with its start time and boot, so a reused pid is not mistaken for it. */
export interface LockHolder extends ProcessIdentity {
  hostname: string;
  startedAt: string;
  command: string;
}

export interface LockOptions {
  /** What is locked, for messages: 'run directory', 'soft-label entry'. */
  what: string;
  /** The lock directory; default `<directory>.lock`. Its parent is created when missing. */
  lockPath?: string;
  /** A lock not refreshed for this long is taken over (default 30 s; at least 2 s). */
  staleMs?: number;
  /** How long to wait for a live holder before refusing: 0 (default) refuses at once, Infinity waits while it lives. */
  waitMs?: number;
  /** Called once, with the holder, when this process starts waiting. */
  onWait?: (holder: LockHolder | null) => void;
  /** Ends the refusal message, e.g. "wait for it to finish, or give another --out". */
  hint?: string;
  /** What this process is doing, shown to a process it refuses (default: its argv). */
  command?: string;
}

export interface DirectoryLock {
  directory: string;
  lockPath: string;
  /** The stale lock this one replaced: its holder (null if unrecorded) and how long it had gone without a refresh. */
  tookOver: { holder: LockHolder | null; idleMs: number } | null;
  /** Throws when the lock was lost: this process stalled past `staleMs` and another may have taken over. */
  check(): void;
  /** Releases the lock, then removes the directories taking it created, if nothing else was written there. */
  release(): Promise<void>;
}

/** Another live process holds the lock (exit code 2: the user can wait, or choose another directory). */
export class DirectoryLockedError extends InputError {
  constructor(
    message: string,
    readonly holder: LockHolder | null,
  ) {
    super(message);
  }
}

export async function lockDirectory(directory: string, options: LockOptions): Promise<DirectoryLock> {
  const target = resolve(directory);
  const lockPath = resolve(options.lockPath ?? `${target}.lock`);
  const staleMs = Math.max(options.staleMs ?? DEFAULT_STALE_MS, MIN_STALE_MS);
  const owner: LockHolder = {
    ...currentProcess(),
    hostname: hostname(),
    startedAt: new Date().toISOString(),
    command: options.command ?? process.argv.join(' '),
  };
  const deadline = Date.now() + (options.waitMs ?? 0);
  let created = makeDirectory(dirname(lockPath), options.what);
  let lost: Error | null = null;
  let waiting = false;
  let killedHolder: LockRecord | null = null;
  for (let missingParent = 0; ; ) {
    const previous = readHolder(lockPath);
    owners.set(lockPath, `${JSON.stringify(owner)}\n`);
    try {
      const unlock = await lockfile.lock(target, {
        lockfilePath: lockPath,
        realpath: false,
        stale: staleMs,
        update: Math.min(REFRESH_MS, staleMs / 2),
        fs: lockFileSystem,
        onCompromised: (error) => {
          lost = error;
        },
      });
      const replaced = killedHolder ?? previous;
      // proper-lockfile rounds a new lock's mtime up to the next second, so the idle time can come out negative.
      const idleMs = replaced === null ? 0 : Math.max(0, Date.now() - replaced.refreshedMs);
      return {
        directory: target,
        lockPath,
        tookOver: killedHolder !== null || (previous !== null && idleMs >= staleMs) ? { holder: replaced!.holder, idleMs } : null,
        check() {
          if (lost !== null)
            throw new Error(`lost the lock on ${options.what} ${target} (${lost.message}): another kdkit process may be writing there`);
        },
        async release() {
          // A lost lock is no longer ours to remove.
          if (lost === null) await unlock().catch(() => {});
          removeEmptyDirectories(created, dirname(lockPath));
        },
      };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A process that created the directory and failed removed it again in between: recreate it.
      if (code === 'ENOENT' && missingParent++ < 3) {
        created ??= makeDirectory(dirname(lockPath), options.what);
        continue;
      }
      if (code !== 'ELOCKED') {
        removeEmptyDirectories(created, dirname(lockPath));
        throw error;
      }
      const current = readHolder(lockPath) ?? previous;
      const holder = current?.holder ?? null;
      // A holder on this host that no longer runs was killed (kill -9 leaves no time to release):
      // its lock is taken over now rather than after staleMs. A zombie, or another process that
      // has its pid since, is not the holder (util/process.ts); where that cannot be told, staleMs decides.
      if (current !== null && holder !== null && holder.hostname === hostname() && !isRunning(holder) && killedHolder === null) {
        fs.rmSync(lockPath, { recursive: true, force: true });
        killedHolder = current;
        continue;
      }
      if (Date.now() >= deadline) {
        removeEmptyDirectories(created, dirname(lockPath));
        throw new DirectoryLockedError(refusal(options, target, lockPath, staleMs, current), holder);
      }
      if (!waiting) options.onWait?.(holder);
      waiting = true;
      await sleep(Math.min(1000, staleMs / 4, deadline - Date.now()));
    }
  }
}

/** Runs `fn` holding the lock on `directory`, and releases it however `fn` ends. */
export async function withDirectoryLock<T>(
  directory: string,
  fn: (lock: DirectoryLock) => T | Promise<T>,
  options: LockOptions,
): Promise<T> {
  const lock = await lockDirectory(directory, options);
  try {
    const result = await fn(lock);
    lock.check();
    return result;
  } finally {
    await lock.release();
  }
}

/** The KDKIT_LOCK_STALE_MS override of the stale time (tests use it to take over a killed run quickly). */
export function lockStaleMs(environment: Record<string, string | undefined>): number {
  const value = environment.KDKIT_LOCK_STALE_MS;
  if (value === undefined || value === '') return DEFAULT_STALE_MS;
  const staleMs = Number(value);
  if (!Number.isInteger(staleMs) || staleMs < MIN_STALE_MS)
    throw new InputError(`KDKIT_LOCK_STALE_MS must be an integer number of milliseconds, at least ${MIN_STALE_MS}; got '${value}'`);
  return staleMs;
}

export function describeHolder(holder: LockHolder | null): string {
  if (holder === null) return 'a process that has not recorded itself yet';
  return `pid ${holder.pid} on ${holder.hostname}, started ${holder.startedAt} (${holder.command})`;
}

function refusal(options: LockOptions, target: string, lockPath: string, staleMs: number, current: LockRecord | null): string {
  const holder = current?.holder ?? null;
  const hint = options.hint ? `; ${options.hint}` : '';
  // A holder on this host that no longer runs was taken over before this point: this one runs, is
  // on another host, or has not recorded itself yet.
  return `${options.what} ${target} is in use by another kdkit process: ${describeHolder(holder)}${hint}. (The lock is ${lockPath}; if that process was killed, it expires ${staleMs / 1000} s after its last refresh.)`;
}

interface LockRecord {
  holder: LockHolder | null;
  refreshedMs: number;
}

/** The holder recorded in a lock, and when the lock was last refreshed; null when there is no lock. */
function readHolder(lockPath: string): LockRecord | null {
  let refreshedMs: number;
  try {
    refreshedMs = fs.statSync(lockPath).mtimeMs;
  } catch {
    return null;
  }
  try {
    const holder = JSON.parse(fs.readFileSync(join(lockPath, OWNER_FILE), 'utf8')) as LockHolder;
    if (!Number.isSafeInteger(holder?.pid)) return { holder: null, refreshedMs };
    // Identity fields of another shape (an older kdkit, a hand edit) are dropped, not trusted.
    const { startTicks, bootId, ...rest } = holder;
    return {
      holder: { ...rest, ...(Number.isSafeInteger(startTicks) ? { startTicks } : {}), ...(typeof bootId === 'string' ? { bootId } : {}) },
      refreshedMs,
    };
  } catch {
    // Taken a moment ago and owner.json is not written yet, or a holder killed while writing it.
    return { holder: null, refreshedMs };
  }
}

/** owner.json contents by lock path, for lockFileSystem's mkdir (a process uses a handful of lock paths). */
const owners = new Map<string, string>();

/**
 * The filesystem proper-lockfile sees. owner.json is written inside mkdir, before proper-lockfile
 * records the lock's mtime (a later write would change it and look like a takeover). Removal is
 * recursive, because proper-lockfile's rmdir would fail on a lock that holds owner.json. One object
 * for the process: proper-lockfile caches the mtime precision on it, and re-probing sets mtimes
 * rounded to the second, which two locks taken in the same second would share — and proper-lockfile
 * tells its own lock from a successor's by the mtime.
 */
const lockFileSystem = {
  ...fs,
  mkdir(path: string, callback: (error: Error | null) => void) {
    fs.mkdir(path, (error) => {
      if (error) return callback(error);
      try {
        writeFileAtomic(join(path, OWNER_FILE), owners.get(resolve(path)) ?? '{}\n');
      } catch (writeError) {
        fs.rmSync(path, { recursive: true, force: true });
        return callback(writeError as Error);
      }
      callback(null);
    });
  },
  rmdir(path: string, callback: (error: Error | null) => void) {
    fs.rm(path, { recursive: true, force: true }, callback);
  },
  rmdirSync(path: string) {
    fs.rmSync(path, { recursive: true, force: true });
  },
};

/** mkdir -p; returns the first directory it created, if any. */
function makeDirectory(directory: string, what: string): string | undefined {
  try {
    return fs.mkdirSync(directory, { recursive: true });
  } catch (error) {
    throw new InputError(`${what} ${directory}: cannot create it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
}

/** Removes `deepest` and its parents up to `first` (what mkdir -p created), stopping at one that is not empty. */
function removeEmptyDirectories(first: string | undefined, deepest: string): void {
  if (first === undefined) return;
  for (let directory = deepest; ; directory = dirname(directory)) {
    try {
      fs.rmdirSync(directory);
    } catch {
      return;
    }
    if (directory === first || dirname(directory) === directory) return;
  }
}
