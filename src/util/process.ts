/**
 * Whether a process still runs, told apart from the two things that look alive to `kill(pid, 0)`:
 * a zombie (killed, not yet reaped by its parent; in a container whose PID 1 never reaps, that is
 * forever) and an unrelated process that was given the same pid later.
 */
import { readFileSync } from 'node:fs';

/** Who a process is: its pid, plus what tells it from a later process with the same pid. */
export interface ProcessIdentity {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot (Linux only). */
  startTicks?: number;
  /** /proc/sys/kernel/random/boot_id: start ticks only compare within one boot. */
  bootId?: string;
}

/** This process, as a lock or a temporary file records it. */
export function currentProcess(): ProcessIdentity {
  const stat = readStat(process.pid);
  const bootId = readBootId();
  return { pid: process.pid, ...(stat ? { startTicks: stat.startTicks } : {}), ...(bootId ? { bootId } : {}) };
}

/**
 * Whether the process `identity` recorded runs on this host. Where /proc can be read (Linux), a
 * zombie or a dead one is not running, and neither is a process with the same pid but another
 * start time or boot. Elsewhere `kill(pid, 0)` decides (EPERM: it runs, under another user).
 */
export function isRunning(identity: ProcessIdentity | number): boolean {
  const { pid, startTicks, bootId } = typeof identity === 'number' ? { pid: identity } : identity;
  const currentBoot = readBootId();
  if (bootId !== undefined && currentBoot !== undefined && bootId !== currentBoot) return false;
  const stat = readStat(pid);
  if (stat !== null) {
    // Z: zombie, X: dead (being reaped); neither will ever refresh a lock again.
    if (stat.state === 'Z' || stat.state === 'X') return false;
    return startTicks === undefined || stat.startTicks === startTicks;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface ProcStat {
  state: string;
  startTicks: number;
}

/** /proc/<pid>/stat's state and start time; null when there is no such file (no process, or not Linux). */
function readStat(pid: number): ProcStat | null {
  if (!Number.isSafeInteger(pid) || pid <= 0) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const startTicks = Number(fields[19]);
  if (fields[0] === undefined || !Number.isSafeInteger(startTicks)) return null;
  return { state: fields[0], startTicks };
}

function readBootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
