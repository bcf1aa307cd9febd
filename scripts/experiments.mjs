#!/usr/bin/env node
// Runs a method comparison and writes its results table: one teacher, made once, then every row
// with each seed.
//   fashion-mnist (the default): experiments/fashion-mnist/*.yaml → docs/results.md; the teacher
//     is the demo's CNN, trained by kdkit (teacher.yaml).
//   resnet-mobilenet: experiments/resnet-mobilenet/*.yaml → docs/results-resnet-mobilenet.md; the
//     teacher is the PyTorch ResNet of examples/resnet-mobilenet/ (train_teacher.py runs first if
//     its teacher.onnx is missing), the student kdkit's MobileNetV2.
//
//   npm run experiments [-- --suite resnet-mobilenet] [-- --seeds 1,2] [-- --only kd,dkd]
//
// Each run is `kdkit run CONFIG --seed N --out experiments/runs/[SUITE/]ROW-seedN`, one at a time;
// a run whose summary.json already exists is reused and one with checkpoints is resumed, so an
// interrupted comparison goes on where it stopped.
//
// Every finished run is also kept as a record, experiments/records/SUITE/ROW-seedN.json (its
// summary.json, wall seconds and the SHA-256 of its config), which is committed: a comparison too
// long for one sitting goes on from the records on another machine, and the table can be written
// again from them. A record is reused only while its config file is unchanged, and every run in a
// table must have had the same teacher (summary.json's teacher fingerprint), or the script stops.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { values } = parseArgs({
  options: { suite: { type: 'string', default: 'fashion-mnist' }, seeds: { type: 'string' }, only: { type: 'string' } },
});

/**
 * The table's rows: the config that produces each, the model in its summary.json, and what it
 * is. `trainings` says how many student trainings the row's budget is (chains train more than one).
 */
