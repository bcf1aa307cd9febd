// Fuzzes opening an ONNX teacher: damaged copies of the PyTorch-exported fixture go through
// openOnnxTeacher, which hands them to ONNX Runtime's C++ protobuf parser and graph checks. A
// crash there would end this test file's process, which node --test reports as a failure.
// See mutate.test.util.ts for the contract.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { openOnnxTeacher } from '../teachers/onnx.js';
import { imageField } from '../data/dataset.js';
import { applyByteMutations, byteMutations, expectParsedOrInputError, fuzzOptions } from './mutate.test.util.js';

const fixture = readFileSync(fileURLToPath(new URL('../../test/fixtures/torch-teacher.onnx', import.meta.url)));
const path = join(mkdtempSync(join(tmpdir(), 'kdkit-fuzz-onnx-')), 'teacher.onnx');

test('openOnnxTeacher: truncated, bit-flipped and spliced ONNX files open or are InputErrors', async (t) => {
  let inputs = 0;
  let opened = 0;
  await fc.assert(
    fc.asyncProperty(byteMutations([], 256), async (mutations) => {
      inputs++;
      const bytes = applyByteMutations(fixture, mutations);
      writeFileSync(path, bytes);
      const teacher = await expectParsedOrInputError(path, bytes.length, () =>
        openOnnxTeacher({
          path,
          preprocessing: { inputLayout: 'nchw' },
          inputs: [imageField([8, 8, 1])],
          numClasses: 10,
          source: 'fuzz.yaml: teacher.onnx',
        }),
      );
      if (teacher) {
        opened++;
        // A batch larger than the probe's: a model whose damage fixed its batch axis was refused when opened.
        assert.equal((await teacher.logits({ image: new Float32Array(3 * 64) }, 3)).length, 30);
        await teacher.dispose();
      }
    }),
    fuzzOptions(10_000),
  );
  t.diagnostic(`openOnnxTeacher: ${inputs} inputs, ${opened} of them still opened as a working teacher`);
  assert.ok(inputs >= 10_000);
});
