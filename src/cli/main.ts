/**
 * The kdkit command line. The only module that touches argv, stdout formatting and exit codes:
 * 0 success, 1 the run failed, 2 bad usage/config/input, 3 the deployment gate failed.
 */
import { Argument, Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { basename, join, resolve } from 'node:path';
import { InputError } from '../errors.js';
import { loadConfigFile } from '../config/load.js';
import { parseConfig } from '../config/parse.js';
import { formatConfig } from '../config/print.js';
import { demoConfig, type DemoDataset } from '../config/demo.js';
import { experimentSpec, MAX_SEED, type ExperimentConfig } from '../config/schema.js';
import { runExperiment, type RunEvent } from '../run/pipeline.js';
import { jsonlLogger, writeRunReports } from '../report/write.js';
import { comparisonRows, distillationGainPoints, formatTable, speedupSentence } from '../report/table.js';
import { progressReporter } from './progress.js';
import { DEFAULT_DASHBOARD_PORT, dashboardCommand, openDashboard, parsePort, serveUntilStopped } from './dashboard_command.js';
import { type Dashboard, LiveSource } from './dashboard_server.js';
import { keptEvents } from './kept_events.js';
import { evaluateCommand, type EvaluateCommandOptions } from './evaluate_command.js';
import { exportCommand, type ExportCommandOptions } from './export_command.js';
import { cacheBuildCommand, cacheListCommand, cacheRemoveCommand, cacheVerifyCommand } from './cache_command.js';
import { defaultRunDirectory } from './run_directory.js';
import { BENCH_SUITES, benchCommand, type BenchSuite } from './bench_command.js';
import { formatGate } from './gate_text.js';
import { describeHolder, lockDirectory, lockStaleMs } from '../util/lock.js';
import { claimRunDirectory, plannedEntries, RUN_LOCK, topLevelEntries } from '../run/directory.js';

export const EXIT = { ok: 0, failed: 1, badInput: 2, gateFailed: 3 } as const;

export { RUN_LOCK } from '../run/directory.js';

interface CommonOptions {
  out?: string;
  backend?: 'wasm' | 'cpu';
  seed?: number;
  dryRun?: boolean;
  resume?: boolean;
  retrainChanged?: boolean;
  force?: boolean;
  dashboard?: boolean;
  port?: number;
  host?: string;
}

export async function main(argv: string[]): Promise<number> {
  let exitCode: number = EXIT.ok;
  const program = new Command('kdkit')
    .description('Knowledge distillation for TypeScript and Node.js: distil a large teacher into a small student, evaluate it, export it.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  const common = (command: Command) =>
    command
      .option('--out <dir>', 'run directory for summary.json, report.md, student/, logs')
      .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu']))
      .option('--seed <n>', 'seed for initialization, splits, shuffling and dropout', parseSeed)
      .option('--dry-run', 'print the resolved config and exit without training')
      .option('--resume', "continue from the run directory's checkpoints: the stage in progress, then the stages still to come")
      .option(
        '--retrain-changed',
        'with --resume: train again each stage whose config, seed, data or teacher changed since its checkpoints (and the stages after it), instead of refusing',
      )
      .option(
        '--force',
        'write into a non-empty directory that is not a kdkit run directory, or over the default directory of another config',
      )
      .option('--dashboard', 'serve a live dashboard of the run (losses, validation accuracy, labelling, then the report) until Ctrl-C')
      .option('--port <n>', `the dashboard's port (0: any free port)`, parsePort, DEFAULT_DASHBOARD_PORT)
      .option('--host <address>', "the dashboard's address: this machine only unless you give another", '127.0.0.1');

  common(program.command('demo'))
    .description('run the whole pipeline on a bundled setup: teacher, soft labels, scratch baseline, distilled student, evaluation, export')
    .addOption(new Option('--dataset <name>', 'dataset').choices(['digits', 'fashion-mnist', 'banking77']).default('digits'))
    .option('--data <dir>', 'with --dataset fashion-mnist: directory holding its IDX files (default: /usr/share/datasets/fashion-mnist)')
    .option('--quick', 'a few-second smoke run of every step on digits')
    .action(async (options: CommonOptions & { dataset: DemoDataset; data?: string; quick?: boolean }) => {
      if (options.quick && options.dataset !== 'digits')
        throw new InputError(`--quick runs on digits only (a few seconds); drop --quick to run the ${options.dataset} demo`);
      if (options.data !== undefined && options.dataset !== 'fashion-mnist')
        throw new InputError('--data applies to --dataset fashion-mnist only (digits is embedded in kdkit)');
      const seed = options.seed ?? 1;
      const input = demoConfig(options.dataset, { seed, quick: Boolean(options.quick), dataPath: options.data });
      const config = parseConfig({ ...input, ...(options.backend ? { backend: options.backend } : {}) }, 'demo');
      const name = options.quick ? 'demo-quick' : `demo-${options.dataset}`;
      exitCode = await execute(config, 'demo', runDirectory(options.out, `runs/${name}-seed${seed}`), options);
    });

  common(program.command('run'))
    .description('run an experiment described by a YAML config')
    .argument('<config>', 'experiment config (YAML)')
    .option(
      '--store <dir>',
      "the soft-label store (the config's softLabels.store): share one across runs to label once, and, online, to run the teacher once on batches they share",
    )
    .action(async (configPath: string, options: CommonOptions & { store?: string }) => {
      const loaded = loadConfigFile(configPath);
      const config: ExperimentConfig = {
        ...loaded,
        ...(options.backend ? { backend: options.backend } : {}),
        ...(options.seed !== undefined ? { seed: options.seed } : {}),
        ...(options.store !== undefined ? { softLabels: { ...loaded.softLabels, store: options.store } } : {}),
      };
      const out = runDirectory(options.out, defaultRunDirectory(configPath, config.seed));
      exitCode = await execute(config, configPath, out, options);
    });

  program
    .command('eval')
    .description(
      "measure one model on a dataset's test split: accuracy, top-5, per-class F1, calibration, fidelity to a teacher, size, latency, memory",
    )
    .argument('<model>', 'a TensorFlow.js model (model.json or its directory) or an ONNX file (.onnx, run in ONNX Runtime)')
    .addOption(new Option('--dataset <name>', 'dataset whose test split to use').choices(['digits', 'fashion-mnist']).default('digits'))
    .option('--data <dir>', 'directory holding the Fashion-MNIST IDX files')
    .option('--config <file>', "use the test split of this experiment config's dataset (idx, npy, …) instead of --dataset")
    .option('--teacher <model>', 'a teacher model (TensorFlow.js or .onnx) for agreement and KL')
    .addOption(new Option('--layout <layout>', 'input layout of .onnx models').choices(['nhwc', 'nchw']).default('nhwc'))
    .option('--latency-batch <n>', 'the larger batch size latency and throughput are measured at', parsePositive, 256)
    .option('--json <file>', 'also write the figures as JSON')
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['wasm', 'cpu']))
    .action(async (model: string, options: EvaluateCommandOptions & { seed?: number }) => {
      await evaluateCommand(model, { ...options, seed: 1 }, (text) => process.stdout.write(text));
    });

  program
    .command('export')
    .description(
      'export a TensorFlow.js model: as TensorFlow.js with quantized weights, or as ONNX; the export is checked before it is written',
    )
    .argument('<model>', 'a TensorFlow.js layers model (model.json or its directory)')
    .addOption(new Option('--format <format>', 'output format').choices(['tfjs', 'onnx']).makeOptionMandatory())
    .requiredOption('--out <path>', 'output directory (tfjs) or file (onnx)')
    .addOption(new Option('--quantize <dtype>', 'weight storage').choices(['float16', 'uint8']))
    .addOption(
      new Option('--layout <layout>', 'ONNX input layout: nhwc (as TensorFlow.js) or nchw (as PyTorch)')
        .choices(['nhwc', 'nchw'])
        .default('nhwc'),
    )
    .addOption(
      new Option('--dataset <name>', "check the export's accuracy on this dataset's test split").choices(['digits', 'fashion-mnist']),
    )
    .option('--data <dir>', 'directory holding the Fashion-MNIST IDX files')
    .option('--config <file>', "check on the test split of this experiment config's dataset (idx, npy, …) instead of --dataset")
    .action(async (model: string, options: Omit<ExportCommandOptions, 'seed'>) => {
      const written = await exportCommand(model, { ...options, seed: 1 }, (text) => process.stdout.write(text));
      if (!written) exitCode = EXIT.failed;
    });

  program
    .command('bench')
    .description("time kdkit side by side with PyTorch in the same run (needs the repository's bench/ and /usr/bin/python3 with torch)")
    .addArgument(
      new Argument(
        '<suite>',
        Object.entries(BENCH_SUITES)
          .map(([name, { what }]) => `${name}: ${what}`)
          .join('; '),
      ).choices(Object.keys(BENCH_SUITES)),
    )
    .argument('[args...]', "passed to the suite's script (e.g. the data directory for stream)")
    .action(async (suite: BenchSuite, args: string[]) => {
      exitCode = await benchCommand(suite, args);
    });

  program
    .command('dashboard')
    .description('serve a dashboard of runs, finished or running, from their logs.jsonl: side by side, live, until Ctrl-C')
    .argument('<run-dirs...>', 'run directories (the --out of kdkit run)')
    .option('--port <n>', 'port (0: any free port)', parsePort, DEFAULT_DASHBOARD_PORT)
    .option('--host <address>', 'address to serve on: this machine only unless you give another', '127.0.0.1')
    .action(async (directories: string[], options: { port: number; host: string }) => {
      await dashboardCommand(directories, options, (text) => process.stdout.write(text));
    });

  const cache = program
    .command('cache')
    .description('the soft-label store: teacher logits kept between runs, as manifest.json plus .npy shards');
  const storeOption =
    'soft-label store directory (a run keeps its own in <run directory>/cache unless softLabels.store names a shared one)';
  cache
    .command('build')
    .description(
      "compute (or resume, or repair) the config's teacher's soft labels over its training split, where `kdkit run` will look for them; the teacher must already exist",
    )
    .argument('<config>', 'experiment config (YAML)')
    .option(
      '--store <dir>',
      "soft-label store directory (default: the config's softLabels.store, else the cache/ of the run directory `kdkit run CONFIG` would use)",
    )
    .action(async (configPath: string, options: { store?: string }) => {
      await cacheBuildCommand(configPath, options, (text) => process.stdout.write(text));
    });
  cache
    .command('ls')
    .description(
      'list entries: key, teacher, dataset, samples × classes, storage, shards complete/total, size on disk; then the groups of online outputs (key, teacher, taps, batches, size)',
    )
    .requiredOption('--store <dir>', storeOption)
    .action((options: { store: string }) => cacheListCommand(options, (text) => process.stdout.write(text)));
  cache
    .command('verify')
    .description('check every checksum of the given entries (default: all); exit 2 naming the bad shards')
    .argument('[keys...]', 'entry keys, as `kdkit cache ls` shows them')
    .requiredOption('--store <dir>', storeOption)
    .action((keys: string[], options: { store: string }) => cacheVerifyCommand(keys, options, (text) => process.stdout.write(text)));
  cache
    .command('rm')
    .description('remove entries, or groups of online outputs, from the store')
    .argument('[keys...]', 'entry or group keys, as `kdkit cache ls` shows them')
    .option('--all', 'remove every entry and group')
    .requiredOption('--store <dir>', storeOption)
    .action((keys: string[], options: { store: string; all?: boolean }) =>
      cacheRemoveCommand(keys, { ...options, lockStaleMs: lockStaleMs(process.env) }, (text) => process.stdout.write(text)),
    );

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    return reportError(error);
  }
}