const fashionRows = [
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

const resnetRows = [
  { row: 'scratch', config: 'kd', model: 'scratch', what: 'hard labels only', trainings: 1 },
  { row: 'KD', config: 'kd', model: 'student', what: '0.9·kd (T 4) + 0.1·ce', trainings: 1 },
  { row: 'KD (α 0.5)', config: 'kd-half', model: 'student', what: '0.5·kd (T 4) + 0.5·ce', trainings: 1 },
  { row: 'DKD', config: 'dkd', model: 'student', what: 'ce + dkd (α 1, β 8, T 4), warmup 2 epochs', trainings: 1 },
  { row: 'AT', config: 'at', model: 'student', what: 'ce + 1000·attention (stage_1 → stage_2, stage_2 → stage_3)', trainings: 1 },
  { row: 'SP', config: 'sp', model: 'student', what: 'ce + 3000·sp (penultimate → embedding)', trainings: 1 },
  { row: 'CRD', config: 'crd', model: 'student', what: 'ce + 0.8·crd (penultimate → embedding, 1,024 negatives)', trainings: 1 },
  { row: 'DIST', config: 'dist', model: 'student', what: 'ce + dist (β 2, γ 2, T 4)', trainings: 1 },
];

const thousands = (value) => value.toLocaleString('en-US');
const percent = (value) => (100 * value).toFixed(2);

/** What each suite runs, where its teacher comes from, and the lines above its table. */
const suites = {
  'fashion-mnist': {
    rows: fashionRows,
    seeds: '1,2',
    doc: 'results.md',
    runs: join(root, 'experiments', 'runs'),
    teacher: (runs) => ({ seconds: run('teacher', 1, join(runs, 'teacher-run')) }),
    header: ({ teacher, teacherSeconds, seeds }) => [
      '# Fashion-MNIST: every distillation method, one teacher, one budget',
      '',
      `Written by \`npm run experiments\` (scripts/experiments.mjs) from the configs in experiments/fashion-mnist/, on ${new Date().toISOString().slice(0, 10)}.`,
      `Teacher: the demo's CNN (32-64, dense 256), ${thousands(teacher.params)} parameters, test accuracy ${percent(teacher.accuracy)} %, trained once (12 epochs, ${teacherSeconds.toFixed(0)} s wall with its run).`,
      'Student: MLP 256-256 (269,322 parameters) unless a row says conv student (CNN 8-16, no dense layer).',
      `Every student link: 20 epochs, batch 128, Adam 1e-3, seeds ${seeds.join(' and ')} (initialization and data order). Test set: 10,000 images.`,
    ],
    footer: [
      '"wall per run" is the whole `kdkit run` (soft labels, training, evaluation, export); the scratch and KD rows share one run, as do the two conv-student baselines.',
    ],
  },
  'resnet-mobilenet': {
    rows: resnetRows,
    seeds: '1,2,3',
    doc: 'results-resnet-mobilenet.md',
    runs: join(root, 'experiments', 'runs', 'resnet-mobilenet'),
    // One store for every run: rows with the same seed show the teacher the same augmented batches,
    // so it runs once for KD, DKD and DIST and once for SP and CRD (README: online soft labels).
    store: join('experiments', 'runs', 'resnet-mobilenet', 'store'),
    teacher: () => {
      const example = join(root, 'examples', 'resnet-mobilenet');
      if (!existsSync(join(example, 'teacher.onnx')) || !existsSync(join(example, 'pytorch-accuracy.json'))) {
        process.stdout.write('PyTorch teacher (examples/resnet-mobilenet/train_teacher.py) … ');
        const made = spawnSync('/usr/bin/python3', [join(example, 'train_teacher.py')], {
          cwd: root,
          stdio: ['ignore', 'inherit', 'inherit'],
        });
        if (made.status !== 0) throw new Error(`train_teacher.py exited ${made.status}`);
      }
      const record = JSON.parse(readFileSync(join(example, 'pytorch-accuracy.json'), 'utf8'));
      return { seconds: record.seconds, record };
    },
    header: ({ teacher, teacherSeconds, teacherRecord, seeds, student, first }) => [
      '# ResNet → MobileNetV2 on Fashion-MNIST: a PyTorch teacher, a kdkit student, every method',
      '',
      `Written by \`npm run experiments -- --suite resnet-mobilenet\` (scripts/experiments.mjs) from the configs in experiments/resnet-mobilenet/, on ${new Date().toISOString().slice(0, 10)}.`,
      `Teacher: a CIFAR-style ResNet (torchvision BasicBlocks [${teacherRecord.blocks.join(', ')}], filters ${teacherRecord.filters?.join('-') ?? '16-32-64'}), ${thousands(teacherRecord.parameters)} parameters, trained once in PyTorch ${teacherRecord.torch} (${teacherRecord.epochs} epochs, SGD + cosine, crop and flip, ${teacherSeconds.toFixed(0)} s) by examples/resnet-mobilenet/train_teacher.py and exported to ONNX; test accuracy ${percent(teacher.accuracy)} % as kdkit runs it (ONNX Runtime), ${percent(teacherRecord.accuracy)} % in PyTorch.`,
      `Student: kdkit's MobileNetV2 (stem stride 2, the default small stage table), ${thousands(student.params)} parameters.`,
      `Every student: 6 epochs, batch 128, Adam with its learning rate on a cosine from 2e-3 to 0, random crop (padding 2) and horizontal flip, the teacher labelling each augmented batch (online soft labels), seeds ${seeds.join(', ')} (initialization, data order and augmentation). Test set: 10,000 images.`,
      ...(first.speedups ?? []).map(
        ({ runtime, teacherMs, studentMs, speedup }) =>
          `Deployment (the KD run, seed ${seeds[0]}): at batch 1 on ${runtime === 'onnxruntime' ? 'ONNX Runtime' : 'TensorFlow.js'}, student.onnx takes ${studentMs.toFixed(3)} ms and the teacher ${teacherMs.toFixed(3)} ms: ${speedup.toFixed(1)}× faster.`,
      ),
    ],
    footer: ['"wall per run" is the whole `kdkit run` (training, evaluation, export); the scratch and KD rows share one run.'],
  },
};
const suite = suites[values.suite];
if (!suite) throw new Error(`--suite: expected one of ${Object.keys(suites).join(', ')}, got "${values.suite}"`);
const { rows, runs } = suite;
const seeds = (values.seeds ?? suite.seeds).split(',').map(Number);
const selected = values.only ? new Set(values.only.split(',')) : undefined;
const configNames = [...new Set(rows.map((row) => row.config))];

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

/** Writes a file whole or not at all. */
function writeAtomic(path, text) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

const records = join(root, 'experiments', 'records', values.suite);
const relative = (path) => path.slice(root.length + 1);

/**
 * A run's summary and wall seconds: from its run directory, else from its committed record while
 * the config is unchanged, else by running it (resumed from its checkpoints if it has some; its
 * wall time then counts this part only). With `recordedOnly`, undefined instead of running.
 */
function run(config, seed, out, recordedOnly = false) {
  const configPath = join('experiments', values.suite, `${config}.yaml`);
  const configSha256 = createHash('sha256')
    .update(readFileSync(join(root, configPath)))
    .digest('hex');
  const recordPath = join(records, `${config}-seed${seed}.json`);
  const timing = join(out, 'wall-seconds.json');
  const done = existsSync(join(out, 'summary.json')) && existsSync(timing);
  if (!done && recordedOnly) {
    const record = existsSync(recordPath) ? JSON.parse(readFileSync(recordPath, 'utf8')) : undefined;
    return record?.configSha256 === configSha256 ? record : undefined;
  }
  if (!done && existsSync(recordPath)) {
    const record = JSON.parse(readFileSync(recordPath, 'utf8'));
    if (record.configSha256 === configSha256) {
      process.stdout.write(`${config} seed ${seed}: from ${relative(recordPath)}\n`);
      return record;
    }
    process.stdout.write(`${config} seed ${seed}: ${relative(recordPath)} is of another version of ${configPath}; running again\n`);
  }
  if (!done) {
    const resume = existsSync(join(out, 'checkpoints')) ? ['--resume'] : [];
    const seconds = kdkit(
      ['run', configPath, '--seed', String(seed), '--out', out, ...(suite.store ? ['--store', suite.store] : []), ...resume],
      `${config} seed ${seed}${resume.length > 0 ? ' (resumed)' : ''}`,
    );
    writeAtomic(timing, `${JSON.stringify({ seconds })}\n`);
  }
  const record = {
    config: configPath,
    configSha256,
    seed,
    seconds: JSON.parse(readFileSync(timing, 'utf8')).seconds,
    summary: JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')),
  };
  writeAtomic(recordPath, `${JSON.stringify(record, null, 1)}\n`);
  return record;
}

mkdirSync(runs, { recursive: true });
const madeTeacher = suite.teacher(runs);
const teacherSeconds = madeTeacher.seconds;
const results = {};
// Seed by seed, so that an interrupted comparison already has every row for the first seeds.
// Rows left out by --only come from their records where they have them: the table shows every
// seed each row has.
for (const seed of seeds) {
  for (const config of configNames) {
    const outcome = run(config, seed, join(runs, `${config}-seed${seed}`), selected !== undefined && !selected.has(config));
    if (outcome !== undefined) results[`${config} ${seed}`] = { seconds: outcome.seconds, summary: outcome.summary };
  }
}
/** The seeds a config has results for. */
const seedsOf = (config) => seeds.filter((seed) => results[`${config} ${seed}`] !== undefined);
const firstConfig = configNames.find((config) => seedsOf(config).length > 0);
if (firstConfig === undefined) throw new Error(`no run or record for seeds ${seeds.join(', ')}`);
const first = results[`${firstConfig} ${seedsOf(firstConfig)[0]}`];
// A table compares methods on one teacher: a teacher trained again to other weights (on another
// machine, say) makes the records before it another experiment.
const teachers = new Map(Object.entries(results).map(([key, { summary }]) => [summary.teacher.fingerprint, key]));
if (teachers.size > 1) {
  throw new Error(
    `the runs had ${teachers.size} different teachers (${[...teachers.values()].join(', ')} among them); remove the records of the old teacher from ${relative(records)} to run them again`,
  );
}

const mean = (list) => list.reduce((sum, value) => sum + value, 0) / list.length;
const teacher = first.summary.models.teacher;
const student = first.summary.models.student;
const kdMean = mean(seedsOf('kd').map((seed) => results[`kd ${seed}`].summary.models.student.accuracy));
const lines = [
  ...suite.header({
    teacher,
    teacherSeconds,
    teacherRecord: madeTeacher.record,
    seeds,
    student,
    first: first.summary,
  }),
  '',
  `| row | terms | ${seeds.map((seed) => `seed ${seed}`).join(' | ')} | mean | spread | vs KD (mean) | agrees with teacher (mean) | wall per run |`,
  `|---|---|${seeds.map(() => '---:|').join('')}---:|---:|---:|---:|---:|`,
];
for (const row of rows) {
  const rowSeeds = seedsOf(row.config);
  if (rowSeeds.length === 0) continue;
  const models = rowSeeds.map((seed) => results[`${row.config} ${seed}`].summary.models[row.model]);
  const accuracies = models.map((model) => model.accuracy);
  const agreement = mean(models.map((model) => model.agreementWithTeacher));
  const seconds = mean(rowSeeds.map((seed) => results[`${row.config} ${seed}`].seconds));
  const cells = seeds.map((seed) =>
    rowSeeds.includes(seed) ? `${percent(results[`${row.config} ${seed}`].summary.models[row.model].accuracy)} %` : '–',
  );
  const over = rowSeeds.length < seeds.length ? ` (${rowSeeds.length} seed${rowSeeds.length > 1 ? 's' : ''})` : '';
  const versusKd = Number.isNaN(kdMean)
    ? ''
    : `${mean(accuracies) - kdMean >= 0 ? '+' : ''}${(100 * (mean(accuracies) - kdMean)).toFixed(2)}`;
  lines.push(
    `| ${row.row} | ${row.what} | ${cells.join(' | ')} | ${percent(mean(accuracies))} %${over} | ${(100 * (Math.max(...accuracies) - Math.min(...accuracies))).toFixed(2)} | ${versusKd} | ${percent(agreement)} % | ${seconds.toFixed(0)} s${row.trainings > 1 ? ` (${row.trainings} trainings)` : ''} |`,
  );
}
lines.push(
  '',
  '"spread" is the difference between the best and worst seed, in points; "vs KD" compares the row\'s mean with the KD row\'s, in points; a row with fewer seeds (–) says so by its mean, and its means are over those seeds only.',
  ...suite.footer,
  '',
);
const out = join(root, 'docs', suite.doc);
const existing = existsSync(out) ? readFileSync(out, 'utf8') : '';
// Notes written by hand below the marker survive a regeneration.
const marker = '<!-- notes -->';
const notes = existing.includes(marker) ? existing.slice(existing.indexOf(marker)) : `${marker}\n`;
writeAtomic(out, `${lines.join('\n')}\n${notes}`);
process.stdout.write(`wrote ${out}\n`);
