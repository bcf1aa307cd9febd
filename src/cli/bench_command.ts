/**
 * `kdkit bench SUITE`: the benchmarks that time kdkit side by side with PyTorch in the same run
 * (bench/*.js in the repository; see README.md "Development"). Each suite runs in a process of its
 * own with its output passed through; PyTorch comes from Debian's `/usr/bin/python3`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InputError } from '../errors.js';

/** Suite name → script in bench/, and what it measures (for --help). */
export const BENCH_SUITES = {
  step: {
    script: 'engine-step.js',
    what: 'KD training steps (CNN, MLP, MobileNetV2, ResNet) and KD epochs (MLP, MobileNetV2) vs PyTorch, soft labels vs training; writes bench/results.json',
  },
  epoch: {
    script: 'kd-epoch.js',
    what: 'one KD epoch of a student vs PyTorch (args: mlp, the default, or mobilenet: Fashion-MNIST; banking77: a 2-layer BERT-style student, d 64, on Banking77)',
  },
  zoo: {
    script: 'zoo-step.js',
    what: 'the KD training step of the MobileNetV2-style and ResNet-style students vs PyTorch; writes bench/zoo-results.json',
  },
  text: {
    script: 'text-step.js',
    what: 'the KD training step of a 4-layer BERT-style transformer (d 256, batch 64 × 32 tokens) vs PyTorch (args: steps, rounds)',
  },
  inference: { script: 'inference.js', what: 'inference latency in TensorFlow.js and ONNX Runtime vs PyTorch' },
  stream: { script: 'stream.js', what: 'reading .npy shards streamed from disk vs PyTorch memmaps, and a streamed training epoch' },
} as const;
export type BenchSuite = keyof typeof BENCH_SUITES;

const PYTHON = '/usr/bin/python3';

/** Runs a suite with `args`; resolves to its exit code. */
export async function benchCommand(suite: BenchSuite, args: readonly string[]): Promise<number> {
  const script = fileURLToPath(new URL(`../../bench/${BENCH_SUITES[suite].script}`, import.meta.url));
  if (!existsSync(script)) {
    throw new InputError(
      `kdkit bench: ${script} is missing; the benchmarks come with the repository (git clone, npm ci), not with the npm package`,
    );
  }
  const torch = spawnSync(PYTHON, ['-c', 'import torch'], { encoding: 'utf8' });
  if (torch.status !== 0) {
    throw new InputError(`kdkit bench: the PyTorch side needs ${PYTHON} with torch (apt-get install python3-torch libopenblas0-pthread)`);
  }
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}
