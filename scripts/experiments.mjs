#!/usr/bin/env node
// Runs the Fashion-MNIST method comparison (experiments/fashion-mnist/*.yaml) and writes
// docs/results.md: one teacher, trained once, then every row with each seed.
//
//   npm run experiments [-- --seeds 1,2] [-- --only kd,dkd]
//
// Each run is `kdkit run CONFIG --seed N --out experiments/runs/ROW-seedN`, one at a time; a run
// whose summary.json already exists is reused, so an interrupted comparison resumes.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = join(root, 'experiments', 'runs');
const { values } = parseArgs({ options: { seeds: { type: 'string', default: '1,2' }, only: { type: 'string' } } });
const seeds = values.seeds.split(',').map(Number);

/**
 * The table's rows: the config that produces each, the model in its summary.json, and what it
 * is. `runs` says how many student trainings the row's budget is (chains train more than one).
 */
const rows = [
  { row: 'scratch', config: 'kd', model: 'scratch', what: 'hard labels only', trainings: 1 },
  { row: 'KD', config: 'kd', model: 'student', what: '0.9·kd (T 4) + 0.1·ce', trainings: 1 },
  { row: 'DKD', config: 'dkd', model: 'student', what: 'ce + dkd (α 1, β 8, T 4), warmup 2 epochs', trainings: 1 },
  { row: 'DKD, β 2', config: 'dkd-beta2', model: 'student', what: 'ce + dkd (α 1, β 2, T 4), warmup 2 epochs', trainings: 1 },
  { row: 'hint + KD', config: 'hint-kd', model: 'student', what: 'KD + 100·hint (dense_1 → teacher dense_1)', trainings: 1 },
  {
    row: 'hint + KD, penultimate',
    config: 'hint-kd-penultimate',
    model: 'student',
    what: 'KD + 100·hint (dense_2 → teacher dense_1)',
    trainings: 1,
  },
  { row: 'RKD + KD', config: 'rkd-kd', model: 'student', what: 'KD + rkd (25·distance + 50·angle, penultimate)', trainings: 1 },
  { row: 'SP + KD', config: 'sp-kd', model: 'student', what: 'KD + 3000·sp (penultimate)', trainings: 1 },
  { row: 'TA chain', config: 'ta-chain', model: 'student', what: 'teacher → MLP 512-512 → student, KD each link', trainings: 2 },
  { row: 'born-again', config: 'born-again', model: 'student', what: 'teacher → MLP 256-256 gen 1 → gen 2, KD each link', trainings: 2 },
  { row: 'adaptive preset', config: 'adaptive', model: 'student', what: 'kd 0.9→0.1, ce 0.1→0.9 (cosines)', trainings: 1 },
  { row: 'CTKD', config: 'ctkd', model: 'student', what: '0.9·kd at a learned τ ∈ (1, 21) + 0.1·ce', trainings: 1 },
  { row: 'scratch (conv student)', config: 'conv-kd', model: 'scratch', what: 'CNN 8-16, hard labels only', trainings: 1 },
  { row: 'KD (conv student)', config: 'conv-kd', model: 'student', what: 'CNN 8-16, KD', trainings: 1 },
  { row: 'AT + KD (conv student)', config: 'conv-at-kd', model: 'student', what: 'CNN 8-16, KD + 1000·attention (conv_2)', trainings: 1 },
];
const selected = values.only ? new Set(values.only.split(',')) : undefined;
const configNames = [...new Set(rows.map((row) => row.config))].filter((name) => !selected || selected.has(name));

function kdkit(args, label) {
  const started = performance.now();
  process.stdout.write(`${label} … `);
  const result = spawnSync(process.execPath, [join(root, 'bin', 'kdkit.js'), ...args], { cwd: root, encoding: 'utf8', maxBuffer: 1 << 28 });
  const seconds = (performance.now() - started) / 1000;
  if (result.status !== 0) {
    process.stdout.write('failed\n');
    throw new Error(`kdkit ${args.join(' ')} exited ${result.status}:\n${result.stderr}`);
  }
  process.stdout.write(`${seconds.toFixed(0)} s\n`);
  return seconds;
}

