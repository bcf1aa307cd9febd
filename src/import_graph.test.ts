import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Runs the repository's import-graph rules on a tree of `files` (path → source). */
function cruise(files: Record<string, string>): { status: number | null; output: string } {
  const directory = mkdtempSync(join(tmpdir(), 'kdkit-imports-'));
  try {
    cpSync(join(root, '.dependency-cruiser.cjs'), join(directory, '.dependency-cruiser.cjs'));
    cpSync(join(root, 'tsconfig.json'), join(directory, 'tsconfig.json'));
    for (const [path, source] of Object.entries(files)) {
      mkdirSync(dirname(join(directory, path)), { recursive: true });
      writeFileSync(join(directory, path), source);
    }
    const result = spawnSync(
      process.execPath,
      [join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs'), 'src', '--config', '.dependency-cruiser.cjs'],
      { cwd: directory, encoding: 'utf8' },
    );
    return { status: result.status, output: result.stdout + result.stderr };
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

test('the import-graph rules pass a downward import and fail an upward one, naming both files', () => {
  const fine = cruise({
    'src/run/pipeline.ts': "import { load } from '../data/load.js';\nexport const run = () => load();\n",
    'src/data/load.ts': 'export const load = () => 1;\n',
  });
  assert.equal(fine.status, 0, fine.output);
  const upward = cruise({
    'src/run/pipeline.ts': 'export const run = () => 1;\n',
    'src/data/load.ts': "import { run } from '../run/pipeline.js';\nexport const load = () => run();\n",
  });
  assert.notEqual(upward.status, 0);
  assert.match(upward.output, /data-imports-upward: src\/data\/load\.ts → src\/run\/pipeline\.ts/);
});

test('the import-graph rules fail a cycle, even of type-only imports within one folder', () => {
  const cycle = cruise({
    'src/train/trainer.ts': "import type { Checkpoint } from './checkpoint.js';\nexport interface Record { checkpoint?: Checkpoint }\n",
    'src/train/checkpoint.ts': "import type { Record } from './trainer.js';\nexport interface Checkpoint { history: Record[] }\n",
  });
  assert.notEqual(cycle.status, 0);
  assert.match(cycle.output, /no-cycles: src\/train\/checkpoint\.ts →\s+src\/train\/trainer\.ts →\s+src\/train\/checkpoint\.ts/);
});

test('the import-graph rules fail a source folder that has no place in the layer order', () => {
  const unknown = cruise({
    'src/plugins/extra.ts': "import { load } from '../data/load.js';\nexport const extra = load;\n",
    'src/data/load.ts': 'export const load = 1;\n',
  });
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.output, /no-unknown-folder: src\/plugins\/extra\.ts/);
});
