// Runs the PyTorch side of a benchmark (Debian's python3-torch at /usr/bin/python3) at each of its
// thread settings, so that the comparison is against PyTorch at its best: torch threads ×
// OpenBLAS threads, 1 or 2 each on this 2-core machine.
import { spawnSync } from 'node:child_process';

/** [torch threads, OpenBLAS threads]. */
export const torchThreadSettings = [
  [1, 1],
  [1, 2],
  [2, 1],
  [2, 2],
];

/**
 * `script` run once per setting with `args(torchThreads)`, OpenBLAS's threads from the
 * environment; each run's JSON output with its setting, `onRun` told of each as it comes. When
 * PyTorch fails, `required` throws with its last line of stderr; otherwise the runs so far are
 * returned after a note, so that kdkit's side is still reported.
 */
export function torchRuns(script, args, { settings = torchThreadSettings, required = false, onRun = () => {} } = {}) {
  const runs = [];
  for (const [torchThreads, blasThreads] of settings) {
    const run = spawnSync('/usr/bin/python3', [script, ...args(torchThreads)], {
      encoding: 'utf8',
      maxBuffer: 1 << 26,
      env: { ...process.env, OPENBLAS_NUM_THREADS: String(blasThreads) },
    });
    if (run.status !== 0) {
      const why = run.stderr?.trim().split('\n').at(-1) ?? String(run.error);
      if (required) throw new Error(`PyTorch reference failed (needs /usr/bin/python3 with python3-torch): ${why}`);
      console.log(`PyTorch reference unavailable (/usr/bin/python3 with python3-torch): ${why}`);
      break;
    }
    const result = { torchThreads, blasThreads, ...JSON.parse(run.stdout) };
    runs.push(result);
    onRun(result);
  }
  return runs;
}

/** The run with the least `measure(run)`, or null for none. */
export function fastest(runs, measure) {
  return runs.length === 0 ? null : runs.reduce((a, b) => (measure(b) < measure(a) ? b : a));
}

/** The label of a run's setting. */
export const settingLabel = (run) => `torch ${run.torchThreads} / OpenBLAS ${run.blasThreads} thread(s)`;
