import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join, basename } from 'node:path';
import { isRunning } from './process.js';

/** A write that failed, naming the file (ENOSPC, EACCES, EROFS…): exit 1, with the path in the message. */
export class FileWriteError extends Error {
  override readonly name = 'FileWriteError';
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException).code;
    super(`cannot write ${path}: ${code ? `${code} (${describeCode(code)})` : (cause as Error).message}`, { cause });
  }
}

/**
 * Writes a file so that readers see either the old content or the new, never a torn write:
 * write to a temporary name in the same directory, fsync, then rename over the target.
 *
 * The temporary name is unpredictable and created exclusively without following a symlink, so a
 * link planted under it makes the write fail rather than write through the link; and rename
 * replaces a link at `path` itself, never its target.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let tempPath: string | undefined;
  let fd: number | undefined;
  try {
    mkdirSync(dirname(path), { recursive: true });
    tempPath = temporaryPath(path);
    fd = openSync(tempPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644);
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    if (tempPath !== undefined) rmSync(tempPath, { force: true });
    throw error instanceof FileWriteError ? error : new FileWriteError(path, error);
  }
}

/**
 * `.NAME.PID.RANDOM.tmp` beside `path`: the pid lets a later process tell a dead writer's leftovers
 * (temporaryWriter) from a live writer's; the random part makes the name impossible to plant ahead.
 */
export function temporaryPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
}

/** The pid of the process that made temporary `name` (temporaryPath's, or the older `.NAME.PID.tmp`), or null when it is not one. */
export function temporaryWriter(name: string): number | null {
  // The random part may be all digits: the current form is tried first, so it is never taken for the pid.
  const match = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name) ?? /^\..+\.(\d+)\.tmp$/.exec(name);
  return match ? Number(match[1]) : null;
}

/** Whether `name` is a temporary (temporaryPath's) of a writer that no longer runs: a leftover, safe to remove. */
export function isOrphanedTemporary(name: string): boolean {
  const writer = temporaryWriter(name);
  return writer !== null && writer !== process.pid && !isRunning(writer);
}

function describeCode(code: string): string {
  const known: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    EEXIST: 'a file is in the way',
    ELOOP: 'a symbolic link is in the way',
    ENOTDIR: 'a file is in the way of the directory',
    EISDIR: 'a directory is in the way',
    EIO: 'input/output error',
  };
  return known[code] ?? 'a system error';
}