/** --out as given, or the default when it is absent; an empty one (an unset shell variable) is refused. */
function runDirectory(out: string | undefined, fallback: string): { path: string; isDefault: boolean } {
  if (out === undefined) return { path: fallback, isDefault: true };
  if (out.trim() === '')
    throw new InputError(
      '--out is empty (an unset shell variable?); give the run directory, or leave --out out for the default under runs/',
    );
  return { path: out, isDefault: false };
}

async function execute(
  config: ExperimentConfig,
  source: string,
  out: { path: string; isDefault: boolean },
  {
    dryRun = false,
    resume = false,
    retrainChanged = false,
    force = false,
    dashboard: withDashboard = false,
    port = DEFAULT_DASHBOARD_PORT,
    host = '127.0.0.1',
  }: Pick<CommonOptions, 'dryRun' | 'resume' | 'retrainChanged' | 'force' | 'dashboard' | 'port' | 'host'>,
): Promise<number> {
  const outDir = resolve(out.path);
  if (retrainChanged && !resume)
    throw new InputError('--retrain-changed goes with --resume (without --resume every stage is trained again anyway)');
  if (dryRun) {
    process.stdout.write(`# kdkit would run this config, writing to ${outDir}\n${formatConfig(config)}`);
    return EXIT.ok;
  }
  const command = source === 'demo' ? 'kdkit demo' : `kdkit run ${source}`;
  // Taken before anything is written, inside the run directory so that nothing lands beside it. A
  // run rejected before it starts leaves no directory behind: release removes what the lock created.
  const lock = await lockDirectory(outDir, {
    what: 'run directory',
    lockPath: join(outDir, RUN_LOCK),
    staleMs: lockStaleMs(process.env),
    hint: 'wait for it to finish, or give another --out',
    command,
  });
  const stopOnSignal = (signal: NodeJS.Signals) => {
    // The checkpoints are complete files (written atomically); the lock goes with the process.
    process.stderr.write(
      `\nkdkit: interrupted (${signal}). Kept in ${outDir}: the checkpoints of every stage so far and the soft labels; continue with\n  ${resumeCommand()}\n`,
    );
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);
  let directory: ReturnType<typeof claimRunDirectory> | undefined;
  let finished = false;
  let live: LiveSource | undefined;
  let dashboard: Dashboard | undefined;
  try {
    directory = claimRunDirectory(outDir, {
      source: source === 'demo' ? 'demo' : resolve(source),
      planned: plannedEntries(config),
      force,
      defaultDirectory: out.isDefault,
    });
    const log = jsonlLogger(outDir);
    const show = progressReporter(process.stderr.isTTY ? process.stderr : process.stdout);
    if (withDashboard) {
      live = new LiveSource(basename(outDir), outDir);
      dashboard = await openDashboard([live], { port, host });
      process.stdout.write(`dashboard: ${dashboard.url}\n`);
    }
    // What logs.jsonl and the dashboard keep: not each step, and labelling at most every 1 % of the texts.
    const kept = keptEvents();
    // The run's first event in the log is its run-start, written with the first event the run
    // itself gives, so that a run rejected before it starts leaves no directory.
    let started = false;
    const record = (event: object) => {
      if (!started) {
        started = true;
        record({ type: 'run-start', command, outDir });
      }
      log(event);
      live?.push(event);
    };
    const onEvent = (event: RunEvent) => {
      // A run that lost its lock stops at its next event rather than write beside its successor.
      lock.check();
      show(event);
      if (kept(event)) record(event);
    };
    if (lock.tookOver) {
      const { holder, idleMs } = lock.tookOver;
      onEvent({
        type: 'info',
        message: `took over the lock on ${outDir} from ${describeHolder(holder)}, which had not refreshed it for ${(idleMs / 1000).toFixed(1)} s`,
      });
    }
    if (directory.sweptTemporaries.length > 0)
      onEvent({ type: 'info', message: `removed temporary files left by killed writers: ${directory.sweptTemporaries.join(', ')}` });
    const summary = await runExperiment(config, { outDir, source, onEvent, resume, retrainChanged });
    lock.check();
    await writeRunReports(outDir, summary);
    record({ type: 'run-end', gatePassed: summary.gate.passed });
    const stale = directory.finish(topLevelEntries(Object.values(summary.artifacts)));
    finished = true;
    if (stale.length > 0) onEvent({ type: 'info', message: `removed what an earlier run wrote and this one did not: ${stale.join(', ')}` });
    process.stdout.write(`\n${formatTable(comparisonRows(summary))}\n`);
    const gain = distillationGainPoints(summary);
    if (gain !== null)
      process.stdout.write(`\ndistillation vs scratch: ${gain >= 0 ? '+' : ''}${gain.toFixed(2)} points of test accuracy\n`);
    const speedup = speedupSentence(summary);
    if (speedup) process.stdout.write(`\n${speedup}\n`);
    process.stdout.write(`\n${formatGate(summary.gate)}\n`);
    process.stdout.write(
      `\nsummary: ${resolve(outDir, 'summary.json')}\nreport:  ${resolve(outDir, 'report.html')} and report.md\nstudent: ${resolve(outDir, 'student/model.json')}${summary.exports.onnx.length > 0 ? ` and ${resolve(outDir, summary.exports.onnx[0].path)}` : ''}\n`,
    );
    return summary.gate.passed ? EXIT.ok : EXIT.gateFailed;
  } finally {
    process.off('SIGINT', stopOnSignal);
    process.off('SIGTERM', stopOnSignal);
    if (!finished) directory?.abandon();
    await lock.release();
    if (dashboard) {
      // The run is over (finished or failed); its dashboard stays until Ctrl-C.
      if (!finished) live?.push({ type: 'info', message: 'the run stopped before it finished (see the terminal)' });
      process.stdout.write(`\ndashboard: still serving ${dashboard.url} (Ctrl-C to stop)\n`);
      await serveUntilStopped(dashboard);
    }
  }

  /** This command line with --resume (and the resolved --out), to continue where a stopped run left off. */
  function resumeCommand(): string {
    const args = process.argv.slice(2);
    const withOut = args.some((arg) => arg === '--out' || arg.startsWith('--out=')) ? args : [...args, '--out', outDir];
    const quoted = [...withOut, ...(withOut.includes('--resume') ? [] : ['--resume'])].map((arg) =>
      /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`,
    );
    return `kdkit ${quoted.join(' ')}`;
  }
}

function reportError(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander has already printed its message.
    return error.exitCode === 0 || error.code === 'commander.helpDisplayed' || error.code === 'commander.version' ? EXIT.ok : EXIT.badInput;
  }
  if (error instanceof InputError) {
    process.stderr.write(`kdkit: ${error.message}\n`);
    return EXIT.badInput;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`kdkit: run failed: ${message}\n`);
  if (process.env.KDKIT_DEBUG && error instanceof Error) process.stderr.write(`${error.stack}\n`);
  else process.stderr.write('(set KDKIT_DEBUG=1 for the stack trace)\n');
  return EXIT.failed;
}

function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0) throw new InvalidArgumentError('expected a positive integer');
  return number;
}

function parseSeed(value: string): number {
  // Checked by the config's own seed field, so that --seed and `seed:` take the same values.
  const seed = /^\d+$/.test(value) ? experimentSpec.shape.seed.safeParse(Number(value)) : null;
  if (!seed?.success) throw new InvalidArgumentError(`expected a non-negative integer up to ${MAX_SEED}`);
  return seed.data;
}