/** Wall seconds of each run, kept beside its summary so that a resumed comparison still reports them. */
function run(config, seed, out) {
  const timing = join(out, 'wall-seconds.json');
  if (existsSync(join(out, 'summary.json')) && existsSync(timing)) return JSON.parse(readFileSync(timing, 'utf8')).seconds;
  const seconds = kdkit(
    ['run', join('experiments', 'fashion-mnist', `${config}.yaml`), '--seed', String(seed), '--out', out],
    `${config} seed ${seed}`,
  );
  writeFileSync(timing, `${JSON.stringify({ seconds })}\n`);
  return seconds;
}

mkdirSync(runs, { recursive: true });
const teacherSeconds = run('teacher', 1, join(runs, 'teacher-run'));
const results = {};
for (const config of configNames) {
  for (const seed of seeds) {
    const out = join(runs, `${config}-seed${seed}`);
    const seconds = run(config, seed, out);
    results[`${config} ${seed}`] = { seconds, summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) };
  }
}

const percent = (value) => (100 * value).toFixed(2);
const mean = (list) => list.reduce((sum, value) => sum + value, 0) / list.length;
const teacher = results[`${configNames[0]} ${seeds[0]}`].summary.models.teacher;
const kdMean = mean(seeds.map((seed) => results[`kd ${seed}`]?.summary.models.student.accuracy ?? Number.NaN));
const lines = [
  '# Fashion-MNIST: every distillation method, one teacher, one budget',
  '',
  `Written by \`npm run experiments\` (scripts/experiments.mjs) from the configs in experiments/fashion-mnist/, on ${new Date().toISOString().slice(0, 10)}.`,
  `Teacher: the demo's CNN (32-64, dense 256), ${teacher.params.toLocaleString('en-US')} parameters, test accuracy ${percent(teacher.accuracy)} %, trained once (12 epochs, ${teacherSeconds.toFixed(0)} s wall with its run).`,
  'Student: MLP 256-256 (269,322 parameters) unless a row says conv student (CNN 8-16, no dense layer).',
  `Every student link: 20 epochs, batch 128, Adam 1e-3, seeds ${seeds.join(' and ')} (initialization and data order). Test set: 10,000 images.`,
  '',
  `| row | terms | ${seeds.map((seed) => `seed ${seed}`).join(' | ')} | mean | spread | vs KD (mean) | agrees with teacher (mean) | wall per run |`,
  `|---|---|${seeds.map(() => '---:|').join('')}---:|---:|---:|---:|---:|`,
];
for (const row of rows) {
  if (!configNames.includes(row.config)) continue;
  const models = seeds.map((seed) => results[`${row.config} ${seed}`].summary.models[row.model]);
  const accuracies = models.map((model) => model.accuracy);
  const agreement = mean(models.map((model) => model.agreementWithTeacher));
  const seconds = mean(seeds.map((seed) => results[`${row.config} ${seed}`].seconds));
  const versusKd = Number.isNaN(kdMean)
    ? ''
    : `${mean(accuracies) - kdMean >= 0 ? '+' : ''}${(100 * (mean(accuracies) - kdMean)).toFixed(2)}`;
  lines.push(
    `| ${row.row} | ${row.what} | ${accuracies.map((value) => `${percent(value)} %`).join(' | ')} | ${percent(mean(accuracies))} % | ${(100 * (Math.max(...accuracies) - Math.min(...accuracies))).toFixed(2)} | ${versusKd} | ${percent(agreement)} % | ${seconds.toFixed(0)} s${row.trainings > 1 ? ` (${row.trainings} trainings)` : ''} |`,
  );
}
lines.push(
  '',
  '"spread" is the difference between the best and worst seed, in points; "vs KD" compares the row\'s mean with the KD row\'s, in points.',
  '"wall per run" is the whole `kdkit run` (soft labels, training, evaluation, export); the scratch and KD rows share one run, as do the two conv-student baselines.',
  '',
);
const out = join(root, 'docs', 'results.md');
mkdirSync(dirname(out), { recursive: true });
const existing = existsSync(out) ? readFileSync(out, 'utf8') : '';
// Notes written by hand below the marker survive a regeneration.
const marker = '<!-- notes -->';
const notes = existing.includes(marker) ? existing.slice(existing.indexOf(marker)) : `${marker}\n`;
writeFileSync(`${out}.tmp`, `${lines.join('\n')}\n${notes}`);
renameSync(`${out}.tmp`, out);
process.stdout.write(`wrote ${out}\n`);
