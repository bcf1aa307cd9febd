// Fuzzes a soft-label store entry: its manifest.json, features.json and shard files. A damaged
// entry is an InputError (readManifest), a reported problem (verifyEntry, listEntries) or a shard
// recomputed from the teacher (softLabelsFromStore), and no path in a manifest reaches outside the
// entry. See mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { InputError } from '../errors.js';
import { cachedTeacherFeatures } from '../teachers/cache.js';
import { listEntries, softLabelsFromStore, verifyEntry } from '../teachers/store.js';
import { MANIFEST_FILE, readManifest } from '../teachers/store_manifest.js';
import { fakeDataset, fakeTeacher } from '../teachers/store.test.util.js';
import {
  applyByteMutations,
  applyValueMutations,
  byteMutations,
  expectParsedOrInputError,
  fuzzOptions,
  valueMutations,
  type ByteMutation,
  type ValueMutation,
} from './mutate.test.util.js';

const base = mkdtempSync(join(tmpdir(), 'kdkit-fuzz-store-'));
const root = join(base, 'store');
// Beside the store: a manifest that escaped its entry would find it.
const outside = join(base, 'outside.npy');
const dataset = fakeDataset(10, 3);
const teacher = fakeTeacher({ classes: 3 });
const options = { root, shardSize: 4, topK: 2 };
const clean = await softLabelsFromStore(teacher, dataset, options);
await cachedTeacherFeatures({
  directory: clean.directory,
  taps: [{ name: 'dense_1', shape: [2] }],
  samples: 10,
  compute: () => ({ dense_1: new Float32Array(20).fill(0.5) }),
});
const entryFiles = new Map(readdirSync(clean.directory).map((name) => [name, readFileSync(join(clean.directory, name))]));
const shardNames = [...entryFiles.keys()].filter((name) => name.endsWith('.npy'));
writeFileSync(outside, entryFiles.get(shardNames[0])!);

/** Puts back the clean entry, then applies the damage. */
function damageEntry(
  manifestEdits: ValueMutation[] | ByteMutation[] | null,
  featureEdits: ValueMutation[] | null,
  shard: { index: number; edits: ByteMutation[] } | null,
): void {
  rmSync(clean.directory, { recursive: true, force: true });
  mkdirSync(clean.directory, { recursive: true });
  for (const [name, bytes] of entryFiles) writeFileSync(join(clean.directory, name), bytes);
  const rewrite = (name: string, edits: ValueMutation[] | ByteMutation[]) => {
    const bytes = entryFiles.get(name)!;
    const damaged =
      'target' in edits[0]
        ? JSON.stringify(applyValueMutations(JSON.parse(bytes.toString('utf8')), edits as ValueMutation[]))
        : applyByteMutations(bytes, edits as ByteMutation[]);
    writeFileSync(join(clean.directory, name), damaged);
  };
  if (manifestEdits) rewrite(MANIFEST_FILE, manifestEdits);
  if (featureEdits) rewrite('features.json', featureEdits);
  if (shard)
    writeFileSync(
      join(clean.directory, shardNames[shard.index % shardNames.length]),
      applyByteMutations(entryFiles.get(shardNames[shard.index % shardNames.length])!, shard.edits),
    );
}

const damage = fc.record({
  manifest: fc.option(fc.oneof(valueMutations, byteMutations([], 256)), { nil: null }),
  features: fc.option(valueMutations, { nil: null }),
  shard: fc.option(fc.record({ index: fc.nat(), edits: byteMutations([6, 8, 10], 256) }), { nil: null }),
});

test('readManifest, verifyEntry and listEntries: a damaged entry is an InputError or a reported problem', async (t) => {
  let inputs = 0;
  const manifestPath = join(clean.directory, MANIFEST_FILE);
  await fc.assert(
    fc.asyncProperty(damage, async ({ manifest, features, shard }) => {
      inputs++;
      damageEntry(manifest, features, shard);
      await expectParsedOrInputError(manifestPath, 4096, () => readManifest(clean.directory));
      const verified = await expectParsedOrInputError(manifestPath, 4096, () => verifyEntry(clean.directory));
      assert.ok(verified, 'verifyEntry threw');
      if (manifest || features || shard) assert.ok(verified.ok || verified.problems.every((problem) => problem.length > 0));
      const [entry] = (await expectParsedOrInputError(root, 4096, () => listEntries(root))) ?? [];
      assert.ok(entry && (entry.manifest !== null || entry.problem));
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`readManifest + verifyEntry + listEntries: ${inputs} inputs`);
  assert.ok(inputs >= 10_000);
});

test('softLabelsFromStore: a damaged entry is rebuilt from the teacher, giving the clean logits', async (t) => {
  let inputs = 0;
  await fc.assert(
    fc.asyncProperty(damage, async ({ manifest, features, shard }) => {
      inputs++;
      damageEntry(manifest, features, shard);
      const entry = await expectParsedOrInputError(root, 4096, () => softLabelsFromStore(teacher, dataset, options));
      assert.ok(entry, 'a damaged entry is recomputed, not refused');
      assert.deepEqual(entry.logits, clean.logits);
      assert.deepEqual(readdirSync(base).sort(), ['outside.npy', 'store']);
    }),
    fuzzOptions(1_000),
  );
  t.diagnostic(`softLabelsFromStore: ${inputs} inputs`);
});

test('file names in a manifest cannot point outside the entry', () => {
  const manifest = JSON.parse(entryFiles.get(MANIFEST_FILE)!.toString('utf8')) as { shards: { files: { logits: string } }[] };
  for (const escapingPath of ['../../outside.npy', '/etc/passwd', 'logits-00000.npy/../../../outside.npy']) {
    manifest.shards[0].files.logits = escapingPath;
    writeFileSync(join(clean.directory, MANIFEST_FILE), JSON.stringify(manifest));
    assert.throws(
      () => readManifest(clean.directory),
      (error: unknown) => error instanceof InputError && error.message.includes('shards.0.files.logits'),
    );
  }
  damageEntry(null, null, null);
  const features = { taps: { dense_1: { file: '../../outside.npy', shape: [10, 2], sha256: 'x' }, other: null } };
  writeFileSync(join(clean.directory, 'features.json'), JSON.stringify(features));
  assert.deepEqual(verifyEntry(clean.directory).problems.filter((problem) => problem.includes('bad record')).length, 2);
});
